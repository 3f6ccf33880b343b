package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
)

// recordingViews is a fake ViewOpener that keeps the modals opened.
type recordingViews struct {
	mu    sync.Mutex
	views []slack.ModalViewRequest
}

func (r *recordingViews) OpenView(_ context.Context, trigger string, v slack.ModalViewRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.views = append(r.views, v)
	return nil
}

func (r *recordingViews) last() (slack.ModalViewRequest, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.views) == 0 {
		return slack.ModalViewRequest{}, 0
	}
	return r.views[len(r.views)-1], len(r.views)
}

func menuForm(value string) string {
	cb := map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0BOB"}, "response_url": "https://hooks.slack.com/actions/T/1/x",
		"channel": map[string]any{"id": testChannel}, "trigger_id": "1.2.3",
		"actions": []any{map[string]any{"type": "overflow", "action_id": bot.ActionEntryMenu, "block_id": "b",
			"selected_option": map[string]any{"value": value, "text": map[string]any{"type": "plain_text", "text": "x"}}}},
	}
	b, _ := json.Marshal(cb)
	return url.Values{"payload": {string(b)}}.Encode()
}

func submitForm(meta, when, text string, struck bool) string {
	var selected []any
	if struck {
		selected = []any{map[string]any{"value": "struck", "text": map[string]any{"type": "plain_text", "text": "x"}}}
	}
	cb := map[string]any{
		"type": "view_submission", "user": map[string]any{"id": "U0BOB"},
		"view": map[string]any{"callback_id": bot.CallbackCorrect, "private_metadata": meta, "state": map[string]any{"values": map[string]any{
			"when":   map[string]any{"when": map[string]any{"type": "plain_text_input", "value": when}},
			"text":   map[string]any{"text": map[string]any{"type": "plain_text_input", "value": text}},
			"strike": map[string]any{"strike": map[string]any{"type": "checkboxes", "selected_options": selected}},
		}}},
	}
	b, _ := json.Marshal(cb)
	return url.Values{"payload": {string(b)}}.Encode()
}

func TestSlackCorrectionModal(t *testing.T) {
	views := &recordingViews{}
	e := newEnv(t, func(c *Config) { c.Views = views })
	inc := e.openIncident()
	if _, err := e.svc.Apply(context.Background(), inc.ID, bot.Action{Op: bot.OpNote, Actor: "U0ALICE", When: "14:10", Text: "teh deploy"}); err != nil {
		t.Fatal(err)
	}
	tl, _ := e.svc.Timeline(context.Background(), inc.ID)
	note := tl[len(tl)-1]
	post := func(form string) (int, string) {
		w := e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now))
		return w.Code, w.Body.String()
	}

	// The overflow's "Edit time or text" opens the modal, filled in.
	if code, body := post(menuForm(bot.EntryValue(inc.ID, note.ID, "edit"))); code != 200 || body != "" {
		t.Fatalf("menu: %d %q", code, body)
	}
	v, n := views.last()
	raw, _ := json.Marshal(v)
	if n != 1 || v.CallbackID != bot.CallbackCorrect || v.PrivateMetadata != bot.EntryValue(inc.ID, note.ID, "edit") ||
		!strings.Contains(string(raw), `"initial_value":"2024-06-20 14:10"`) || !strings.Contains(string(raw), `"initial_value":"teh deploy"`) {
		t.Fatalf("modal: %d opened, %s", n, raw)
	}
	meta := v.PrivateMetadata

	tests := []struct {
		name, when, text string
		struck           bool
		wantErr          string // a field error Slack shows in the modal
		check            func(e bot.TimelineEntry) bool
	}{
		{"fix the text", "2024-06-20 14:10", "the deploy", false, "", func(e bot.TimelineEntry) bool {
			return e.Text == "the deploy" && len(e.History) == 1 && e.History[0].By == "U0BOB"
		}},
		{"a time in the future stays in the modal", "2099-01-01 00:00", "the deploy", false, `"when":"2099-01-01 00:00 UTC is in the future`, nil},
		{"a time that is not one", "noonish", "the deploy", false, `"when":"time \"noonish\"`, nil},
		{"move it before detection", "2024-06-20 13:40", "the deploy", false, "", func(e bot.TimelineEntry) bool {
			return e.At.Equal(time.Date(2024, 6, 20, 13, 40, 0, 0, time.UTC))
		}},
		{"strike", "2024-06-20 13:40", "the deploy", true, "", func(e bot.TimelineEntry) bool { return e.Struck && len(e.History) == 3 }},
		{"nothing changed closes quietly", "2024-06-20 13:40", "the deploy", true, "", func(e bot.TimelineEntry) bool { return len(e.History) == 3 }},
	}
	for _, tt := range tests {
		code, body := post(submitForm(meta, tt.when, tt.text, tt.struck))
		switch {
		case code != http.StatusOK:
			t.Errorf("%s: HTTP %d %s", tt.name, code, body)
		case tt.wantErr == "" && body != "":
			t.Errorf("%s: got %s, want an empty 200 that closes the modal", tt.name, body)
		case tt.wantErr != "" && (!strings.Contains(body, `"response_action":"errors"`) || !strings.Contains(body, tt.wantErr)):
			t.Errorf("%s: got %s, want field errors containing %s", tt.name, body, tt.wantErr)
		}
		if tt.check != nil {
			_, got, _ := e.svc.Entry(context.Background(), inc.ID, note.ID)
			if !tt.check(got) {
				t.Errorf("%s: entry %+v", tt.name, got)
			}
		}
	}

	// "Strike" opens the modal with the box ticked; a menu of another
	// channel's incident or a forged value opens nothing.
	post(menuForm(bot.EntryValue(inc.ID, tl[0].ID, "strike")))
	if v, n := views.last(); n != 2 || !strings.Contains(mustJSON(v), `"initial_options"`) {
		t.Errorf("strike: %d modals, last %s", n, mustJSON(v))
	}
	for _, value := range []string{"1:x:edit", "1:9999:edit", "1:1:delete"} {
		post(menuForm(value))
	}
	if _, n := views.last(); n != 2 {
		t.Errorf("a bad menu value opened a modal (%d modals)", n)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
