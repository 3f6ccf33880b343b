package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
	"github.com/incidentbot/incidentbot/internal/testpeers"
)

type silenceJSON struct {
	ID           string  `json:"id"`
	EndsAt       string  `json:"ends_at"`
	Alertmanager string  `json:"alertmanager"`
	ExpiredAt    *string `json:"expired_at"`
	Matchers     []struct {
		Name, Value string
	} `json:"matchers"`
}

// TestSilenceThroughSlackAndAlertmanager silences the MemoryLeak group from
// Slack in the real Alertmanager (its first configured peer is down, so
// the second takes it), sees the silence in Alertmanager, on the incident
// and its message, then ends it with /incident unsilence.
func TestSilenceThroughSlackAndAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	slack := slacktesting.New()
	defer slack.Close()
	const token = "wh-token-silence"
	am := startAlertmanager(t, "http://127.0.0.1:1", token)
	dead := "http://127.0.0.1:" + freePort(t)
	env := map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token,
		"INCIDENTBOT_LOG_FORMAT": "text", "SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret,
		"SLACK_API_URL": slack.APIURL(), "INCIDENTBOT_PUBLIC_URL": "https://incidentbot.example.com",
		"INCIDENTBOT_ALERTMANAGER_URL": dead + ", " + am.URL,
	}
	b := startBot(t, env)
	am.retarget(b.URL)
	am.push(t, memoryLeak("pg-1"))

	var channel string
	waitFor(t, 30*time.Second, "the incident channel", func() bool {
		var full map[string]any
		b.getJSON(t, "/api/v1/incidents/1", "", &full)
		channel, _ = full["slack_channel_id"].(string)
		return channel != "" && len(slack.Messages(channel)) >= 1
	})

	typ, text := commandReply(t, b.URL, "U0ALICE", channel, "silence 30m rolling back the deploy")
	if typ != "ephemeral" || !strings.Contains(text, "30m") {
		t.Fatalf("first answer: %s %q", typ, text)
	}
	var inc struct {
		Silences []silenceJSON `json:"silences"`
	}
	waitFor(t, 20*time.Second, "the silence on the incident", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &inc)
		return len(inc.Silences) == 1
	})
	sil := inc.Silences[0]
	if sil.Alertmanager != am.URL || sil.ExpiredAt != nil {
		t.Errorf("silence %+v: want it taken by %s (the first peer is down)", sil, am.URL)
	}
	ends, err := time.Parse(time.RFC3339, sil.EndsAt)
	if d := time.Until(ends); err != nil || d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("ends_at %s: want about 30m from now", sil.EndsAt)
	}
	got, ok := testpeers.Silences(t, am.URL)[sil.ID]
	if !ok || got.Status.State != "active" || got.CreatedBy != "u0alice" {
		t.Fatalf("Alertmanager holds %+v for %s", got, sil.ID)
	}
	names := map[string]string{}
	for _, m := range got.Matchers {
		names[m.Name] = m.Value
	}
	if len(names) != 2 || names["alertname"] != "MemoryLeak" || names["service"] != "payment-gateway" {
		t.Errorf("matchers %v: want the group labels (group_by alertname, service)", got.Matchers)
	}
	for _, w := range []string{"INC-1", "https://incidentbot.example.com/api/v1/incidents/1", "rolling back the deploy"} {
		if !strings.Contains(got.Comment, w) {
			t.Errorf("comment %q does not say %q", got.Comment, w)
		}
	}
	waitFor(t, 20*time.Second, "the incident message to show the silence", func() bool {
		msgs := slack.Messages(channel)
		return len(msgs) > 0 && strings.Contains(msgs[0].Blocks, "Silenced")
	})
	if entriesBy(t, b, 1, "U0ALICE") != 1 {
		t.Errorf("the silence is not on the timeline as Alice's")
	}

	commandReply(t, b.URL, "U0BOB", channel, "unsilence")
	waitFor(t, 20*time.Second, "the silence to expire", func() bool {
		return testpeers.Silences(t, am.URL)[sil.ID].Status.State == "expired"
	})
	waitFor(t, 5*time.Second, "expired_at on the incident", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &inc)
		return inc.Silences[0].ExpiredAt != nil
	})
	if entriesBy(t, b, 1, "U0BOB") != 1 {
		t.Errorf("the unsilence is not on the timeline as Bob's")
	}

	// Silenced again, then resolved by hand (Alertmanager sends no
	// resolution for a silenced group): the timer engine expires the
	// silence in Alertmanager.
	commandReply(t, b.URL, "U0ALICE", channel, "silence 1h")
	waitFor(t, 20*time.Second, "the second silence", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &inc)
		return len(inc.Silences) == 2
	})
	second := inc.Silences[1].ID
	defer func() {
		if t.Failed() {
			var tl []entryJSON
			b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
			t.Logf("timeline: %+v\nlogs:\n%s", tl, b.logs.String())
		}
	}()
	commandReply(t, b.URL, "U0BOB", channel, "resolve rolled back")
	waitFor(t, 30*time.Second, "the resolved incident's silence to expire in Alertmanager", func() bool {
		return testpeers.Silences(t, am.URL)[second].Status.State == "expired"
	})
}

// TestGraphInTheChannel fires an alert whose generatorURL points at the
// real Prometheus scraping a leaking target: the graph of its expression
// is uploaded into the incident's channel when the incident opens and
// again when it resolves, and the API draws it on request. It logs how
// long the first graph took from the incident's creation.
func TestGraphInTheChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager and Prometheus")
	}
	prom := startPrometheus(t, leakTarget(t).URL)
	waitFor(t, 60*time.Second, "15 s of samples in Prometheus", func() bool {
		res, err := http.Get(prom + "/api/v1/query?query=count_over_time(leaky_resident_memory_bytes%5B1m%5D)%20%3E%3D%2015")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var r struct {
			Data struct{ Result []any }
		}
		return json.NewDecoder(res.Body).Decode(&r) == nil && len(r.Data.Result) == 1
	})
	slack := slacktesting.New()
	defer slack.Close()
	const token = "wh-token-graph"
	am := startAlertmanager(t, "http://127.0.0.1:1", token)
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token,
		"INCIDENTBOT_LOG_FORMAT": "text", "SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret,
		"SLACK_API_URL": slack.APIURL(), "INCIDENTBOT_PUBLIC_URL": "https://incidentbot.example.com",
		// Empty, not unset: the default, the Prometheus of the alert's
		// generatorURL (the harness turns graphs off when it is unset).
		"INCIDENTBOT_PROMETHEUS_URL": "", "INCIDENTBOT_DERIVED_HOSTS": "127.0.0.1",
	})
	am.retarget(b.URL)
	alert := memoryLeak("pg-1")
	alert.StartsAt = time.Now().Add(-5 * time.Second)
	alert.GeneratorURL = prom + "/graph?g0.expr=leaky_resident_memory_bytes&g0.tab=1"
	am.push(t, alert)

	var inc struct {
		CreatedAt string `json:"created_at"`
		Channel   string `json:"slack_channel_id"`
	}
	graphs := func() []slacktesting.File {
		var out []slacktesting.File
		for _, f := range slack.Files() {
			if strings.HasSuffix(f.Name, "-graph.png") && f.Channel != "" {
				out = append(out, f)
			}
		}
		return out
	}
	defer func() {
		if t.Failed() {
			var tl []entryJSON
			b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
			t.Logf("timeline: %+v\nlogs:\n%s", tl, b.logs.String())
		}
	}()
	waitFor(t, 60*time.Second, "the graph in the incident channel", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &inc)
		return inc.Channel != "" && len(graphs()) == 1
	})
	created, _ := time.Parse(time.RFC3339Nano, inc.CreatedAt)
	t.Logf("graph in the channel %v after the incident was created", time.Since(created).Round(time.Millisecond))
	g := graphs()[0]
	if g.Channel != inc.Channel || !bytes.HasPrefix(g.Content, []byte("\x89PNG")) || !strings.Contains(g.Comment, "graph.png") {
		t.Errorf("graph file %s in %s (%d bytes), comment %q", g.Name, g.Channel, len(g.Content), g.Comment)
	}
	if dir := os.Getenv("INCIDENTBOT_GRAPH_OUT"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "e2e-graph.png"), g.Content, 0o644)
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(g.Content)); err != nil || cfg.Width != 1200 {
		t.Errorf("graph is not a 1200px wide PNG: %+v %v", cfg, err)
	}

	res, err := http.Get(b.URL + "/api/v1/incidents/1/graph.png")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Errorf("GET graph.png: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}

	ended := time.Now()
	alert.EndsAt = &ended
	am.push(t, alert)
	waitFor(t, 60*time.Second, "a second graph at resolution", func() bool { return len(graphs()) == 2 })
}

type profilesJSON struct {
	Captures []struct {
		N        int    `json:"n"`
		Target   string `json:"target"`
		Error    string `json:"error"`
		Download string `json:"download"`
	} `json:"captures"`
	Diffs []struct {
		Base, Next int
		Sites      []struct {
			Function string `json:"function"`
			File     string `json:"file"`
			Growth   int64  `json:"growth"`
		} `json:"sites"`
	} `json:"diffs"`
}

// TestHeapProfilesOfALeak fires MemoryLeak for a real leaking Go process:
// the bot captures its heap when the incident opens and again `after`
// later (a durable timer), posts what grew, naming the leaking function,
// with both profiles attached, and /incident profile takes another. It
// logs how long the first profile and the diff took from the incident's
// creation.
func TestHeapProfilesOfALeak(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager and a leaking process")
	}
	leaker := strings.TrimPrefix(testpeers.Leaker(t), "http://")
	slack := slacktesting.New()
	defer slack.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yml")
	cfg := `profiles:
  - match: ['alertname="MemoryLeak"']
    url: 'http://{{ .Labels.instance }}/debug/pprof/heap'
    allow: ['127.0.0.0/8']
    after: 2s
`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "wh-token-profile"
	am := startAlertmanager(t, "http://127.0.0.1:1", token)
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(dir, "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token, "INCIDENTBOT_CONFIG": cfgFile,
		"INCIDENTBOT_LOG_FORMAT": "text", "SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret,
		"SLACK_API_URL": slack.APIURL(), "INCIDENTBOT_PUBLIC_URL": "https://incidentbot.example.com",
	})
	am.retarget(b.URL)
	am.push(t, memoryLeak(leaker))

	var inc struct {
		CreatedAt string `json:"created_at"`
		Channel   string `json:"slack_channel_id"`
	}
	heapFiles := func() []slacktesting.File {
		var out []slacktesting.File
		for _, f := range slack.Files() {
			if strings.Contains(f.Name, "-heap-") && f.Channel != "" {
				out = append(out, f)
			}
		}
		return out
	}
	var p profilesJSON
	waitFor(t, 30*time.Second, "the first profile", func() bool {
		b.getJSON(t, "/api/v1/incidents/1", "", &inc)
		b.getJSON(t, "/api/v1/incidents/1/profiles", "", &p)
		return len(p.Captures) >= 1
	})
	created, _ := time.Parse(time.RFC3339Nano, inc.CreatedAt)
	t.Logf("first heap profile captured %v after the incident was created", time.Since(created).Round(time.Millisecond))
	waitFor(t, 30*time.Second, "the first profile in the channel", func() bool {
		for _, m := range slack.Messages(inc.Channel) {
			if strings.Contains(m.Text, "heap profile 1 captured") {
				return true
			}
		}
		return false
	})
	t.Logf("first heap profile in the channel %v after the incident was created", time.Since(created).Round(time.Millisecond))
	waitFor(t, 30*time.Second, "both profiles and their diff in the channel", func() bool {
		return len(heapFiles()) == 2
	})
	t.Logf("diff and both profiles in the channel %v after the incident was created (after: 2s)", time.Since(created).Round(time.Millisecond))
	b.getJSON(t, "/api/v1/incidents/1/profiles", "", &p)
	if len(p.Captures) != 2 || len(p.Diffs) != 1 || p.Captures[0].Error != "" || p.Captures[1].Error != "" {
		t.Fatalf("profiles: %+v", p)
	}
	if top := p.Diffs[0].Sites[0]; top.Function != "main.leakyCache" || !strings.HasSuffix(top.File, "leaker/main.go") {
		t.Errorf("top growth site %+v, want main.leakyCache", top)
	}
	var posted bool
	for _, m := range slack.Messages(inc.Channel) {
		posted = posted || strings.Contains(m.Text, "main.leakyCache")
	}
	if !posted {
		t.Error("the channel was not told that main.leakyCache grew")
	}
	files := heapFiles()
	if !strings.Contains(files[1].Comment, "go tool pprof") || !strings.Contains(files[1].Comment, "-base inc-1-heap-1.pb.gz inc-1-heap-2.pb.gz") {
		t.Errorf("second profile's comment %q does not say how to compare", files[1].Comment)
	}
	for i, f := range files {
		if _, err := profile.ParseData(f.Content); err != nil || f.Name != fmt.Sprintf("inc-1-heap-%d.pb.gz", i+1) {
			t.Errorf("file %s does not parse: %v", f.Name, err)
		}
	}
	if !strings.HasPrefix(p.Captures[1].Download, "https://incidentbot.example.com/api/v1/incidents/1/profiles/2") {
		t.Errorf("download link %q", p.Captures[1].Download)
	}
	res, err := http.Get(b.URL + "/api/v1/incidents/1/profiles/2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if _, err := profile.ParseData(body); res.StatusCode != 200 || err != nil {
		t.Errorf("GET profiles/2: %d, %v", res.StatusCode, err)
	}

	commandReply(t, b.URL, "U0ALICE", inc.Channel, "profile")
	waitFor(t, 30*time.Second, "a third profile by hand", func() bool {
		b.getJSON(t, "/api/v1/incidents/1/profiles", "", &p)
		return len(p.Captures) == 3 && len(p.Diffs) == 2
	})
	if d := p.Diffs[1]; d.Base != 1 || d.Next != 3 || d.Sites[0].Function != "main.leakyCache" {
		t.Errorf("diff by hand %+v, want 1 against 3 naming main.leakyCache", d)
	}
	if entriesBy(t, b, 1, "U0ALICE") != 1 {
		t.Error("the capture by hand is not on the timeline as Alice's")
	}

	// The memory-leak runbook's profiling step (profile_steps: [5]) shows
	// the captures and the diff, and the bot ticked it.
	var checklist string
	waitFor(t, 30*time.Second, "the checklist's step 5 showing the captures and ticked by incidentbot", func() bool {
		for _, m := range slack.Messages(inc.Channel) {
			if strings.HasPrefix(m.Text, "Runbook ") && strings.Contains(m.Blocks, "inc-1-heap-1.pb.gz") {
				checklist = m.Blocks
			}
		}
		return strings.Contains(checklist, "main.leakyCache") && strings.Contains(checklist, "done by")
	})
	for _, w := range []string{"captured ", "(inc-1-heap-2.pb.gz)", "diff: +", "in main.leakyCache ("} {
		if !strings.Contains(checklist, w) {
			t.Errorf("the checklist does not say %q:\n%s", w, checklist)
		}
	}
	var tl []entryJSON
	b.getJSON(t, "/api/v1/incidents/1/timeline", "", &tl)
	ticked := 0
	for _, e := range tl {
		if e.Kind == "runbook_step" && e.Actor == "incidentbot" && strings.Contains(e.Text, "memory-leak step 5 done: heap profiles") {
			ticked++
		}
	}
	if ticked != 1 {
		t.Errorf("step 5 ticked %d times by incidentbot, want once:\n%s", ticked, dumpTimeline(tl))
	}
}
