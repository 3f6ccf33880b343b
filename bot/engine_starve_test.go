package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// badStore fails every transaction that reads incident 666 (a timer that
// always fails), and records the limits of the timer reads.
type badStore struct {
	Store
	mu     sync.Mutex
	limits []int
}

type badTx struct {
	Tx
	s *badStore
}

func (s *badStore) Update(ctx context.Context, fn func(Tx) error) error {
	return s.Store.Update(ctx, func(tx Tx) error { return fn(badTx{tx, s}) })
}

func (s *badStore) View(ctx context.Context, fn func(Tx) error) error {
	return s.Store.View(ctx, func(tx Tx) error { return fn(badTx{tx, s}) })
}

func (t badTx) Incident(id int64) (*Incident, error) {
	if id == 666 {
		return nil, errors.New("disk on fire under incident 666")
	}
	return t.Tx.Incident(id)
}

func (t badTx) note(limit int) {
	t.s.mu.Lock()
	t.s.limits = append(t.s.limits, limit)
	t.s.mu.Unlock()
}

func (t badTx) DueTimers(now time.Time, limit int) ([]Timer, error) {
	t.note(limit)
	return t.Tx.DueTimers(now, limit)
}

func (t badTx) TimersAfter(after *Timer, until time.Time, limit int) ([]Timer, error) {
	t.note(limit)
	return t.Tx.TimersAfter(after, until, limit)
}

// 300 timers that always fail, due before a good one, are more than a
// batch (256): each failure moves its timer later, so the good one is
// read and fires at once rather than never.
func TestFailingTimersDoNotStarveOthers(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	bad := &badStore{Store: h.store}
	h.svc = NewService(bad, Options{Now: h.clock.Now, OnCall: h.oc})
	h.restart(EngineOptions{})
	ctx := context.Background()
	early := h.clock.Now().Add(-time.Hour)
	h.must(bad.Update(ctx, func(tx Tx) error {
		for i := range 300 {
			if err := tx.AddTimer(&Timer{Due: early.Add(time.Duration(i) * time.Millisecond), Kind: TimerStep, IncidentID: 666, Escalation: 1, CreatedAt: early}); err != nil {
				return err
			}
		}
		return nil
	}))
	h.open()
	h.run()
	same(t, "slack", h.slack.got(), []string{"UA@0"})
	var left []Timer
	h.must(bad.View(ctx, func(tx Tx) (err error) { left, err = tx.DueTimers(endOfTime, 0); return err }))
	n := 0
	for _, tm := range left {
		if tm.IncidentID == 666 {
			n++
			if tm.Fails < 1 || !tm.Due.After(h.clock.Now()) {
				t.Errorf("failing timer %d: fails %d, due %s; want moved past now (%s)", tm.ID, tm.Fails, tm.Due, h.clock.Now())
			}
		}
	}
	if n != 300 {
		t.Errorf("%d failing timers left, want all 300 (they are tried again)", n)
	}
	// They back off: the second failure waits twice as long as the first.
	h.advance(5 * time.Second)
	h.must(bad.View(ctx, func(tx Tx) (err error) { left, err = tx.DueTimers(endOfTime, 1); return err }))
	if len(left) != 1 || left[0].Fails != 2 || left[0].Due.Sub(h.clock.Now()) != 10*time.Second {
		t.Errorf("after the second failure: %+v, want fails 2, due in 10s", left)
	}
}

// At start, the engine reads the pending timers (to settle pages a stop
// cut, to find the hand-off chains) a batch at a time, never all at once,
// and still finds them all.
func TestEngineReadsTimersInPages(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{})
	bad := &badStore{Store: h.store}
	h.svc = NewService(bad, Options{Now: h.clock.Now, OnCall: h.oc})
	h.oc.Teams[0].Channel = "C0PAY"
	h.restart(EngineOptions{Batch: 2})
	ctx := context.Background()
	// Three incidents fire their first step; their six pages are pending
	// when the process stops.
	for i := range 3 {
		a := firing(fmt.Sprint("f", i), 0)
		a.StartsAt = h.clock.Now().Add(-time.Minute)
		if _, err := h.svc.Ingest(ctx, &Notification{Receiver: "r", GroupKey: fmt.Sprint("g", i), Status: AlertFiring, Alerts: []Alert{a}}); err != nil {
			t.Fatal(err)
		}
	}
	var due []Timer
	h.must(bad.View(ctx, func(tx Tx) (err error) { due, err = tx.DueTimers(h.clock.Now(), 0); return err }))
	for _, tm := range due {
		h.must(h.eng.fireStep(ctx, tm))
	}
	ho := &fakeHandOffer{}
	h.restart(EngineOptions{Batch: 2, HandOffer: ho})
	bad.limits = nil
	h.eng.recover(ctx)
	h.eng.wg.Wait()
	h.must(h.eng.seedHandOffs(ctx))
	h.advance(5 * time.Second) // the pages of later batches wait for the group window
	for _, l := range bad.limits {
		if l <= 0 || l > 2 {
			t.Fatalf("timer reads at start with limits %v, want each at most the batch (2)", bad.limits)
		}
	}
	if got := len(h.slack.got()) + len(h.email.got()); got != 6 {
		t.Errorf("%d pages sent at start, want the 6 pending", got)
	}
	var handOffs int
	h.must(bad.View(ctx, func(tx Tx) error {
		all, err := tx.DueTimers(endOfTime, 0)
		for _, tm := range all {
			if tm.Kind == TimerHandOff && tm.Chain {
				handOffs++
			}
		}
		return err
	}))
	if handOffs != 1 {
		t.Errorf("%d hand-off chains, want 1", handOffs)
	}
}

// A page the method keeps rate-limiting is not retried for ever: past
// RateLimitedFor it is given up, on the timeline, and the next step still
// pages (the safety net).
func TestRateLimitedPageIsGivenUp(t *testing.T) {
	h := newOnCallHarness(t, EngineOptions{RateLimitedFor: 2 * time.Minute})
	for range 1000 {
		h.slack.fail = append(h.slack.fail, &RetryAfterError{After: 30 * time.Second})
	}
	id := h.open()
	h.run()
	for range 9 { // 4m30s: step 2 is not due yet
		h.advance(30 * time.Second)
	}
	var slackPage *Page
	for _, p := range h.pages(id) {
		if p.Via == ViaSlack && p.Target == "UA" && p.N == 0 {
			slackPage = &p
		}
	}
	if slackPage == nil || slackPage.Status != PageFailed || !strings.Contains(slackPage.Error, "given up: rate limited for 2m0s") {
		t.Fatalf("the rate-limited page = %+v, want failed, given up after 2m", slackPage)
	}
	left := 1000 - 5 // tries at 0s, 30s, 60s, 90s, 120s; the one that would wait past 2m gives up
	if n := len(h.slack.fail); n != left {
		t.Errorf("%d tries of the rate-limited page, want 5", 1000-n)
	}
	if paged := h.texts(id, KindPaged); !slices.Contains(paged, "could not page <@UA> by slack (team payments, step 1): given up: rate limited for 2m0s (rate limited, retry after 30s)") {
		t.Errorf("paged entries:\n%s", strings.Join(paged, "\n"))
	}
	h.slack.fail = nil
	h.advance(30 * time.Second)
	if esc := h.texts(id, KindEscalation); len(esc) < 3 || !strings.Contains(esc[2], "step 2: paging") {
		t.Errorf("step 2 did not fire after the give-up:\n%s", strings.Join(esc, "\n"))
	}
}
