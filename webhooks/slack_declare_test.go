package webhooks

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

func declareSubmit(title, sev, description, lead string) string {
	cb := map[string]any{
		"type": "view_submission", "user": map[string]any{"id": "U0ALICE"},
		"view": map[string]any{"callback_id": bot.CallbackDeclare, "state": map[string]any{"values": map[string]any{
			"title":       map[string]any{"title": map[string]any{"type": "plain_text_input", "value": title}},
			"severity":    map[string]any{"severity": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": sev}}},
			"description": map[string]any{"description": map[string]any{"type": "plain_text_input", "value": description}},
			"lead":        map[string]any{"lead": map[string]any{"type": "users_select", "selected_user": lead}},
		}}},
	}
	b, _ := json.Marshal(cb)
	return url.Values{"payload": {string(b)}}.Encode()
}

func TestDeclareForm(t *testing.T) {
	views := &recordingViews{}
	e := newEnv(t, func(c *Config) { c.Views = views })
	if r := e.command("C0GENERAL", "declare"); !strings.Contains(r.Text, "Opening the form") {
		t.Fatalf("/incident declare: %+v", r)
	}
	shortcut, _ := json.Marshal(map[string]any{"type": "shortcut", "callback_id": bot.CallbackDeclare, "trigger_id": "9.9", "user": map[string]any{"id": "U0ALICE"}})
	e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", url.Values{"payload": {string(shortcut)}}.Encode(), e.now))
	if v, n := views.last(); n != 2 || v.CallbackID != bot.CallbackDeclare {
		t.Fatalf("the command and the shortcut opened %d forms, last %s", n, v.CallbackID)
	}
	post := func(form string) string {
		return e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now)).Body.String()
	}
	if body := post(declareSubmit("  ", "SEV2", "", "")); !strings.Contains(body, `"title":"declare needs a title"`) || len(e.incidents()) != 0 {
		t.Errorf("an empty title: %s, %d incidents", body, len(e.incidents()))
	}
	if body := post(declareSubmit("Card payments failing <!channel>", "SEV1", "EU cards declined since 14:02", "U0BOB")); body != "" {
		t.Fatalf("declare: %s", body)
	}
	inc := e.incident(1)
	if inc.Severity != bot.SEV1 || inc.Lead != "U0BOB" || inc.DeclaredBy != "U0ALICE" || inc.AcknowledgedAt != nil {
		t.Errorf("declared %+v", inc)
	}
	tl := e.timeline(1)
	if tl[len(tl)-1].Kind != bot.KindNote || tl[len(tl)-1].Text != "EU cards declined since 14:02" {
		t.Errorf("the description is not the first note: %+v", tl)
	}
}
