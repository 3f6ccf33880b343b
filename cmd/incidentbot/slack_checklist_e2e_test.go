package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

// TestRunbookChecklistThroughSlack fires a HighMemoryUsage alert through
// the real Alertmanager and works the memory-leak checklist as responders
// would: the checklist lands in the thread of the incident message with
// the alert's namespace and container filled in, a short note in the
// channel says which runbook matched and why, and ticking, undoing and
// skipping steps edits that one message, posting nothing per tick, while
// buttons for steps or runbooks the incident does not have change nothing.
func TestRunbookChecklistThroughSlack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	slack := slacktesting.New()
	defer slack.Close()
	const token = "wh-token-checklist"
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token,
		"INCIDENTBOT_LOG_FORMAT": "text", "SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret,
		"SLACK_API_URL": slack.APIURL(),
	})
	am := startAlertmanager(t, b.URL, token)
	am.push(t, amAlert{
		Labels: map[string]string{"alertname": "HighMemoryUsage", "severity": "warning", "namespace": "payments",
			"pod": "payment-gateway-7d9f8b6c5-x2x9k", "container": "payment-gateway", "service": "payment-gateway"},
		Annotations: map[string]string{"summary": "payment-gateway uses 93% of its memory limit"},
		StartsAt:    start,
	})

	var channel string
	var incidentTS string
	waitFor(t, 30*time.Second, "the incident message, the checklist and its note", func() bool {
		var full map[string]any
		b.getJSON(t, "/api/v1/incidents/1", "", &full)
		channel, _ = full["slack_channel_id"].(string)
		return channel != "" && anyMessage(slack.Messages(channel), "Runbook `memory-leak` is in the thread")
	})
	msgs := slack.Messages(channel)
	incidentTS = msgs[0].TS
	checklist, ok := onlyChecklist(t, msgs)
	if !ok {
		return
	}
	if checklist.ThreadTS != incidentTS {
		t.Errorf("checklist thread %q, want a reply to the incident message %q", checklist.ThreadTS, incidentTS)
	}
	for _, want := range []string{`kubectl -n \"payments\" rollout restart deploy/\"payment-gateway\"\nkubectl -n \"payments\" rollout status`,
		"0/12 done", "`$NS` = `payments`"} {
		if !strings.Contains(checklist.Blocks, want) {
			t.Errorf("checklist lacks %q:\n%s", want, checklist.Blocks)
		}
	}
	var note slacktesting.Message
	for _, m := range msgs {
		if strings.Contains(m.Text, "is in the thread") {
			note = m
		}
	}
	if note.ThreadTS != "" || !strings.Contains(note.Text, "matched: `alert HighMemoryUsage matches {alertname=~") {
		t.Errorf("note %+v, want a channel message naming the alert and the matcher", note)
	}
	before := len(msgs)

	click(t, b.URL, "U0ANNA", channel, "runbook_step", "1:memory-leak:1")
	click(t, b.URL, "U0BEN", channel, "runbook_step", "1:memory-leak:2")
	click(t, b.URL, "U0ANNA", channel, "runbook_undo", "1:memory-leak:1")
	click(t, b.URL, "U0BEN", channel, "runbook_skip", "1:memory-leak:6")
	click(t, b.URL, "U0ANNA", channel, "runbook_step", "1:memory-leak:3")
	// Buttons no checklist of this incident has: refused, nothing changes.
	click(t, b.URL, "U0EVE", channel, "runbook_step", "1:memory-leak:99999")
	click(t, b.URL, "U0EVE", channel, "runbook_step", "1:high-latency:1")
	click(t, b.URL, "U0EVE", channel, "runbook_skip", "1:no-such-runbook:1")

	waitFor(t, 15*time.Second, "the checklist showing 3/12 done", func() bool {
		m, ok := onlyChecklist(t, slack.Messages(channel))
		return ok && strings.Contains(m.Blocks, "3/12 done") && strings.Contains(m.Blocks, "1 skipped")
	})
	waitFor(t, 15*time.Second, "an empty outbox", func() bool { return scrapeSeries(t, b.URL)["incidentbot_outbox_depth"] == 0 })
	msgs = slack.Messages(channel)
	checklist, _ = onlyChecklist(t, msgs)
	if len(msgs) != before {
		var extra []string
		for _, m := range msgs[before:] {
			extra = append(extra, m.Text)
		}
		t.Errorf("%d messages after ticking, want the %d there were (no post per tick): %q", len(msgs), before, extra)
	}
	if checklist.Edits < 1 {
		t.Errorf("the checklist was not edited in place")
	}
	shown := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(checklist.Blocks)
	for _, want := range []string{"done by <@U0BEN>", "skipped as not applicable by <@U0BEN>", "done by <@U0ANNA>", `"runbook_undo","value":"1:memory-leak:2"`} {
		if !strings.Contains(shown, want) {
			t.Errorf("checklist lacks %q", want)
		}
	}
	if strings.Contains(checklist.Blocks, `"runbook_undo","value":"1:memory-leak:1"`) {
		t.Errorf("step 1 still shows as marked after Undo")
	}
	var tl []entryJSON
	b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
	var ticks []string
	for _, e := range tl {
		if e.Kind == "runbook_step" {
			ticks = append(ticks, e.Actor+" "+e.Text)
		}
	}
	want := []string{
		"U0ANNA memory-leak step 1 done: Rule out traffic in two minutes: compare the request rate with the same time last week.",
		"U0BEN memory-leak step 2 done: Confirm memory is climbing toward the limit and pods are being OOM-killed.",
		"U0ANNA memory-leak step 1 undone (was done by <@U0ANNA>): Rule out traffic in two minutes: compare the request rate with the same time last week.",
		"U0BEN memory-leak step 6 skipped (not applicable): Not Go? Take the same two snapshots with your runtime's tools and compare them.",
		"U0ANNA memory-leak step 3 done: Measure the growth rate and work out the time left before the next OOM kill.",
	}
	if strings.Join(ticks, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline ticks:\n got %q\nwant %q", ticks, want)
	}
}

// onlyChecklist returns the one message with checklist buttons, failing
// the test when there are several.
func onlyChecklist(t *testing.T, msgs []slacktesting.Message) (slacktesting.Message, bool) {
	t.Helper()
	var found []slacktesting.Message
	for _, m := range msgs {
		if strings.Contains(m.Blocks, `"runbook_step"`) || strings.Contains(m.Blocks, `"runbook_undo"`) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Errorf("%d checklist messages, want exactly one", len(found))
		return slacktesting.Message{}, false
	}
	return found[0], true
}
