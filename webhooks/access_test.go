package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// fakeMembers is a channel's member list.
type fakeMembers map[string][]string

func (f fakeMembers) IsMember(_ context.Context, channel, user string) (bool, error) {
	if slices.Contains(f[channel], user) {
		return true, nil
	}
	return false, nil
}

func TestAccessMembers(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Access = Access{Act: ActMembers, Admins: []string{"U0ADMIN"}}
		c.Members = fakeMembers{testChannel: {"U0ALICE"}}
	})
	rc := newReplyCatcher(t, e)
	inc := e.openIncident()
	entries := func() int { tl, _ := e.svc.Timeline(context.Background(), inc.ID); return len(tl) }
	command := func(user, text string) Reply {
		w := e.serve(slackRequest("/slack/commands", "application/x-www-form-urlencoded", commandForm(user, testChannel, text), e.now))
		var r Reply
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &r) != nil {
			t.Fatalf("/incident %s: %d %s", text, w.Code, w.Body)
		}
		return r
	}

	before := entries()
	r := command("U0MALLORY", "resolve it was me")
	if r.ResponseType != Ephemeral || !strings.Contains(r.Text, "only members of the incident's channel") || entries() != before || !e.incident(inc.ID).Open() {
		t.Errorf("a non-member's resolve: %+v; %d entries (was %d); open %v", r, entries(), before, e.incident(inc.ID).Open())
	}
	if r := command("U0MALLORY", "timeline"); !strings.Contains(r.Text, "Timeline of INC-1") {
		t.Errorf("a non-member cannot read the timeline: %+v", r)
	}
	form := strings.Replace(interactionForm("block_actions", bot.ActionAck, "1", rc.srv.URL+"/r"), "U0BOB", "U0MALLORY", 1)
	e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now))
	if reply := rc.next(2 * time.Second); reply == nil || !strings.Contains(reply["text"].(string), "only members") || e.incident(inc.ID).AcknowledgedAt != nil {
		t.Errorf("a non-member's Acknowledge button: reply %v, acknowledged %v", reply, e.incident(inc.ID).AcknowledgedAt)
	}
	if r := command("U0ALICE", "note a member may"); !strings.Contains(r.Text, "noted on INC-1") {
		t.Errorf("a member's note: %+v", r)
	}
	if r := command("U0ADMIN", "sev 2"); !strings.Contains(r.Text, "severity of INC-1 to SEV2") {
		t.Errorf("an admin's sev: %+v", r)
	}
}

func TestButtonsStayInTheirChannel(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HeadlineChannel = "C0HEADLINES" })
	rc := newReplyCatcher(t, e)
	inc := e.openIncident()
	form := strings.Replace(interactionForm("block_actions", bot.ActionResolve, "1", rc.srv.URL+"/r"), testChannel, "C0ELSEWHERE", 1)
	e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now))
	if reply := rc.next(2 * time.Second); reply == nil || !strings.Contains(reply["text"].(string), "whose channel this is not") || !e.incident(inc.ID).Open() {
		t.Errorf("a Resolve button copied into another channel: reply %v, open %v", reply, e.incident(inc.ID).Open())
	}
	form = strings.Replace(interactionForm("block_actions", bot.ActionAck, "1", rc.srv.URL+"/r"), testChannel, "C0HEADLINES", 1)
	e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now))
	if reply := rc.next(200 * time.Millisecond); reply != nil || e.incident(inc.ID).AcknowledgedAt == nil {
		t.Errorf("the headline's Acknowledge: reply %v, acknowledged %v", reply, e.incident(inc.ID).AcknowledgedAt)
	}
}
