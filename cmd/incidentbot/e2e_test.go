package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var capture = flag.String("capture", "", "write the webhook payloads the real Alertmanager sends into this directory")

// incidentJSON is the part of the API's incident the tests read.
type incidentJSON struct {
	ID         int64   `json:"id"`
	Title      string  `json:"title"`
	Severity   string  `json:"severity"`
	Status     string  `json:"status"`
	Receiver   string  `json:"receiver"`
	GroupKey   string  `json:"group_key"`
	DetectedAt string  `json:"detected_at"`
	ResolvedAt *string `json:"resolved_at"`
	Alerts     []struct {
		Fingerprint string            `json:"fingerprint"`
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		EndsAt      *string           `json:"ends_at"`
	} `json:"alerts"`
}

type entryJSON struct {
	ID    uint64 `json:"id"`
	At    string `json:"at"`
	Kind  string `json:"kind"`
	Actor string `json:"actor"`
	Text  string `json:"text"`
}

var start = time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)

func memoryLeak(instance string) amAlert {
	return amAlert{
		Labels:       map[string]string{"alertname": "MemoryLeak", "service": "payment-gateway", "severity": "critical", "instance": instance},
		Annotations:  map[string]string{"summary": "payment-gateway memory grows 40 MB/min on " + instance, "runbook_url": "https://runbooks.example/memory-leak"},
		StartsAt:     start,
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=deriv%28process_resident_memory_bytes%5B30m%5D%29+%3E+0",
	}
}

// TestAlertmanagerEndToEnd drives the real Alertmanager into the service:
// one incident per group, updates and resolutions on the timeline with the
// alerts' own times, every delivery answered 200, and a restart that keeps
// everything.
func TestAlertmanagerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	const token, apiToken = "wh-token-e2e", "api-token-e2e"
	db := filepath.Join(t.TempDir(), "incidentbot.db")
	env := map[string]string{"INCIDENTBOT_DB": db, "INCIDENTBOT_WEBHOOK_TOKEN": token, "INCIDENTBOT_API_TOKEN": apiToken, "INCIDENTBOT_LOG_FORMAT": "text"}
	bot := startBot(t, env)
	am := startAlertmanager(t, bot.URL, token)

	checkout := amAlert{Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "warning"}, StartsAt: start.Add(3 * time.Minute)}
	am.push(t, memoryLeak("pg-1"), memoryLeak("pg-2"), checkout)

	var list []incidentJSON
	waitFor(t, 20*time.Second, "two incidents", func() bool {
		bot.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &list)
		return len(list) == 2 && len(byTitle(list, "MemoryLeak on payment-gateway").Alerts) == 2
	})
	leak := byTitle(list, "MemoryLeak on payment-gateway")
	if leak.Severity != "SEV1" || leak.DetectedAt != "2024-06-20T14:00:00Z" || leak.Receiver != "team.ops" || leak.Status != "investigating" {
		t.Errorf("memory-leak incident = %+v; want SEV1 detected 14:00 from receiver team.ops (unescaped), investigating", leak)
	}
	if other := byTitle(list, "HighErrorRate on checkout"); other.Severity != "SEV3" || other.GroupKey == leak.GroupKey {
		t.Errorf("checkout incident = %+v; want SEV3 in its own group", other)
	}

	// A third instance joins the group; the same alerts again change nothing.
	am.push(t, memoryLeak("pg-1"), memoryLeak("pg-2"), memoryLeak("pg-3"), checkout)
	waitFor(t, 20*time.Second, "the third alert", func() bool {
		bot.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &list)
		return len(list) == 2 && len(byTitle(list, "MemoryLeak on payment-gateway").Alerts) == 3
	})

	// Resolve the leak's alerts at 16:30, in the past as Prometheus would.
	end := start.Add(150 * time.Minute)
	var resolved []amAlert
	for _, i := range []string{"pg-1", "pg-2", "pg-3"} {
		a := memoryLeak(i)
		a.EndsAt = &end
		resolved = append(resolved, a)
	}
	am.push(t, resolved...)
	var inc incidentJSON
	defer func() {
		if t.Failed() {
			t.Logf("alertmanager sent:\n%s", am.summary())
		}
	}()
	waitFor(t, 20*time.Second, "the leak incident to resolve", func() bool {
		bot.getJSON(t, fmt.Sprintf("/api/v1/incidents/%d", leak.ID), apiToken, &inc)
		return inc.Status == "resolved"
	})
	if inc.ResolvedAt == nil || *inc.ResolvedAt != "2024-06-20T16:30:00Z" {
		t.Errorf("resolved_at = %v, want 2024-06-20T16:30:00Z (the alerts' endsAt)", inc.ResolvedAt)
	}
	var tl []entryJSON
	bot.getJSON(t, fmt.Sprintf("/api/v1/incidents/%d/timeline", leak.ID), apiToken, &tl)
	wantKinds := map[string]int{"opened": 1, "alert_fired": 3, "alert_resolved": 3, "alerts_cleared": 1, "resolved": 1}
	if got := countKinds(tl); !sameCounts(got, wantKinds) {
		t.Errorf("timeline kinds = %v, want %v\n%s", got, wantKinds, dumpTimeline(tl))
	}
	for _, e := range tl {
		if e.Kind == "alert_resolved" && e.At != "2024-06-20T16:30:00Z" {
			t.Errorf("alert_resolved at %s, want the alert's endsAt 16:30", e.At)
		}
	}

	payloads, statuses := am.delivered()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("delivery %d answered %d: %s", i, s, payloads[i])
		}
	}
	if *capture != "" {
		writeCaptures(t, *capture, payloads)
	}

	// Nothing without the token.
	res, err := http.Post(bot.URL+"/webhooks/alertmanager", "application/json", bytes.NewReader(payloads[0]))
	if err != nil || res.StatusCode != 401 {
		t.Errorf("webhook without token: %v %v, want 401", res.StatusCode, err)
	}

	// A restart keeps everything, and Alertmanager's later deliveries still land.
	before := len(tl)
	bot.stop(t)
	bot = startBot(t, env)
	am.retarget(bot.URL)
	bot.getJSON(t, fmt.Sprintf("/api/v1/incidents/%d/timeline", leak.ID), apiToken, &tl)
	if len(tl) != before {
		t.Errorf("after restart the timeline has %d entries, want %d", len(tl), before)
	}
	am.push(t, amAlert{Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}, StartsAt: start.Add(20 * time.Minute)})
	waitFor(t, 20*time.Second, "the new alert after restart", func() bool {
		bot.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &list)
		return len(list) == 2 && len(byTitle(list, "HighErrorRate on checkout").Alerts) == 2
	})
	if got := byTitle(list, "HighErrorRate on checkout").Severity; got != "SEV1" {
		t.Errorf("after a critical alert joined, severity = %s, want SEV1", got)
	}
}

func byTitle(list []incidentJSON, title string) incidentJSON {
	for _, inc := range list {
		if inc.Title == title {
			return inc
		}
	}
	return incidentJSON{}
}

func countKinds(tl []entryJSON) map[string]int {
	m := map[string]int{}
	for _, e := range tl {
		m[e.Kind]++
	}
	return m
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func dumpTimeline(tl []entryJSON) string {
	var b strings.Builder
	for _, e := range tl {
		b.WriteString(e.At + " " + e.Kind + " " + e.Actor + ": " + e.Text + "\n")
	}
	return b.String()
}

// writeCaptures keeps the memory-leak group's last firing payload and its
// resolved one, as the real Alertmanager wrote them, for the decoder's tests
// (webhooks/testdata/firing.json and resolved.json).
func writeCaptures(t *testing.T, dir string, payloads [][]byte) {
	t.Helper()
	keep := map[string][]byte{}
	for _, p := range payloads {
		var head struct {
			Status   string `json:"status"`
			GroupKey string `json:"groupKey"`
		}
		_ = json.Unmarshal(p, &head)
		if strings.Contains(head.GroupKey, "MemoryLeak") {
			keep[head.Status+".json"] = p
		}
	}
	if len(keep) != 2 {
		t.Fatalf("captured %d of the 2 payloads (firing, resolved)", len(keep))
	}
	for name, p := range keep {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, p, "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(pretty.Bytes(), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
