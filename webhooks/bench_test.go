package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// fiveAlerts is a 5-alert firing payload (about 700 bytes an alert, like
// a real one) whose group key holds groupMark, to be replaced for a group of
// its own.
func fiveAlerts(now time.Time) []byte {
	return amBody(now, func(p, a map[string]any) {
		p["groupKey"] = `{}/{team="ops"}:{alertname="DiskFull", group="` + groupMark + `"}`
		alerts := make([]any, 5)
		for i := range alerts {
			alerts[i] = map[string]any{
				"status": "firing",
				"labels": map[string]any{"alertname": "DiskFull", "instance": fmt.Sprintf("db-%d.prod.internal:9100", i),
					"job": "node", "device": "/dev/nvme0n1p1", "mountpoint": "/var/lib/postgresql", "severity": "critical",
					"cluster": "prod-eu-1", "team": "ops"},
				"annotations": map[string]any{"summary": "Disk almost full", "description": fmt.Sprintf(
					"Filesystem /var/lib/postgresql on db-%d has 3%% space left and will fill within 2 hours at the current rate.", i),
					"runbook_url": "https://runbooks.example.com/disk-full"},
				"startsAt":     now.Add(-time.Duration(10+i) * time.Minute).Format(time.RFC3339Nano),
				"endsAt":       "0001-01-01T00:00:00Z",
				"generatorURL": "http://prometheus-0:9090/graph?g0.expr=node_filesystem_avail_bytes+%2F+node_filesystem_size_bytes+%3C+0.05",
				"fingerprint":  fmt.Sprintf("%016x", 0xd15cf011+i),
			}
		}
		p["alerts"] = alerts
	})
}

const groupMark = "GROUP"

func postWebhook(b *testing.B, srv http.Handler, body []byte) {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("got %d %s", w.Code, w.Body)
	}
}

// BenchmarkWebhookDecode is the baseline without storage: "router" is the
// whole HTTP handler (auth, content type, body, decode, validate) with an
// ingest that does nothing; "decode" is decoding and validating alone.
func BenchmarkWebhookDecode(b *testing.B) {
	e := newEnv(b, func(c *Config) { c.WebhookToken = "" })
	body := fiveAlerts(e.now)
	b.Run("router", func(b *testing.B) {
		e.srv.ingest = func(context.Context, *bot.Notification) (bot.IngestResult, error) { return bot.IngestResult{}, nil }
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			postWebhook(b, e.srv, body)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeAlertmanager(body, e.now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWebhookIngest is the real path: each request is a new alert
// group, so each opens an incident (incident, timeline, outbox) that is
// durably written to a bbolt file before the 200, with requests in
// parallel as Alertmanager's groups arrive.
func BenchmarkWebhookIngest(b *testing.B) {
	e := newEnv(b)
	template := fiveAlerts(e.now)
	var n atomic.Int64
	b.SetBytes(int64(len(template)))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			postWebhook(b, e.srv, bytes.Replace(template, []byte(groupMark), fmt.Append(nil, n.Add(1)), 1))
		}
	})
	if got := len(e.incidents()); int64(got) != n.Load() {
		b.Fatalf("%d incidents for %d groups", got, n.Load())
	}
}
