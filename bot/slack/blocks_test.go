package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares a rendered message with testdata/<name>.golden.json.
func golden(t *testing.T, name, text string, blocks []slackgo.Block) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep <@U1> readable in the diff
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"text": text, "blocks": blocks}); err != nil {
		t.Fatal(err)
	}
	// slack-go's own marshalers escape HTML anyway; unescape for reading.
	got := []byte(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(buf.String()))
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot/slack -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test ./bot/slack -update and review the diff); got:\n%s", name, path, got)
	}
}

var t0 = time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)

func at(min int) *time.Time {
	t := t0.Add(time.Duration(min) * time.Minute)
	return &t
}

func firingIncident() *bot.Incident {
	return &bot.Incident{
		ID: 7, Title: "HighErrorRate on checkout", Severity: bot.SEV1, Status: bot.StatusInvestigating,
		Receiver: "team-checkout", GroupKey: `{}:{alertname="HighErrorRate", service="checkout"}`,
		GroupLabels: map[string]string{"alertname": "HighErrorRate", "service": "checkout"},
		ExternalURL: "http://alertmanager.example.com:9093/", CreatedAt: t0, DetectedAt: t0, Lead: "<@U100>",
		Alerts: []bot.Alert{
			{Fingerprint: "b2", Status: bot.AlertResolved, StartsAt: *at(-2), EndsAt: at(5),
				Labels:      map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "warning", "pod": "checkout-1"},
				Annotations: map[string]string{"summary": "Error rate 5.1% > 5%"}},
			{Fingerprint: "a1", Status: bot.AlertFiring, StartsAt: t0,
				Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "critical",
					"pod": "checkout-7d9f", "instance": "10.0.0.1:9090"},
				Annotations: map[string]string{"summary": "Error rate 7.2% > 5%",
					"description": "Checkout returns 5xx for <b>7%</b> of requests & rising\nsince the deploy",
					"runbook_url": "https://runbooks.example.com/high-error-rate"},
				GeneratorURL: "http://prometheus:9090/graph?g0.expr=rate(x)&g0.tab=1"},
			{Fingerprint: "c3", Status: bot.AlertFiring, StartsAt: *at(1),
				Labels:      map[string]string{"alertname": "HighErrorRate", "service": "checkout", "pod": "checkout-`x`"},
				Annotations: map[string]string{"summary": "<!channel> wake up", "runbook_url": "javascript:alert(1)"}},
		},
	}
}

func TestIncidentBlocksGolden(t *testing.T) {
	v := view{loc: time.UTC, publicURL: "https://incidentbot.example.com/"}
	declared := &bot.Incident{ID: 8, Title: "Payments are slow for EU customers", Severity: bot.SEV3,
		Status: bot.StatusIdentified, CreatedAt: t0, DetectedAt: t0, DeclaredBy: "<@U200>",
		AcknowledgedAt: at(3), AcknowledgedBy: "<@U300>", Impact: "EU card payments take 20 s; <!here> about 5% time out",
		Cause: "connection pool of payments-db is exhausted"}
	resolved := firingIncident()
	resolved.Status, resolved.ResolvedAt, resolved.MitigatedAt = bot.StatusResolved, at(150), at(90)
	resolved.AcknowledgedAt, resolved.AcknowledgedBy, resolved.Resolution = at(4), "<@U100>", "rolled back to v41"
	storm := firingIncident()
	storm.TruncatedAlerts = 3
	for i := range 11 {
		storm.Alerts = append(storm.Alerts, bot.Alert{Fingerprint: fmt.Sprintf("d%d", i), Status: bot.AlertFiring, StartsAt: *at(i + 2),
			Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "pod": fmt.Sprintf("checkout-%d", i)}})
	}
	for _, tc := range []struct {
		name string
		inc  *bot.Incident
	}{
		{"incident_firing", firingIncident()},
		{"incident_declared_acked", declared},
		{"incident_resolved", resolved},
		{"incident_storm", storm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, blocks := v.incident(tc.inc)
			if len(blocks) > 50 {
				t.Errorf("%d blocks, Slack takes 50", len(blocks))
			}
			golden(t, tc.name, text, blocks)
		})
	}
}

func TestHeadlineGolden(t *testing.T) {
	v := view{loc: time.FixedZone("CEST", 2*3600)}
	text, blocks := v.headline(firingIncident(), "C0000007")
	golden(t, "headline_open", text, blocks)
	resolved := firingIncident()
	resolved.Status, resolved.ResolvedAt = bot.StatusResolved, at(150)
	text, blocks = v.headline(resolved, "C0000007")
	golden(t, "headline_resolved", text, blocks)
}

func sampleRunbook() bot.Runbook {
	return bot.Runbook{Name: "high-error-rate", Title: "High error rate", Intro: "Start here when 5xx rise. Keep the channel posted.",
		Steps: []bot.RunbookStep{
			{N: 1, Text: "Check the error dashboard", Markdown: "Check the [error dashboard](https://grafana.example.com/d/errors)"},
			{N: 2, Text: "Find the failing pods", Markdown: "Find the failing pods\n\n```sh\nkubectl -n checkout get pods | grep -v Running\n```"},
			{N: 3, Text: "Compare with the last deploy", Markdown: "Compare with the last deploy\n\n```promql\nsum(rate(http_requests_total{code=~\"5..\"}[5m]))\n```\n\nIf it started with the deploy, **roll back first** & ask later."},
		}}
}

func TestRunbookBlocksGolden(t *testing.T) {
	v := view{loc: time.UTC}
	inc := firingIncident()
	inc.StepsDone = []bot.StepDone{{Runbook: "high-error-rate", N: 2, By: "<@U100>", At: *at(12)}, {Runbook: "other", N: 1, By: "x", At: *at(13)}}
	text, blocks := v.runbook(inc, sampleRunbook())
	golden(t, "runbook_progress", text, blocks)
	if got := doneCount(inc, sampleRunbook()); got != 1 {
		t.Errorf("doneCount: got %d, want 1", got)
	}
	if !strings.Contains(text, "1/3 done") {
		t.Errorf("text %q lacks the progress", text)
	}
}

func TestRunbookBlocksStayUnderSlackLimit(t *testing.T) {
	rb := bot.Runbook{Name: "long", Intro: "x"}
	for i := 1; i <= 80; i++ {
		rb.Steps = append(rb.Steps, bot.RunbookStep{N: i, Text: "step"})
	}
	_, blocks := view{loc: time.UTC}.runbook(firingIncident(), rb)
	if len(blocks) > 50 {
		t.Errorf("%d blocks, Slack takes 50", len(blocks))
	}
}

func TestTopic(t *testing.T) {
	v := view{loc: time.UTC}
	inc := firingIncident()
	if got, want := v.topic(inc), "SEV1 · investigating · lead <@U100> · INC-7 HighErrorRate on checkout"; got != want {
		t.Errorf("topic: got %q, want %q", got, want)
	}
	inc.Lead, inc.Title, inc.Status = "", "a <b> & "+strings.Repeat("long ", 80), bot.StatusMonitoring
	got := v.topic(inc)
	if len(got) > maxTopic || !strings.HasPrefix(got, "SEV1 · monitoring · INC-7 a &lt;b&gt; &amp; long") || !strings.HasSuffix(got, "…") {
		t.Errorf("long topic: got %q (%d bytes)", got, len(got))
	}
}

func TestSilenceLink(t *testing.T) {
	l := view{}.links(firingIncident())
	want := `<http://alertmanager.example.com:9093/#/silences/new?filter=%7Balertname%3D%22HighErrorRate%22%2Cservice%3D%22checkout%22%7D|Silence this group>`
	if !strings.Contains(l, want) {
		t.Errorf("links: got %q, want it to contain %q", l, want)
	}
}
