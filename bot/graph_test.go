package bot

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQueryOf(t *testing.T) {
	tests := []struct {
		name, url    string
		expr, source string
		ok           bool
	}{
		{"prometheus", "http://prometheus:9090/graph?g0.expr=deriv%28process_resident_memory_bytes%5B30m%5D%29+%3E+0&g0.tab=1",
			"deriv(process_resident_memory_bytes[30m]) > 0", "http://prometheus:9090", true},
		{"path prefix", "https://mon.example.com/prom/graph?g0.expr=up+%3D%3D+0", "up == 0", "https://mon.example.com/prom", true},
		{"another page keeps the host", "http://thanos:10902/alerts?g0.expr=up", "up", "http://thanos:10902", true},
		{"no expression", "http://prometheus:9090/graph?g0.tab=1", "", "", false},
		{"not http", "javascript:alert(1)?g0.expr=up", "", "", false},
		{"file", "file:///etc/passwd?g0.expr=up", "", "", false},
		{"empty", "", "", "", false},
		{"huge expression", "http://p/graph?g0.expr=" + strings.Repeat("x", 3000), "", "", false},
	}
	for _, tc := range tests {
		q, ok := QueryOf(tc.url)
		if ok != tc.ok || q.Expr != tc.expr || q.Source != tc.source {
			t.Errorf("%s: QueryOf(%q) = %+v, %v; want %q at %q, %v", tc.name, tc.url, q, ok, tc.expr, tc.source, tc.ok)
		}
	}
}

func TestGraphOf(t *testing.T) {
	t0 := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	gen := "http://prometheus:9090/graph?g0.expr=process_resident_memory_bytes+%3E+1e9"
	ack, res := t0.Add(20*time.Minute), t0.Add(90*time.Minute)
	inc := &Incident{ID: 4, Title: "MemoryLeak on payment-gateway", DetectedAt: t0, AcknowledgedAt: &ack, MitigatedAt: &res, ResolvedAt: &res,
		Alerts: []Alert{
			{Labels: map[string]string{"alertname": "MemoryLeak"}, StartsAt: t0, GeneratorURL: gen},
			{Labels: map[string]string{"alertname": "MemoryLeak"}, StartsAt: t0.Add(5 * time.Minute), GeneratorURL: gen},
			{Labels: map[string]string{"alertname": "HighGC"}, StartsAt: t0.Add(5 * time.Minute), GeneratorURL: "http://prometheus:9090/graph?g0.expr=rate(go_gc_duration_seconds_sum[5m])"},
		}}
	g, ok := GraphOf(inc, t0.Add(5*time.Hour))
	if !ok || len(g.Queries) != 2 {
		t.Fatalf("GraphOf = %+v, %v; want the two distinct expressions", g, ok)
	}
	if !g.Start.Equal(t0.Add(-time.Hour)) || !g.End.Equal(res.Add(15*time.Minute)) {
		t.Errorf("window %s..%s, want an hour before detection to 15m after resolution", g.Start, g.End)
	}
	var labels []string
	for _, m := range g.Marks {
		labels = append(labels, m.At.Format("15:04")+" "+m.Label)
	}
	want := "14:00 MemoryLeak fired|14:05 MemoryLeak fired|14:20 acknowledged|15:30 mitigated|15:30 resolved"
	if got := strings.Join(labels, "|"); got != want {
		t.Errorf("marks %s, want %s (one per distinct alert start)", got, want)
	}

	inc.ResolvedAt = nil
	if g, _ := GraphOf(inc, t0.Add(time.Hour)); !g.End.Equal(t0.Add(time.Hour)) {
		t.Errorf("open incident: window ends %s, want now", g.End)
	}
	if _, ok := GraphOf(&Incident{ID: 5, DetectedAt: t0, Alerts: []Alert{{StartsAt: t0}}}, t0); ok {
		t.Error("alerts without a generatorURL have nothing to graph")
	}
	inc.Alerts[0].GeneratorURL = ""
	for i := range 10 {
		inc.Alerts = append(inc.Alerts, Alert{StartsAt: t0, GeneratorURL: gen + "+%2B+" + strconv.Itoa(i)})
	}
	if g, _ := GraphOf(inc, t0.Add(time.Hour)); len(g.Queries) != maxGraphQueries {
		t.Errorf("%d queries, want at most %d", len(g.Queries), maxGraphQueries)
	}
}

// fakeGrapher answers png or err and records what it was asked.
type fakeGrapher struct {
	mu     sync.Mutex
	png    []byte
	err    error
	graphs []Graph
}

func (f *fakeGrapher) Graph(_ context.Context, g Graph) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.graphs = append(f.graphs, g)
	return f.png, f.err
}

func graphIncident(h *harness) int64 {
	id := h.incident("MemoryLeak")
	h.must(h.store.Update(context.Background(), func(tx Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		a := Alert{Fingerprint: "01", Status: AlertFiring, Labels: map[string]string{"alertname": "MemoryLeak"}, StartsAt: inc.DetectedAt,
			GeneratorURL: "http://prometheus:9090/graph?g0.expr=up"}
		return tx.PutAlerts(id, []Alert{a}, []Digest{AlertDigest(&a)}) // alerts live beside the incident
	}))
	return id
}

func TestWorkerDrawsGraphForTheChat(t *testing.T) {
	fg := &fakeGrapher{png: []byte("\x89PNG fake")}
	h := newHarness(t, WorkerOptions{Grapher: fg})
	var files [][]byte
	var mu sync.Mutex
	h.chat.fn = func(_ context.Context, _ *Incident, _ ChatRecord, d Delivery) (ChatResult, error) {
		mu.Lock()
		defer mu.Unlock()
		files = append(files, d.File)
		return ChatResult{}, nil
	}
	id := graphIncident(h)
	h.start()
	h.enqueue(Delivery{IncidentID: id, Kind: DeliveryGraph})
	eventually(t, "the graph delivered", func() bool { return len(h.pending()) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(files) != 1 || string(files[0]) != "\x89PNG fake" {
		t.Errorf("the chat got %q, want the drawn PNG", files)
	}
	if len(fg.graphs) != 1 || fg.graphs[0].Queries[0].Expr != "up" {
		t.Errorf("grapher asked %+v", fg.graphs)
	}
}

func TestWorkerGivesUpAFailingGraphWithOneWarning(t *testing.T) {
	fg := &fakeGrapher{err: errors.New("prometheus http://prometheus:9090: connection refused")}
	h := newHarness(t, WorkerOptions{Grapher: fg})
	id := graphIncident(h)
	h.start()
	h.enqueue(Delivery{IncidentID: id, Kind: DeliveryGraph}, Delivery{IncidentID: id, Kind: DeliveryPost, Text: "next"})
	eventually(t, "both deliveries done", func() bool { return len(h.pending()) == 0 })
	var warnings []string
	for _, e := range h.timeline(id) {
		if e.Kind == KindGraphFailed || e.Kind == KindDeliveryFailed {
			warnings = append(warnings, string(e.Kind)+": "+e.Text)
		}
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "graph_failed: no metric graph") || !strings.Contains(warnings[0], "connection refused") {
		t.Errorf("warnings %q, want one naming the graph and Prometheus's failure", warnings)
	}
	calls := h.chat.Calls()
	if len(calls) != 1 || calls[0].Kind != DeliveryPost {
		t.Errorf("chat calls %+v: want only the post (no graph, and the post not held up)", calls)
	}
	if len(fg.graphs) != 1 {
		t.Errorf("Prometheus asked %d times, want once (no retry)", len(fg.graphs))
	}
}

func TestDraftLinksTheGraph(t *testing.T) {
	t0 := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	inc := &Incident{ID: 9, Title: "MemoryLeak", DetectedAt: t0, Status: StatusInvestigating, Severity: SEV2,
		Alerts: []Alert{{StartsAt: t0, GeneratorURL: "http://prometheus:9090/graph?g0.expr=up"}}}
	pm := Draft(inc, nil, nil, t0.Add(time.Hour))
	if md := pm.Markdown(); !strings.Contains(md, "`GET /api/v1/incidents/9/graph.png`") {
		t.Errorf("draft without a public URL does not name the graph's API path:\n%s", md)
	}
	pm.PublicURL = "https://bot.example.com/"
	if md := pm.Markdown(); !strings.Contains(md, "![Metric graph of INC-9](https://bot.example.com/api/v1/incidents/9/graph.png)") {
		t.Errorf("draft does not show the graph:\n%s", md)
	}
	inc.Alerts[0].GeneratorURL = ""
	if md := Draft(inc, nil, nil, t0).Markdown(); strings.Contains(md, "graph.png") {
		t.Error("a draft without expressions links a graph")
	}
}

func FuzzQueryOf(f *testing.F) {
	for _, s := range []string{"http://prometheus:9090/graph?g0.expr=up&g0.tab=1", "https://p/x/graph?g0.expr=%zz", "::", "http://[::1]:9090/graph?g0.expr=a%0Ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, ok := QueryOf(s)
		if ok && (q.Expr == "" || len(q.Expr) > maxExprLen || !strings.HasPrefix(q.Source, "http")) {
			t.Errorf("QueryOf(%q) = %+v", s, q)
		}
	})
}
