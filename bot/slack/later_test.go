package slack_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack"
)

// TestLaterAlertBringsItsPeopleAndRunbook: an alert that joins an open
// incident later invites the responders its labels route to and posts the
// runbook it newly matches, once, however often the incident refreshes.
func TestLaterAlertBringsItsPeopleAndRunbook(t *testing.T) {
	e := newEnv(t, func(o *slack.Options) {
		o.RespondersFor = func(l map[string]string) []string {
			if l["tier"] == "db" {
				return []string{"U500"}
			}
			return nil
		}
	})
	e.start()
	id := e.fire("Latency", "checkout", 1)
	e.settle()
	inc := e.incident(id)
	if len(inc.Chat.Runbooks) != 0 {
		t.Fatalf("a runbook was posted for Latency: %+v", inc.Chat.Runbooks)
	}
	later := func() {
		now := e.clock.Now()
		note := &bot.Notification{Receiver: "team", GroupKey: "{}:{service=\"checkout\"}", Status: bot.AlertFiring,
			GroupLabels: map[string]string{"service": "checkout"}, ExternalURL: "http://am.example.com",
			Alerts: []bot.Alert{
				{Fingerprint: "80", Status: bot.AlertFiring, StartsAt: now.Add(-5 * time.Minute),
					Labels: map[string]string{"alertname": "Latency", "service": "checkout", "severity": "critical", "pod": "checkout-0"}},
				{Fingerprint: "db1", Status: bot.AlertFiring, StartsAt: now.Add(-time.Minute),
					Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "critical", "tier": "db"}},
			}}
		_, err := e.svc.Ingest(context.Background(), note)
		e.must(err)
	}
	later()
	e.settle()
	inc = e.incident(id)
	ch, _ := e.slack.Channel(inc.ChannelName)
	if !slices.Contains(ch.Members, "U500") {
		t.Errorf("the later alert's responder U500 was not invited: %v", ch.Members)
	}
	if _, ok := inc.Chat.Runbook("HighErrorRate"); !ok {
		t.Errorf("the runbook the later alert matches was not posted: %+v", inc.Chat.Runbooks)
	}
	invites, posts := len(e.slack.OK("conversations.invite")), len(e.entries(id, bot.KindRunbookPosted))
	// More changes refresh the incident again: nothing is posted or invited twice.
	_, err := e.svc.Apply(context.Background(), id, bot.Action{Op: bot.OpNote, Actor: "U100", Text: "still looking"})
	e.must(err)
	e.settle()
	if n, m := len(e.slack.OK("conversations.invite")), len(e.entries(id, bot.KindRunbookPosted)); n != invites || m != posts || m != 1 {
		t.Errorf("after another refresh: %d invites (was %d), %d runbook posts (was %d, want 1)", n, invites, m, posts)
	}
	if got := e.entries(id, bot.KindRespondersInvited); len(got) != 2 || got[1] != "responders invited: <@U500>" {
		t.Errorf("responders_invited entries: %q", got)
	}
}

// TestReopenUnarchives: someone archived the channel of a resolved
// incident; reopening it brings the channel back and refreshes it.
func TestReopenUnarchives(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	_, err := e.svc.Apply(context.Background(), id, bot.Action{Op: bot.OpResolve, Actor: "U100"})
	e.must(err)
	e.settle()
	ch := e.incident(id).ChannelID
	e.slack.Archive(ch)
	_, err = e.svc.Apply(context.Background(), id, bot.Action{Op: bot.OpReopen, Actor: "U100"})
	e.must(err)
	e.settle()
	c, _ := e.slack.Channel(e.incident(id).ChannelName)
	if c.Archived || len(e.slack.OK("conversations.unarchive")) != 1 {
		t.Fatalf("after reopen: archived %v, %d unarchive calls", c.Archived, len(e.slack.OK("conversations.unarchive")))
	}
	msgs := e.slack.Messages(ch)
	if !strings.Contains(msgs[0].Blocks, bot.ActionResolve) {
		t.Errorf("the incident message was not refreshed to show the open incident's buttons: %s", msgs[0].Blocks)
	}
}
