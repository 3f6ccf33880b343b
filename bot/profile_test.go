package bot_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// fakeProfiler answers each Fetch with the next of its answers.
type fakeProfiler struct {
	mu      sync.Mutex
	answers []fetched
	fetches []string
}

type fetched struct {
	data []byte
	err  error
}

func (f *fakeProfiler) Fetch(_ context.Context, t bot.ProfileTarget) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches = append(f.fetches, t.URL)
	a := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	return a.data, a.err
}

func (f *fakeProfiler) Diff(base, next []byte, n int) (bot.ProfileDiff, error) {
	return bot.ProfileDiff{Growth: int64(len(next) - len(base)), Sites: []bot.GrowthSite{
		{Function: "main.leakyCache", File: "leaker/main.go", Line: 21, Growth: int64(len(next) - len(base)), Share: 1}}}, nil
}

type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBlobs) Put(name string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[name] = data
	return nil
}

func (b *memBlobs) DeleteIncident(id int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.m {
		if strings.HasPrefix(k, fmt.Sprintf("inc-%d/", id)) {
			delete(b.m, k)
		}
	}
	return nil
}

func (b *memBlobs) Get(name string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", bot.ErrNotFound, name)
	}
	return d, nil
}

func newProfileService(t *testing.T, fp *fakeProfiler, after time.Duration) (*bot.Service, bot.Store, *time.Time) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	targets := func(a bot.Alert) []bot.ProfileTarget {
		if a.Labels["alertname"] != "MemoryLeak" {
			return nil
		}
		return []bot.ProfileTarget{{URL: "http://" + a.Labels["instance"] + "/debug/pprof/heap", Allow: []string{"10.0.0.0/8"}, After: after}}
	}
	svc := bot.NewService(st, bot.Options{Now: func() time.Time { return now }, Profiler: fp,
		ProfileBlobs: &memBlobs{m: map[string][]byte{}}, ProfileTargets: targets})
	return svc, st, &now
}

func runEngine(t *testing.T, svc *bot.Service, now func() time.Time) {
	e := bot.NewEngine(svc, bot.EngineOptions{Now: now, Poll: 10 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
}

func TestProfilesAtOpenAndAfter(t *testing.T) {
	fp := &fakeProfiler{answers: []fetched{{data: []byte("first")}, {data: []byte("second, larger")}}}
	svc, _, now := newProfileService(t, fp, 10*time.Minute)
	ctx := context.Background()
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	var mu sync.Mutex
	clock := *now
	engineNow := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	runEngine(t, svc, engineNow)
	waitProfiles := func(n int) []bot.ProfileCapture {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			caps, _, _ := svc.Profiles(ctx, id)
			if len(caps) >= n {
				return caps
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d profiles after 5s, want %d", len(caps), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitProfiles(1)
	time.Sleep(50 * time.Millisecond)
	if caps, _, _ := svc.Profiles(ctx, id); len(caps) != 1 {
		t.Fatalf("%d profiles before `after` passed", len(caps))
	}
	mu.Lock()
	clock = clock.Add(10 * time.Minute)
	mu.Unlock()
	waitProfiles(2)
	_, diffs, _ := svc.Profiles(ctx, id)
	if len(diffs) != 1 || diffs[0].Base != 1 || diffs[0].Next != 2 || diffs[0].Target != "http://pg-1/debug/pprof/heap" {
		t.Fatalf("diffs %+v", diffs)
	}
	data, err := svc.ProfileData(ctx, id, 2)
	if err != nil || string(data) != "second, larger" {
		t.Errorf("profile 2 = %q, %v", data, err)
	}
	var texts []string
	for _, e := range timelineOf(t, svc, id) {
		if e.Kind == bot.KindProfile || e.Kind == bot.KindProfileDiff {
			texts = append(texts, e.Text)
		}
	}
	if len(texts) != 3 || !strings.Contains(texts[2], "main.leakyCache (leaker/main.go:21) +9 B, 100% of the growth") {
		t.Errorf("timeline says %q", texts)
	}
	if len(fp.fetches) != 2 {
		t.Errorf("fetched %d times, want 2 (no third capture by itself)", len(fp.fetches))
	}
}

func TestProfileFailuresAreRecorded(t *testing.T) {
	fp := &fakeProfiler{answers: []fetched{
		{err: errors.New("fetching http://pg-1/debug/pprof/heap: connection refused")},
		{data: []byte("<html>"), err: fmt.Errorf("%w: does not parse as a profile", bot.ErrInvalid)},
		{data: []byte("good")},
	}}
	svc, st, _ := newProfileService(t, fp, 10*time.Minute)
	ctx := context.Background()
	id := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	caps, diffs, err := svc.CaptureProfiles(ctx, id, "<@U1>")
	if err != nil || len(caps) != 1 || !strings.Contains(caps[0].Error, "connection refused") || caps[0].File != "" || len(diffs) != 0 {
		t.Fatalf("failed fetch: %+v %+v %v", caps, diffs, err)
	}
	caps, _, _ = svc.CaptureProfiles(ctx, id, "<@U1>")
	if !strings.Contains(caps[0].Error, "does not parse") || caps[0].File == "" {
		t.Errorf("unparsable capture %+v: want it kept and marked", caps[0])
	}
	caps, diffs, _ = svc.CaptureProfiles(ctx, id, "<@U1>")
	if caps[0].Error != "" || len(diffs) != 0 {
		t.Errorf("the first good capture has nothing to compare with: %+v %+v", caps, diffs)
	}
	var timers []bot.Timer
	_ = st.View(ctx, func(tx bot.Tx) (err error) { timers, err = tx.DueTimers(time.Now().Add(time.Hour), 10); return err })
	for _, tm := range timers {
		if tm.Kind == bot.TimerProfile && tm.N == 1 {
			t.Errorf("a capture by hand scheduled a second capture: %+v", tm)
		}
	}

	other := notification(bot.Alert{Fingerprint: "ff01", Status: bot.AlertFiring, Labels: map[string]string{"alertname": "DiskFull"}, StartsAt: t0})
	other.GroupKey = "{}:{alertname=\"DiskFull\"}"
	disk := mustIngest(t, svc, other).Incident
	if _, _, err := svc.CaptureProfiles(ctx, disk, "<@U1>"); !errors.Is(err, bot.ErrConflict) || !strings.Contains(err.Error(), "pprof_url") {
		t.Errorf("an incident nothing profiles: %v, want ErrConflict saying why", err)
	}
}

type pngGrapher struct{}

func (pngGrapher) Graph(context.Context, bot.Graph) ([]byte, error) { return []byte("png"), nil }

func TestGraphDeliveriesAtOpenAndResolution(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := bot.NewService(st, bot.Options{Now: func() time.Time { return t0.Add(time.Hour) }, Chat: true, Grapher: pngGrapher{}})
	graphs := func() int {
		var ds []bot.Delivery
		_ = st.View(context.Background(), func(tx bot.Tx) (err error) { ds, err = tx.Pending(0); return err })
		n := 0
		for _, d := range ds {
			if d.Kind == bot.DeliveryGraph {
				n++
			}
		}
		return n
	}
	a := leakAlert("pg-1", 0, -1)
	a.GeneratorURL = "http://prometheus:9090/graph?g0.expr=up"
	id := mustIngest(t, svc, notification(a)).Incident
	if n := graphs(); n != 1 {
		t.Fatalf("%d graph deliveries after opening, want 1", n)
	}
	if _, err := svc.Apply(context.Background(), id, bot.Action{Op: bot.OpNote, Actor: "<@U1>", Text: "looking"}); err != nil {
		t.Fatal(err)
	}
	if n := graphs(); n != 1 {
		t.Fatalf("a note added a graph: %d", n)
	}
	a.Status, a.EndsAt = bot.AlertResolved, new(t0.Add(30*time.Minute))
	mustIngest(t, svc, notification(a))
	if n := graphs(); n != 2 {
		t.Errorf("%d graph deliveries after the alerts resolved the incident, want 2", n)
	}
}
