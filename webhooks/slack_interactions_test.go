package webhooks

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// replyCatcher stands in for Slack's response_url endpoint.
type replyCatcher struct {
	srv     *httptest.Server
	replies chan map[string]any
}

func newReplyCatcher(t *testing.T, e *env) *replyCatcher {
	rc := &replyCatcher{replies: make(chan map[string]any, 16)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &m)
		rc.replies <- m
	}))
	t.Cleanup(rc.srv.Close)
	e.srv.replies.allow = func(*url.URL) bool { return true }
	return rc
}

// next returns the next reply, or nil when none comes soon.
func (rc *replyCatcher) next(wait time.Duration) map[string]any {
	select {
	case m := <-rc.replies:
		return m
	case <-time.After(wait):
		return nil
	}
}

func interactionForm(typ, actionID, value, responseURL string) string {
	cb := map[string]any{
		"type": typ, "user": map[string]any{"id": "U0BOB", "name": "bob"}, "response_url": responseURL,
		"channel": map[string]any{"id": testChannel}, "trigger_id": "1.2.3", "api_app_id": "A0APP",
		"actions": []any{map[string]any{"type": "button", "action_id": actionID, "block_id": "incident_actions", "value": value, "action_ts": "1718895600.1"}},
	}
	b, _ := json.Marshal(cb)
	return url.Values{"payload": {string(b)}}.Encode()
}

func TestSlackButtons(t *testing.T) {
	e := newEnv(t)
	rc := newReplyCatcher(t, e)
	e.openIncident()
	e.postChecklist(1, "memory-leak", 2)
	tests := []struct {
		name      string
		typ       string // "" means block_actions
		actionID  string
		value     string
		wantReply string // "" means no reply
		check     func(inc *bot.Incident) bool
	}{
		{name: "ack", actionID: bot.ActionAck, value: "1", check: func(i *bot.Incident) bool { return i.AcknowledgedBy == "U0BOB" }},
		{name: "ack again", actionID: bot.ActionAck, value: "1", wantReply: "INC-1 was already acknowledged by <@U0BOB>"},
		{name: "ack of a missing incident", actionID: bot.ActionAck, value: "99", wantReply: "not found"},
		{name: "ack with a bad value", actionID: bot.ActionAck, value: "one", wantReply: `value "one" is not an incident number`},
		{name: "runbook step", actionID: bot.ActionRunbookStep, value: bot.StepValue(1, "memory-leak", 2),
			check: func(i *bot.Incident) bool { return len(i.StepsDone) == 1 && i.StepsDone[0].Text == "Roll back" }},
		{name: "runbook step again", actionID: bot.ActionRunbookStep, value: "1:memory-leak:2", wantReply: "step 2 of memory-leak was already done"},
		{name: "runbook step bad value", actionID: bot.ActionRunbookStep, value: "1:x", wantReply: "want <incident>:<runbook>:<step>"},
		{name: "someone else's button", actionID: "open_dashboard", value: "x"},
		{name: "not block_actions", typ: "view_closed", actionID: bot.ActionResolve, value: "1", check: func(i *bot.Incident) bool { return i.Open() }},
		{name: "resolve", actionID: bot.ActionResolve, value: "1", check: func(i *bot.Incident) bool { return !i.Open() && i.ResolvedBy == "U0BOB" }},
		{name: "reopen", actionID: bot.ActionReopen, value: "1", check: func(i *bot.Incident) bool { return i.Open() && i.ResolvedAt == nil }},
		{name: "reopen while open", actionID: bot.ActionReopen, value: "1", wantReply: "INC-1 is not resolved"},
	}
	for _, tt := range tests {
		form := interactionForm(orDefault(tt.typ, "block_actions"), tt.actionID, tt.value, rc.srv.URL+"/actions/T1/2/xyz")
		w := e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now))
		if w.Code != http.StatusOK || w.Body.Len() != 0 {
			t.Errorf("%s: got %d %q, want 200 and no body", tt.name, w.Code, w.Body)
		}
		wait := 2 * time.Second
		if tt.wantReply == "" {
			wait = 50 * time.Millisecond
		}
		reply := rc.next(wait)
		switch {
		case tt.wantReply == "" && reply != nil:
			t.Errorf("%s: %s=%s: got reply %v, want none", tt.name, tt.actionID, tt.value, reply)
		case tt.wantReply != "" && (reply == nil || !strings.Contains(reply["text"].(string), tt.wantReply) ||
			reply["response_type"] != "ephemeral" || reply["replace_original"] != false):
			t.Errorf("%s: %s=%s:\ngot  reply %v\nwant ephemeral, not replacing, containing %q", tt.name, tt.actionID, tt.value, reply, tt.wantReply)
		}
		if tt.check != nil && !tt.check(e.incident(1)) {
			t.Errorf("%s: incident not changed as expected: %+v", tt.name, e.incident(1))
		}
	}
	if w := e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", "payload=%7Bnope", e.now)); w.Code != 400 {
		t.Errorf("broken payload: got %d, want 400", w.Code)
	}
}

func TestSlackButtonReplyOnlyToSlack(t *testing.T) {
	e := newEnv(t)
	e.openIncident()
	e.command(testChannel, "ack")
	form := interactionForm("block_actions", bot.ActionAck, "1", "http://169.254.169.254/latest/meta-data")
	if w := e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now)); w.Code != 200 {
		t.Fatalf("got %d", w.Code)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "response_url is not a Slack URL") || strings.Contains(logs, "meta-data") {
		t.Errorf("a reply to a non-Slack URL must be dropped and only its host logged:\n%s", logs)
	}
}

func TestResponderQueueFull(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	e.srv.replies.allow = func(*url.URL) bool { return true }
	for range replyWorkers + replyQueue + 5 {
		e.srv.replies.send(e.srv.log, slow.URL, "hello")
	}
	if !strings.Contains(e.logs.String(), "queue full") {
		t.Errorf("a full queue must drop with a log line")
	}
}

func eventBody(eventID, typ, reaction, itemType, channel string) string {
	b, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": "T0TEAM", "api_app_id": "A0APP", "type": "event_callback",
		"event_id": eventID, "event_time": 1718895600,
		"event": map[string]any{
			"type": typ, "user": "U0BOB", "reaction": reaction, "item_user": "U0CAROL", "event_ts": "1718895600.000200",
			"item": map[string]any{"type": itemType, "channel": channel, "ts": "1718895500.000100"},
		},
	})
	return string(b)
}

func TestSlackEvents(t *testing.T) {
	e := newEnv(t)
	e.openIncident()
	tests := []struct {
		name     string
		body     string
		retry    string
		want     int
		wantBody string
		pins     int // pin requests enqueued so far
	}{
		{name: "url_verification", body: `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`,
			want: 200, wantBody: `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`},
		{name: "pushpin", body: eventBody("Ev01", "reaction_added", "pushpin", "message", testChannel), want: 200, pins: 1},
		{name: "retry of it", body: eventBody("Ev01", "reaction_added", "pushpin", "message", testChannel), retry: "1", want: 200, pins: 1},
		{name: "second retry", body: eventBody("Ev01", "reaction_added", "pushpin", "message", testChannel), retry: "2", want: 200, pins: 1},
		{name: "another pin", body: eventBody("Ev02", "reaction_added", "pushpin", "message", testChannel), want: 200, pins: 2},
		{name: "other reaction", body: eventBody("Ev03", "reaction_added", "thumbsup", "message", testChannel), want: 200, pins: 2},
		{name: "pin on a file", body: eventBody("Ev04", "reaction_added", "pushpin", "file", testChannel), want: 200, pins: 2},
		{name: "pin elsewhere", body: eventBody("Ev05", "reaction_added", "pushpin", "message", "C0GENERAL"), want: 200, pins: 2},
		{name: "reaction removed", body: eventBody("Ev06", "reaction_removed", "pushpin", "message", testChannel), want: 200, pins: 2},
		{name: "unknown event type", body: eventBody("Ev07", "made_up_event", "", "", ""), want: 200, pins: 2},
		{name: "not JSON", body: "nope", want: 400, pins: 2},
	}
	for _, tt := range tests {
		req := slackRequest("/slack/events", "application/json", tt.body, e.now)
		if tt.retry != "" {
			req.Header.Set("X-Slack-Retry-Num", tt.retry)
			req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		w := e.serve(req)
		if w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantBody) {
			t.Errorf("%s: %.120s\ngot  %d %s\nwant %d %s", tt.name, tt.body, w.Code, w.Body, tt.want, tt.wantBody)
		}
		if got := pins(e); len(got) != tt.pins {
			t.Errorf("%s: %d pin requests, want %d: %+v", tt.name, len(got), tt.pins, got)
		}
	}
	if p := pins(e); len(p) > 0 && (p[0].Ref != "1718895500.000100" || p[0].Actor != "U0BOB" || p[0].IncidentID != 1) {
		t.Errorf("pin request: got %+v, want the message ts, U0BOB, incident 1", p[0])
	}
	e.store.fail.Store(true)
	w := e.serve(slackRequest("/slack/events", "application/json", eventBody("Ev09", "reaction_added", "pushpin", "message", testChannel), e.now))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("store down: got %d, want 503 so that Slack retries", w.Code)
	}
}

func pins(e *env) []bot.Delivery {
	var out []bot.Delivery
	for _, d := range e.pending() {
		if d.Kind == bot.DeliveryPin {
			out = append(out, d)
		}
	}
	return out
}
