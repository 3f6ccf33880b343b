package promgraph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/internal/testpeers"
)

// leakTarget serves /metrics with a memory gauge that grows 3 MiB a
// second on pg-1 and stays flat on pg-2, as a leaking service would.
func leakTarget(t *testing.T) *httptest.Server {
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grown := time.Since(start).Seconds() * 3 * (1 << 20)
		fmt.Fprintf(w, "# TYPE leaky_resident_memory_bytes gauge\n")
		fmt.Fprintf(w, "leaky_resident_memory_bytes{pod=\"pg-1\"} %f\n", 200<<20+grown)
		fmt.Fprintf(w, "leaky_resident_memory_bytes{pod=\"pg-2\"} %f\n", float64(180<<20))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startPrometheus runs the real Prometheus scraping target (testpeers).
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the real Prometheus")
	}
	return testpeers.Prometheus(t, target)
}

func freeAddr(t *testing.T) string { return testpeers.FreeAddr(t) }

func waitUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestGraphOfALeakFromRealPrometheus(t *testing.T) {
	target := leakTarget(t)
	prom := startPrometheus(t, target.URL)
	gr, err := New(Options{Points: 300, Allow: allowLoopback(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now().Add(-2 * time.Second)
	mem := bot.GraphQuery{Expr: "leaky_resident_memory_bytes", Source: prom}
	var p panel
	waitUntil(t, 40*time.Second, "12 scrapes of the leaking target", func() bool {
		p, err = gr.query(ctx, mem, start, time.Now(), time.Second)
		return err == nil && len(p.series) == 2 && len(p.series[0].vs) >= 12
	})
	leak := p.series[0]
	if leak.label != "pod=pg-1" || p.series[1].label != "pod=pg-2" {
		t.Errorf("series %q, %q: want the leaking pod first, each named by its pod", leak.label, p.series[1].label)
	}
	if grew := leak.vs[len(leak.vs)-1] - leak.vs[0]; grew < 20<<20 {
		t.Errorf("pg-1 grew %.0f bytes over %d points, want the leak's 3 MiB/s", grew, len(leak.vs))
	}
	if p.unit.kind != "bytes" {
		t.Errorf("unit %+v, want bytes for a _bytes metric", p.unit)
	}

	now := time.Now()
	g := bot.Graph{Title: "INC-7 MemoryLeak on payment-gateway", Start: start, End: now,
		Queries: []bot.GraphQuery{mem, {Expr: "deriv(leaky_resident_memory_bytes[5s])", Source: "http://ignored.invalid"}},
		Marks: []bot.GraphMark{{At: start.Add(3 * time.Second), Label: "MemoryLeak fired", Alert: true},
			{At: now.Add(-3 * time.Second), Label: "acknowledged"}}}
	gr.o.URL = prom // the setting wins over the generatorURL's host
	b, err := gr.Graph(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz != (image.Point{X: widthPx, Y: 2 * panelHeightPx}) {
		t.Errorf("image is %v, want %dx%d (two panels)", sz, widthPx, 2*panelHeightPx)
	}
	if dir := os.Getenv("INCIDENTBOT_GRAPH_OUT"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "leak-graph.png"), b, 0o644)
	}
	if len(b) > 500<<10 {
		t.Errorf("the PNG is %d bytes; a graph should stay small", len(b))
	}
}

func TestGraphFailuresSayWhatFailed(t *testing.T) {
	ctx := context.Background()
	dead := "http://" + freeAddr(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[`)
		for i := range 100000 {
			fmt.Fprintf(w, `{"metric":{"pod":"p%d"},"values":[[1,"1"]]},`, i)
		}
		fmt.Fprint(w, `{"metric":{},"values":[]}]}}`)
	}))
	defer huge.Close()
	redirect := httptest.NewServer(http.RedirectHandler(huge.URL+"/api/v1/query_range", http.StatusFound))
	defer redirect.Close()
	// Only the slow case depends on the time-out: the others get a generous
	// one, so that a loaded machine (the huge answer takes a while to write)
	// cannot turn "too large" into "too slow".
	quick, _ := New(Options{Timeout: 300 * time.Millisecond, MaxBody: 1 << 20, Allow: allowLoopback(t)})
	gr, _ := New(Options{Timeout: time.Minute, MaxBody: 1 << 20, Allow: allowLoopback(t)})
	now := time.Now()
	for _, tc := range []struct {
		name, source, want string
		gr                 *Grapher
	}{
		{"unreachable", dead, dead, gr},
		{"slow", slow.URL, "took longer than 300ms", quick},
		{"too large", huge.URL, "larger than allowed", gr},
		{"redirected", redirect.URL, "302", gr},
	} {
		_, err := tc.gr.Graph(ctx, bot.Graph{Start: now.Add(-time.Hour), End: now, Queries: []bot.GraphQuery{{Expr: "up", Source: tc.source}}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	}))
	defer empty.Close()
	if _, err := gr.Graph(ctx, bot.Graph{Start: now.Add(-time.Hour), End: now, Queries: []bot.GraphQuery{{Expr: "up", Source: empty.URL}}}); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("no data: err = %v, want ErrNotFound", err)
	}
}

func TestUnitsAndTicks(t *testing.T) {
	tests := []struct {
		expr       string
		lo, hi     float64
		axis, want string
	}{
		{"process_resident_memory_bytes", 0, 900 << 20, "bytes", "MiB"},
		{"deriv(process_resident_memory_bytes[30m]) > 0", 0, 40 << 20, "bytes per second", "MiB/s"},
		{"histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))", 0, 0.4, "seconds per second", "ms/s"},
		{"node_boot_time_seconds", 0, 7200, "seconds", " h"},
		{"sum(rate(http_requests_total[5m]))", 0, 25000, "value per second", "k/s"},
		{"up", 0, 1, "value", ""},
	}
	for _, tc := range tests {
		u := unitOf(tc.expr)
		ticks := u.Ticks(tc.lo, tc.hi)
		labels := []string{}
		for _, tk := range ticks {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if u.axis != tc.axis || len(labels) < 2 || !strings.HasSuffix(labels[1], tc.want) {
			t.Errorf("%s: axis %q ticks %v; want axis %q and labels ending %q", tc.expr, u.axis, labels, tc.axis, tc.want)
		}
	}
	day := float64(time.Date(2024, 6, 20, 13, 0, 0, 0, time.UTC).Unix())
	ticks := timeTicks{}.Ticks(day+7*60, day+2*3600+30*60)
	if len(ticks) < 4 || len(ticks) > 10 || ticks[0].Label != "13:15" || ticks[1].Label != "13:30" {
		t.Errorf("ticks over 13:07..15:30: %v, want every 15 or 30 minutes on round times", ticks)
	}
	if s := Step(time.Unix(0, 0), time.Unix(5400, 0), 300); s != 18*time.Second {
		t.Errorf("step over 1h30m = %v, want 18s", s)
	}
	if s := Step(time.Unix(0, 0), time.Unix(10, 0), 300); s != time.Second {
		t.Errorf("step over 10s = %v, want the 1s floor", s)
	}
}

func TestAFailedPrometheusIsNotAskedAgainForAWhile(t *testing.T) {
	var hits int
	var mu sync.Mutex
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()
	gr, _ := New(Options{Cooldown: time.Hour, Allow: allowLoopback(t)})
	now := time.Now()
	g := bot.Graph{Start: now.Add(-time.Hour), End: now, Queries: []bot.GraphQuery{{Expr: "up", Source: broken.URL}}}
	if _, err := gr.Graph(context.Background(), g); err == nil {
		t.Fatal("a failing Prometheus drew a graph")
	}
	_, err := gr.Graph(context.Background(), g)
	if err == nil || !strings.Contains(err.Error(), "not asked") || !strings.Contains(err.Error(), "500") {
		t.Errorf("second graph: %v, want it refused at once with the first failure", err)
	}
	if hits != 1 {
		t.Errorf("Prometheus was asked %d times, want once", hits)
	}
	gr.o.Cooldown = 0
	gr.down[broken.URL] = failure{until: time.Now().Add(-time.Second), err: errors.New("old")}
	gr.Graph(context.Background(), g)
	if hits != 2 {
		t.Errorf("after the cooldown Prometheus was asked %d times in all, want 2", hits)
	}
}
