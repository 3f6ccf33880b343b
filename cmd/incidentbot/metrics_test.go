package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

func TestWebhookOutcome(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		res    bot.IngestResult
		want   string
	}{
		{"opened", 200, bot.IngestResult{Incident: 1, Opened: true, Changes: 3}, "accepted"},
		{"updated", 200, bot.IngestResult{Incident: 1, Changes: 1}, "accepted"},
		{"repeat", 200, bot.IngestResult{Incident: 1}, "duplicate"},
		{"repeat of a resolved group", 200, bot.IngestResult{Incident: 1, Ignored: "duplicate"}, "duplicate"},
		{"nothing may open", 200, bot.IngestResult{Ignored: "no new firing alert may open an incident"}, "ignored"},
		{"bad token", 401, bot.IngestResult{}, "rejected"},
		{"bad body", 400, bot.IngestResult{}, "rejected"},
		{"too large", 413, bot.IngestResult{}, "rejected"},
		{"not JSON", 415, bot.IngestResult{}, "rejected"},
		{"store down", 503, bot.IngestResult{}, "unavailable"},
		{"panic", 500, bot.IngestResult{}, "unavailable"},
	} {
		if got := webhookOutcome(tc.status, tc.res); got != tc.want {
			t.Errorf("%s: webhookOutcome(%d, %+v) = %q, want %q", tc.name, tc.status, tc.res, got, tc.want)
		}
	}
}

// TestMetricsEndpoint sends Alertmanager what it may send, good and bad,
// and reads the outcome back at /metrics, as Prometheus would.
func TestMetricsEndpoint(t *testing.T) {
	const token = "wh-metrics-token"
	b := startBot(t, map[string]string{"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"),
		"INCIDENTBOT_WEBHOOK_TOKEN": token})
	before := scrapeSeries(t, b.URL)
	for _, o := range webhookOutcomes {
		if v, ok := before[`incidentbot_webhooks_total{outcome="`+o+`"}`]; !ok || v != 0 {
			t.Errorf("at start, outcome %s is %v (present %v), want 0: the rules need every outcome from the start", o, v, ok)
		}
	}

	firing := readWebhookTestdata(t, "firing.json")
	good := "Bearer " + token
	for _, r := range []struct {
		body        []byte
		contentType string
		auth        string
		want        int
	}{
		{firing, "application/json", "Bearer not-the-token", 401},
		{firing, "text/plain", good, 415},
		{[]byte("{"), "application/json", good, 400},
		{firing, "application/json", good, 200},
		{firing, "application/json", good, 200},
	} {
		if got := sendWebhook(t, b.URL, r.body, r.contentType, r.auth); got != r.want {
			t.Fatalf("webhook (%s, %q): got %d, want %d", r.contentType, r.auth, got, r.want)
		}
	}

	m := scrapeSeries(t, b.URL)
	for series, want := range map[string]float64{
		`incidentbot_webhooks_total{outcome="rejected"}`:    3,
		`incidentbot_webhooks_total{outcome="accepted"}`:    1,
		`incidentbot_webhooks_total{outcome="duplicate"}`:   1,
		`incidentbot_webhooks_total{outcome="ignored"}`:     0,
		`incidentbot_webhooks_total{outcome="unavailable"}`: 0,
		`incidentbot_alerts_received_total`:                 6, // firing.json has 3, twice
		`incidentbot_duplicate_notifications_total`:         1,
		`incidentbot_incidents_opened_total`:                1,
		`incidentbot_incidents_open`:                        1,
		`incidentbot_outbox_depth`:                          0, // Slack is off: nothing is enqueued
		`incidentbot_outbox_oldest_age_seconds`:             0,
		`incidentbot_slack_rate_limited_total`:              0,
		`incidentbot_webhook_to_channel_seconds_count`:      0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if n := m["incidentbot_store_commit_seconds_count"]; n < 1 {
		t.Errorf("incidentbot_store_commit_seconds_count = %v, want the commit of the stored notification", n)
	}
	for _, series := range []string{"incidentbot_store_queue_depth", "go_goroutines", "process_start_time_seconds"} {
		if _, ok := m[series]; !ok {
			t.Errorf("%s is missing", series)
		}
	}
}

// TestSlackMetrics has Slack rate limit the channel creation once and
// checks the calls, the rate limit, the outbox and the time to channel.
func TestSlackMetrics(t *testing.T) {
	slack := slacktesting.New()
	defer slack.Close()
	slack.Fail("conversations.create", 1, slacktesting.RateLimited(2*time.Second))
	b := startBot(t, map[string]string{"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"),
		"SLACK_BOT_TOKEN": "xoxb-metrics", "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": slack.APIURL()})
	if got := sendWebhook(t, b.URL, readWebhookTestdata(t, "firing.json"), "application/json", ""); got != 200 {
		t.Fatalf("webhook: got %d, want 200", got)
	}
	// Slack holds the channel back for 2 s: the outbox has work.
	if m := scrapeSeries(t, b.URL); m["incidentbot_outbox_depth"] < 1 {
		t.Errorf("while rate limited, incidentbot_outbox_depth = %v, want at least 1", m["incidentbot_outbox_depth"])
	}
	var m map[string]float64
	waitFor(t, 20*time.Second, "the channel, and an empty outbox", func() bool {
		m = scrapeSeries(t, b.URL)
		return m["incidentbot_webhook_to_channel_seconds_count"] == 1 && m["incidentbot_outbox_depth"] == 0
	})
	for series, want := range map[string]float64{
		`incidentbot_slack_calls_total{method="conversations.create",outcome="rate_limited"}`: 1,
		`incidentbot_slack_calls_total{method="conversations.create",outcome="ok"}`:           1,
		`incidentbot_slack_call_seconds_count{method="conversations.create"}`:                 2,
		`incidentbot_slack_rate_limited_total`:                                                1,
		`incidentbot_outbox_oldest_age_seconds`:                                               0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if got := m[`incidentbot_slack_calls_total{method="chat.postMessage",outcome="ok"}`]; got < 1 {
		t.Errorf("chat.postMessage ok = %v, want the incident message posted", got)
	}
	if sum := m["incidentbot_webhook_to_channel_seconds_sum"]; sum < 2 {
		t.Errorf("incidentbot_webhook_to_channel_seconds_sum = %v, want at least the 2 s Slack asked to wait", sum)
	}
}

// sendWebhook posts body to /webhooks/alertmanager and returns the status.
func sendWebhook(t *testing.T, base string, body []byte, contentType, auth string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/webhooks/alertmanager", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /webhooks/alertmanager: %v", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// scrapeSeries reads /metrics in the text format and returns each sample
// by its series as written: name{label="value",...}, labels in name order.
func scrapeSeries(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, body)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("/metrics line %q does not end in a value", line)
		}
		out[line[:i]] = v
	}
	return out
}

func readWebhookTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "webhooks", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
