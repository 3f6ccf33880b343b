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

// TestReopenMovesToANewChannel: someone archived the channel of a
// resolved incident. Slack does not let a bot unarchive it (the fake
// answers as Slack does), so reopening moves the incident to a new
// channel, set up like the first, which links the archived one; the
// headline points at the new one, commands from it find the incident, and
// the timeline says why. The archived channel gets nothing.
func TestReopenMovesToANewChannel(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	ctx := context.Background()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	_, err := e.svc.Apply(ctx, id, bot.Action{Op: bot.OpResolve, Actor: "U100"})
	e.must(err)
	e.settle()
	first := e.incident(id)
	old, oldName := first.ChannelID, first.ChannelName
	e.slack.Archive(old)
	before := len(e.slack.Messages(old))
	_, err = e.svc.Apply(ctx, id, bot.Action{Op: bot.OpReopen, Actor: "U100"})
	e.must(err)
	e.settle()
	now := e.incident(id)
	if now.ChannelID == old || now.ChannelName != oldName+"-2" {
		t.Fatalf("after reopen: channel %s %q, the archived one was %s %q", now.ChannelID, now.ChannelName, old, oldName)
	}
	if n := len(e.slack.OK("conversations.unarchive")); n != 0 {
		t.Errorf("%d unarchive calls answered ok", n)
	}
	if n := len(e.slack.Messages(old)); n != before {
		t.Errorf("the archived channel got %d messages", n-before)
	}
	ch, _ := e.slack.Channel(now.ChannelID)
	msgs := e.slack.Messages(now.ChannelID)
	if len(msgs) < 2 || !strings.Contains(msgs[0].Blocks, bot.ActionResolve) || !msgs[0].Pinned ||
		!strings.Contains(msgs[1].Text, "<#"+old+">") || !strings.Contains(ch.Purpose, "incidentbot:") || len(ch.Members) < 2 {
		t.Errorf("the new channel: purpose %q, members %v, messages %+v", ch.Purpose, ch.Members, msgs)
	}
	head := e.slack.Messages(e.announce)
	if len(head) != 1 || !strings.Contains(head[0].Blocks, now.ChannelID) {
		t.Errorf("the headline does not point at the new channel: %+v", head)
	}
	if inc, _, err := e.svc.IncidentByRoom(ctx, slack.Adapter, now.ChannelID); err != nil || inc.ID != id {
		t.Errorf("the new channel's incident: %v, %v", inc, err)
	}
	want := "channel #" + now.ChannelName + " created for the reopened incident: #" + oldName + " was archived, and a bot cannot unarchive it"
	if got := e.entries(id, bot.KindChannelCreated); len(got) != 2 || got[1] != want {
		t.Errorf("channel_created entries: %q", got)
	}
	// Settled: another change refreshes the new channel, and moves nothing.
	_, err = e.svc.Apply(ctx, id, bot.Action{Op: bot.OpSeverity, Actor: "U100", Severity: bot.SEV2})
	e.must(err)
	e.settle()
	if got := e.incident(id); got.ChannelID != now.ChannelID || got.Chat.Moving {
		t.Errorf("after a later change: channel %s, moving %v", got.ChannelID, got.Chat.Moving)
	}
}
