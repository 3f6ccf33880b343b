package bot

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand; After fires when Advance
// passes its deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// chatCall is one call a fakeChat saw.
type chatCall struct {
	Incident int64
	Delivery uint64
	Kind     DeliveryKind
	Text     string
	Inc      Incident
	Rec      ChatRecord
}

// fakeChat records its calls and answers with fn (zero result when nil).
type fakeChat struct {
	mu    sync.Mutex
	calls []chatCall
	fn    func(ctx context.Context, inc *Incident, rec ChatRecord, d Delivery) (ChatResult, error)
}

func (f *fakeChat) Name() string { return "fake" }

func (f *fakeChat) Deliver(ctx context.Context, inc *Incident, rec ChatRecord, d Delivery) (ChatResult, error) {
	f.mu.Lock()
	f.calls = append(f.calls, chatCall{inc.ID, d.ID, d.Kind, d.Text, *inc, rec})
	fn := f.fn
	f.mu.Unlock()
	if fn == nil {
		return ChatResult{}, nil
	}
	return fn(ctx, inc, rec, d)
}

func (f *fakeChat) Calls() []chatCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chatCall(nil), f.calls...)
}

// harness runs a Worker over a memStore on a fake clock.
type harness struct {
	t     *testing.T
	store *memStore
	clock *fakeClock
	chat  *fakeChat
	w     *Worker
	stop  func()
}

func newHarness(t *testing.T, o WorkerOptions) *harness {
	t.Helper()
	h := &harness{t: t, store: newMemStore(), clock: newFakeClock(), chat: &fakeChat{}}
	o.Now, o.After = h.clock.Now, h.clock.After
	if o.Jitter == nil {
		o.Jitter = func() float64 { return 0 }
	}
	if o.Poll == 0 {
		o.Poll = time.Hour
	}
	h.w = NewWorker(h.store, h.chat, o)
	return h
}

// advance moves the clock and wakes the worker, so that it looks at the
// outbox with the new time even if it registered its timer too late.
func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.w.Wake()
}

// start runs the worker until the test ends or stop is called.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.w.Run(ctx); close(done) }()
	h.stop = func() { cancel(); <-done }
	h.t.Cleanup(h.stop)
}

// incident stores a new incident and returns its ID.
func (h *harness) incident(title string) int64 {
	h.t.Helper()
	inc := &Incident{Title: title, Severity: SEV2, Status: StatusInvestigating, DetectedAt: h.clock.Now(), CreatedAt: h.clock.Now()}
	h.must(h.store.Update(context.Background(), func(tx Tx) error { return tx.CreateIncident(inc) }))
	return inc.ID
}

// enqueue adds deliveries and wakes the worker.
func (h *harness) enqueue(ds ...Delivery) {
	h.t.Helper()
	h.must(h.store.Update(context.Background(), func(tx Tx) error {
		for i := range ds {
			ds[i].CreatedAt = h.clock.Now()
			if err := tx.Enqueue(&ds[i]); err != nil {
				return err
			}
		}
		return nil
	}))
	h.w.Wake()
}

func (h *harness) pending() []Delivery {
	var out []Delivery
	h.must(h.store.View(context.Background(), func(tx Tx) (err error) {
		out, err = tx.Pending(0)
		return err
	}))
	return out
}

func (h *harness) timeline(id int64) []TimelineEntry {
	var out []TimelineEntry
	h.must(h.store.View(context.Background(), func(tx Tx) (err error) {
		out, err = tx.Timeline(id)
		return err
	}))
	return out
}

// rec returns the fake chat's record of the incident.
func (h *harness) rec(id int64) ChatRecord {
	var r ChatRecord
	h.must(h.store.View(context.Background(), func(tx Tx) (err error) {
		r, err = tx.ChatRecord(id, h.chat.Name())
		return err
	}))
	return r
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

// eventually waits (in real time, briefly) for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// quiet gives the worker a moment to do something it should not.
func quiet() { time.Sleep(30 * time.Millisecond) }

func kindsOf(calls []chatCall, incident int64) []string {
	var out []string
	for _, c := range calls {
		if c.Incident == incident {
			out = append(out, string(c.Kind)+":"+c.Text)
		}
	}
	return out
}
