package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
)

// eventsAPIEvent parses an Events API body as the socketmode client does
// before it emits the event.
func eventsAPIEvent(t *testing.T, body string) slackevents.EventsAPIEvent {
	t.Helper()
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestSocketModeRouting(t *testing.T) {
	e := newEnv(t)
	e.openIncident()
	envelope := func(id string) *socketmode.Request { return &socketmode.Request{EnvelopeID: id} }
	ack := slack.InteractionCallback{Type: slack.InteractionTypeBlockActions, User: slack.User{ID: "U0BOB"},
		ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: bot.ActionAck, Value: "1"}}}}
	pin := eventsAPIEvent(t, eventBody("Ev01", "reaction_added", "pushpin", "message", testChannel))
	tests := []struct {
		name      string
		ev        socketmode.Event
		fail      bool // the store is down
		wantAck   bool
		wantReply string // part of the Reply payload, "" for none
		check     func() bool
	}{
		{name: "slash command", ev: socketmode.Event{Type: socketmode.EventTypeSlashCommand, Request: envelope("e1"),
			Data: slack.SlashCommand{Command: "/incident", Text: "help", UserID: testUser, ChannelID: testChannel}},
			wantAck: true, wantReply: "/incident declare"},
		{name: "slash command changes", ev: socketmode.Event{Type: socketmode.EventTypeSlashCommand, Request: envelope("e2"),
			Data: slack.SlashCommand{Command: "/incident", Text: "note from socket mode", UserID: testUser, ChannelID: testChannel}},
			wantAck: true, wantReply: "noted on INC-1: from socket mode"},
		{name: "button", ev: socketmode.Event{Type: socketmode.EventTypeInteractive, Request: envelope("e3"), Data: ack},
			wantAck: true, check: func() bool { return e.incident(1).AcknowledgedBy == "U0BOB" }},
		{name: "pushpin", ev: socketmode.Event{Type: socketmode.EventTypeEventsAPI, Request: envelope("e4"), Data: pin},
			wantAck: true, check: func() bool { return len(pins(e)) == 1 }},
		{name: "pushpin redelivered", ev: socketmode.Event{Type: socketmode.EventTypeEventsAPI, Request: envelope("e5"), Data: pin},
			wantAck: true, check: func() bool { return len(pins(e)) == 1 }},
		{name: "event with the store down", fail: true, ev: socketmode.Event{Type: socketmode.EventTypeEventsAPI, Request: envelope("e6"),
			Data: eventsAPIEvent(t, eventBody("Ev02", "reaction_added", "pushpin", "message", testChannel))}, wantAck: false},
		{name: "command with the store down", fail: true, ev: socketmode.Event{Type: socketmode.EventTypeSlashCommand, Request: envelope("e7"),
			Data: slack.SlashCommand{Text: "ack", UserID: testUser, ChannelID: testChannel}}, wantAck: true, wantReply: "could not save, try again"},
		{name: "connecting", ev: socketmode.Event{Type: socketmode.EventTypeConnecting}, wantAck: false},
		{name: "hello", ev: socketmode.Event{Type: socketmode.EventTypeHello, Request: &socketmode.Request{Type: "hello"}}, wantAck: false},
		{name: "connection error", ev: socketmode.Event{Type: socketmode.EventTypeConnectionError, Data: errors.New("reset")}, wantAck: false},
		{name: "wrong data", ev: socketmode.Event{Type: socketmode.EventTypeSlashCommand, Request: envelope("e8"), Data: 42}, wantAck: true},
	}
	for _, tt := range tests {
		e.store.fail.Store(tt.fail)
		payload, gotAck := e.srv.socketEvent(context.Background(), tt.ev)
		e.store.fail.Store(false)
		reply, _ := payload.(Reply)
		if gotAck != tt.wantAck || !strings.Contains(reply.Text, tt.wantReply) || (tt.wantReply == "") != (payload == nil) {
			t.Errorf("%s: %s\ngot  ack %v payload %+v\nwant ack %v reply containing %q", tt.name, tt.ev.Type, gotAck, payload, tt.wantAck, tt.wantReply)
		}
		if tt.check != nil && !tt.check() {
			t.Errorf("%s: not handled as expected", tt.name)
		}
	}
}

func TestRunSocketModeNeedsAppToken(t *testing.T) {
	e := newEnv(t)
	err := RunSocketMode(context.Background(), "xoxb-not-an-app-token", slack.New("xoxb-1"), e.srv)
	if err == nil || strings.Contains(err.Error(), "xoxb-not") {
		t.Errorf("got %v, want a refusal that does not repeat the token", err)
	}
}

func TestRunSocketModeStopsWithContext(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// With the context already done, nothing is dialled and it returns nil.
	api := slack.New("xoxb-1", slack.OptionAPIURL("http://127.0.0.1:1/api/"))
	if err := RunSocketMode(ctx, "xapp-1-test", api, e.srv); err != nil {
		t.Errorf("got %v, want nil when ctx is done", err)
	}
}
