package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// patience is how long the suite waits for something that should be
// prompt before calling it stuck.
const patience = 5 * time.Second

// block starts an Update that opens an incident and then waits, inside
// fn, until release is called, so that the Updates after it that open
// incidents have to wait: behind a single writer, or for the number the
// blocked one holds (a store with concurrent writers must keep numbers
// without gaps, so a second open cannot take a number before the first
// commits or gives its number back). release returns the blocked Update's
// result. If the test ends first, the fn is let go so the store can close.
func block(t *testing.T, s bot.Store) (release func() error) {
	t.Helper()
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var start, open sync.Once
	go func() {
		done <- s.Update(context.Background(), func(tx bot.Tx) error {
			if err := tx.CreateIncident(minimal("blocker")); err != nil {
				return err
			}
			start.Do(func() { close(started) })
			<-gate
			return nil
		})
	}()
	letGo := func() { open.Do(func() { close(gate) }) }
	t.Cleanup(letGo)
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("blocking Update returned %v before its fn ran", err)
	case <-time.After(patience):
		t.Fatalf("blocking Update's fn did not run within %s", patience)
	}
	return func() error {
		letGo()
		return <-done
	}
}

// testCancelledBefore: an Update whose ctx is already done fails with
// ErrUnavailable, and fn never runs.
func testCancelledBefore(t *testing.T, s bot.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls atomic.Int32
	err := s.Update(ctx, func(tx bot.Tx) error {
		calls.Add(1)
		return tx.CreateIncident(minimal("cancelled"))
	})
	if !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("Update with a cancelled ctx: got error %v, want one wrapping %v", err, bot.ErrUnavailable)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("fn calls: got %d, want 0", n)
	}
	if got := titles(t, s); len(got) != 0 {
		t.Errorf("incidents after a cancelled Update: got %v, want none", got)
	}
}

// testCancelledWhileWaiting: an Update whose ctx ends while it waits for
// another returns ErrUnavailable at once, not when the other finishes, and
// its write never lands.
func testCancelledWhileWaiting(t *testing.T, s bot.Store) {
	release := block(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx bot.Tx) error { return tx.CreateIncident(minimal("waiter")) })
	}()
	time.Sleep(50 * time.Millisecond) // let it queue behind the blocked one
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, bot.ErrUnavailable) {
			t.Errorf("Update cancelled while waiting: got error %v, want one wrapping %v", err, bot.ErrUnavailable)
		}
	case <-time.After(patience):
		t.Fatalf("Update cancelled while waiting: still waiting %s later", patience)
	}
	if err := release(); err != nil {
		t.Fatalf("blocking Update: %v", err)
	}
	if got := titles(t, s); got["waiter"] != 0 || got["blocker"] != 1 {
		t.Errorf("incidents, title -> number: got %v, want only blocker: 1", got)
	}
}

// testCancelledDuring: when ctx ends while fn runs, Update's answer is the
// truth: nil if the write landed, an ErrUnavailable if it did not.
func testCancelledDuring(t *testing.T, s bot.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	err := s.Update(ctx, func(tx bot.Tx) error {
		cancel()
		return tx.CreateIncident(minimal("during"))
	})
	stored := titles(t, s)["during"] != 0
	if err != nil && !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("Update: got error %v, want nil or one wrapping %v", err, bot.ErrUnavailable)
	}
	if (err == nil) != stored {
		t.Errorf("Update returned %v and the write is stored: %v; want both or neither", err, stored)
	}
}

// testCancellationsAreTruthful: 50 Updates with deadlines from none to
// short race the store. Each answer matches what was stored, and the
// numbers of what was stored are 1...n without gaps.
func testCancellationsAreTruthful(t *testing.T, s bot.Store) {
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%10)*200*time.Microsecond)
		wg.Go(func() {
			defer cancel()
			errs[i] = s.Update(ctx, func(tx bot.Tx) error { return tx.CreateIncident(minimal(fmt.Sprint("c", i))) })
		})
	}
	wg.Wait()
	got := titles(t, s)
	for i, err := range errs {
		stored := got[fmt.Sprint("c", i)] != 0
		switch {
		case err == nil && !stored:
			t.Errorf("Update %d returned nil, but its incident is not stored", i)
		case err != nil && stored:
			t.Errorf("Update %d returned %v, but its incident is stored", i, err)
		case err != nil && !errors.Is(err, bot.ErrUnavailable):
			t.Errorf("Update %d: got error %v, want one wrapping %v", i, err, bot.ErrUnavailable)
		}
	}
	for i, id := range sortedIDs(got) {
		if id != int64(i+1) {
			t.Fatalf("incident numbers: got %v, want 1...%d, each once", sortedIDs(got), len(got))
		}
	}
}
