package webhooks

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// TestReadBodyTrustsNoContentLength: a request that announces 32 MiB and
// sends one byte costs what it sent, not what it announced.
func TestReadBodyTrustsNoContentLength(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", strings.NewReader("x"))
	r.ContentLength = DefaultMaxWebhookBody
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	body, held, err := readBody(r, DefaultMaxWebhookBody, &bodyBudget{max: DefaultMaxWebhookBody})
	runtime.ReadMemStats(&after)
	if err != nil || string(body) != "x" || held != 0 {
		t.Fatalf("readBody = %q, held %d, %v; want \"x\", nothing charged", body, held, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("reading 1 byte announced as 32 MiB allocated %d bytes, want well under 1 MiB", grew)
	}
}

// TestReadBodyLimits: the limit holds whatever Content-Length says, and
// the budget is charged for large bodies only.
func TestReadBodyLimits(t *testing.T) {
	const limit = 300 << 10
	tests := []struct {
		name     string
		size     int
		announce int64
		budget   int64
		want     error
		charged  bool
	}{
		{"small body, empty budget", 1000, -1, 0, nil, false},
		{"large body within the budget", 200 << 10, -1, limit, nil, true},
		{"large body, budget taken", 200 << 10, -1, 100 << 10, errBusy, false},
		{"over the limit, unannounced", limit + 1, -1, 2 * limit, errTooLarge, true},
		{"over the limit, announced", limit + 1, limit + 1, 2 * limit, errTooLarge, false},
		{"exactly the limit", limit, limit, 2 * limit, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(bytes.NewReader(make([]byte, tt.size))))
			r.ContentLength = tt.announce
			b := &bodyBudget{max: tt.budget}
			body, held, err := readBody(r, limit, b)
			if err != tt.want || (err == nil && len(body) != tt.size) {
				t.Errorf("readBody: %d bytes, %v; want %d bytes, %v", len(body), err, tt.size, tt.want)
			}
			if (held > 0) != tt.charged || b.used.Load() != held {
				t.Errorf("held %d, budget used %d; want charged %v and the two equal", held, b.used.Load(), tt.charged)
			}
			b.give(held)
		})
	}
}

// TestLargeBodiesOverTheBudgetAreDeferred: while one large body is being
// read, another that would pass the budget is answered 503 with
// Retry-After (Alertmanager retries it), a small one goes through, and
// once the first is done the budget is whole again.
func TestLargeBodiesOverTheBudgetAreDeferred(t *testing.T) {
	const limit = 1 << 20
	e := newEnv(t, func(c *Config) { c.MaxWebhookBody, c.MaxWebhookBytes = limit, limit })
	pr, pw := io.Pipe()
	first := make(chan *httptest.ResponseRecorder)
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", pr)
		req.Header.Set("Content-Type", "application/json")
		first <- e.serve(req)
	}()
	// 600 KiB in, the first body holds more than half the budget.
	if _, err := pw.Write(bytes.Repeat([]byte(" "), 600<<10)); err != nil {
		t.Fatal(err)
	}
	firing := readTestdata(t, "firing.json")
	large := append(bytes.Repeat([]byte(" "), 600<<10), firing...)
	w := e.webhook(large)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("second large body: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if w := e.webhook(firing); w.Code != 200 {
		t.Errorf("small body meanwhile: %d %s, want 200", w.Code, w.Body)
	}
	if _, err := pw.Write(firing); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if w := <-first; w.Code != 200 {
		t.Errorf("first large body: %d %s, want 200", w.Code, w.Body)
	}
	if used := e.srv.bodies.used.Load(); used != 0 {
		t.Errorf("budget used after both: %d bytes, want 0", used)
	}
	if w := e.webhook(large); w.Code != 200 {
		t.Errorf("second large body again: %d %s, want 200", w.Code, w.Body)
	}
}

// TestHostileValueIsQuotedShort: a 1 MiB invalid value is quoted by its
// first 100 bytes in the answer and in the log, not echoed whole.
func TestHostileValueIsQuotedShort(t *testing.T) {
	e := newEnv(t)
	huge := strings.Repeat("9", 1<<20)
	body := readTestdata(t, "firing.json")
	body = bytes.Replace(body, []byte(`"version": "4"`), []byte(`"version": "`+huge+`"`), 1)
	if !bytes.Contains(body, []byte(huge)) {
		t.Fatal("testdata has no version field to replace")
	}
	w := e.webhook(body)
	if w.Code != 400 || w.Body.Len() > 400 || !strings.Contains(w.Body.String(), "1048576 bytes") {
		t.Errorf("answer: %d, %d bytes: %.300s; want a 400 quoting 100 bytes and the length", w.Code, w.Body.Len(), w.Body)
	}
	if logs := e.logs.String(); len(logs) > 20000 || !strings.Contains(logs, "notification refused") {
		t.Errorf("log: %d bytes; want the refusal, without the value", len(logs))
	}
}

// TestIngestTimeoutAnswers503: a notification that cannot get the store's
// writer within IngestTimeout is answered 503 (Alertmanager retries it),
// not left for the server's write timeout to cut off without an answer.
func TestIngestTimeoutAnswers503(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IngestTimeout = 200 * time.Millisecond })
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- e.store.Update(context.Background(), func(bot.Tx) error {
			select {
			case <-started:
			default:
				close(started)
			}
			<-gate
			return nil
		})
	}()
	<-started
	begin := time.Now()
	w := e.webhook(readTestdata(t, "firing.json"))
	took := time.Since(begin)
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusServiceUnavailable || took > 5*time.Second {
		t.Errorf("webhook while the writer is held: %d after %v, want 503 soon after the 200ms timeout", w.Code, took)
	}
	if w := e.webhook(readTestdata(t, "firing.json")); w.Code != 200 {
		t.Errorf("once the writer is free: %d %s, want 200", w.Code, w.Body)
	}
}
