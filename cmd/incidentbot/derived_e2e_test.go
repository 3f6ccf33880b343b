package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

// TestNotificationURLsNotContactedByDefault posts a webhook whose
// externalURL and generatorURL name a host of the poster's choosing. With
// the default settings (no Alertmanager or Prometheus URL, no derived
// hosts) the bot must never contact it: not to draw the graph at open, not
// for graph.png, not for /incident silence.
func TestNotificationURLsNotContactedByDefault(t *testing.T) {
	var hits atomic.Int64
	chosen := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		t.Logf("contacted: %s %s", r.Method, r.URL)
	}))
	defer chosen.Close()
	slack := slacktesting.New()
	defer slack.Close()
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_LOG_FORMAT": "text",
		"SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": slack.APIURL(),
		"INCIDENTBOT_PROMETHEUS_URL": "", // the default, not the harness's off
	})
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "incidentbot", "groupKey": `{}:{alertname="MemoryLeak"}`,
		"groupLabels": map[string]string{"alertname": "MemoryLeak"}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": chosen.URL,
		"alerts": []map[string]any{{"status": "firing", "labels": map[string]string{"alertname": "MemoryLeak", "severity": "critical"},
			"annotations": map[string]string{}, "startsAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
			"generatorURL": chosen.URL + "/graph?g0.expr=up&g0.tab=1", "fingerprint": "f1"}},
	})
	res, err := http.Post(b.URL+"/webhooks/alertmanager", "application/json", bytes.NewReader(body))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", res, err)
	}
	res.Body.Close()
	var channel string
	waitFor(t, 30*time.Second, "the incident channel", func() bool {
		var full map[string]any
		b.getJSON(t, "/api/v1/incidents/1", "", &full)
		channel, _ = full["slack_channel_id"].(string)
		return channel != "" && len(slack.Messages(channel)) >= 1
	})
	g, err := http.Get(b.URL + "/api/v1/incidents/1/graph.png")
	if err != nil {
		t.Fatal(err)
	}
	g.Body.Close()
	if g.StatusCode == 200 {
		t.Errorf("graph.png answered 200 with no Prometheus allowed")
	}
	typ, text := commandReply(t, b.URL, "U0ALICE", channel, "silence 30m")
	if typ != "ephemeral" || !strings.Contains(text, "not set up") {
		t.Errorf("silence answered %s %q, want an ephemeral refusal saying silences are not set up", typ, text)
	}
	time.Sleep(time.Second) // let any background work that would call out run
	if n := hits.Load(); n != 0 {
		t.Errorf("the host a webhook named was contacted %d times", n)
	}
	if !strings.Contains(b.logs.String(), "INCIDENTBOT_DERIVED_HOSTS") {
		t.Errorf("the start-up log does not say how to turn graphs and silences on:\n%s", b.logs.String())
	}
}
