package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

// TestSilencedGroupResolvesWhenAlertmanagerSaysSo silences a group in the
// real Alertmanager, resolves its alert there while silenced (Alertmanager
// then sends the bot nothing), and unsilences: the bot asks Alertmanager,
// finds no alert of the group firing, twice 2 minutes apart, says so on
// the timeline and resolves the incident by the usual rule.
func TestSilencedGroupResolvesWhenAlertmanagerSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	slack := slacktesting.New()
	defer slack.Close()
	const token = "wh-token-quiet"
	am := startAlertmanager(t, "http://127.0.0.1:1", token)
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token,
		"INCIDENTBOT_LOG_FORMAT": "text", "SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret,
		"SLACK_API_URL": slack.APIURL(), "INCIDENTBOT_ALERTMANAGER_URL": am.URL,
	})
	am.retarget(b.URL)
	alert := memoryLeak("pg-1")
	alert.StartsAt = time.Now().Add(-time.Minute)
	am.push(t, alert)
	defer func() {
		if t.Failed() {
			var tl []entryJSON
			b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
			t.Logf("timeline:\n%s\nalertmanager sent:\n%s\nlogs:\n%s", dumpTimeline(tl), am.summary(), b.logs.String())
		}
	}()
	var channel string
	waitFor(t, 30*time.Second, "the incident channel", func() bool {
		var full map[string]any
		b.getJSON(t, "/api/v1/incidents/1", "", &full)
		channel, _ = full["slack_channel_id"].(string)
		return channel != ""
	})
	commandReply(t, b.URL, "U0ALICE", channel, "silence 1h")
	var inc struct {
		Status   string        `json:"status"`
		Silences []silenceJSON `json:"silences"`
	}
	waitFor(t, 20*time.Second, "the silence", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &inc)
		return len(inc.Silences) == 1
	})

	// The alert resolves while silenced: Alertmanager stays quiet.
	sent, _ := am.delivered()
	ended := time.Now()
	alert.EndsAt = &ended
	am.push(t, alert)
	time.Sleep(5 * time.Second) // two and a half group_intervals
	if now, _ := am.delivered(); len(now) != len(sent) {
		t.Logf("Alertmanager notified the silenced group after all (%d notifications, %d before)", len(now), len(sent))
	}
	b.getJSON(t, "/api/v1/incidents/1", "", &inc)
	if inc.Status == "resolved" {
		t.Fatalf("the incident resolved before the bot asked: Alertmanager did send the resolution\n%s", am.summary())
	}

	commandReply(t, b.URL, "U0BOB", channel, "unsilence")
	// The group counts as quiet after two empty answers 2 minutes apart.
	waitFor(t, 3*time.Minute, "the incident resolved after the checks", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &inc)
		return inc.Status == "resolved"
	})
	var tl []entryJSON
	b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
	found := false
	for _, e := range tl {
		if e.Actor == "incidentbot" && strings.Contains(e.Text, "reports no alert of the group firing") && strings.Contains(e.Text, am.URL) {
			found = true
		}
	}
	if !found {
		t.Errorf("no incidentbot entry saying Alertmanager reports the group quiet:\n%s", dumpTimeline(tl))
	}
	if c := countKinds(tl); c["resolved"] != 1 || c["alerts_cleared"] != 1 {
		t.Errorf("kinds %v: want one alerts_cleared and one resolved", c)
	}
}
