package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

var errBoom = errors.New("boom")

// batched runs the n Updates that fn makes, queued behind a blocked one
// so that the writer takes them as one batch. It returns their errors and
// the writer's stats from just before the batch.
func batched(t *testing.T, s *Store, n int, fn func(i int) func(bot.Tx) error) ([]error, Stats) {
	t.Helper()
	waitFor, release := hold(t, s)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Update(context.Background(), fn(i)) })
	}
	waitFor(n)
	before := s.Stats()
	if err := release(); err != nil {
		t.Fatalf("blocking Update: %v", err)
	}
	wg.Wait()
	return errs, before
}

// TestFailuresInABatch: in a batch where some fns fail or panic after
// writing, the others land, the failing ones get their own error and leave
// nothing behind, and the batch still shares its commits.
func TestFailuresInABatch(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{})
	fails := func(i int) bool { return i%7 == 3 }
	panics := func(i int) bool { return i%13 == 5 && !fails(i) }
	errs, before := batched(t, s, 60, func(i int) func(bot.Tx) error {
		return func(tx bot.Tx) error {
			if err := tx.CreateIncident(incident(fmt.Sprint("u", i))); err != nil {
				return err
			}
			if fails(i) {
				return fmt.Errorf("update %d: %w", i, errBoom)
			}
			if panics(i) {
				panic(fmt.Sprint("update ", i))
			}
			return nil
		}
	})
	after := s.Stats()

	got := titles(t, s)
	committed := 1 // the blocker
	for i, err := range errs {
		var pe *PanicError
		stored := got[fmt.Sprint("u", i)] != 0
		switch {
		case fails(i) && !errors.Is(err, errBoom), panics(i) && !errors.As(err, &pe):
			t.Errorf("Update %d: got error %v, want its own", i, err)
		case (fails(i) || panics(i)) && stored:
			t.Errorf("Update %d failed, but its incident is stored", i)
		case !fails(i) && !panics(i) && (err != nil || !stored):
			t.Errorf("Update %d: got error %v, stored %v; want nil and stored", i, err, stored)
		}
		if stored {
			committed++
		}
	}
	for _, id := range got {
		if len(got) != committed || id < 1 || id > int64(committed) {
			t.Fatalf("incidents stored, title -> number: got %v, want %d numbered 1...%d", got, committed, committed)
		}
	}
	commits := after.Commits - before.Commits
	if commits < 2 || commits >= uint64(committed) {
		t.Errorf("commits for %d Updates: got %d, want 2 or a few more (grouped)", committed, commits)
	}
	t.Logf("%d updates in %d commits, %d fn calls", committed, commits, after.Calls-before.Calls)
}

// TestBatchIsSerializable: Updates sharing a transaction see each other's
// writes, in order, as if they had run one after the other.
func TestBatchIsSerializable(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{})
	if err := s.Update(context.Background(), createIn("counter")); err != nil {
		t.Fatal(err)
	}
	errs, _ := batched(t, s, 40, func(int) func(bot.Tx) error {
		return func(tx bot.Tx) error {
			inc, err := tx.Incident(1)
			if err != nil {
				return err
			}
			if inc.TruncatedAlerts == 4 {
				return errBoom // decided by what the earlier ones in the batch wrote
			}
			inc.TruncatedAlerts++
			return tx.UpdateIncident(inc)
		}
	})
	failed := 0
	for _, err := range errs {
		if errors.Is(err, errBoom) {
			failed++
		} else if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	err := s.View(context.Background(), func(tx bot.Tx) error {
		inc, err := tx.Incident(1)
		if err == nil && (inc.TruncatedAlerts != 4 || failed != 36) {
			t.Errorf("counter: got %d with %d failures, want 4 with 36 (every Update after the fourth saw 4)", inc.TruncatedAlerts, failed)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCancelledInQueueNeverRuns: a request given up on is skipped, not run.
func TestCancelledInQueueNeverRuns(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{})
	waitFor, release := hold(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx bot.Tx) error { ran.Store(true); return nil })
	}()
	waitFor(1)
	cancel()
	if err := <-done; !errors.Is(err, bot.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Update: got error %v, want one wrapping ErrUnavailable and context.Canceled", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), createIn("after")); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Errorf("fn of the cancelled Update ran; want it skipped")
	}
}

func TestQueueFull(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{QueueSize: 1})
	waitFor, release := hold(t, s)
	queued := make(chan error, 1)
	go func() { queued <- s.Update(context.Background(), createIn("queued")) }()
	waitFor(1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Update(ctx, createIn("rejected")); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("Update with the queue full: got error %v, want one wrapping ErrUnavailable", err)
	}
	if err := errors.Join(release(), <-queued); err != nil {
		t.Fatal(err)
	}
	if got, want := titles(t, s), map[string]int64{"blocker": 1, "queued": 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("incidents, title -> number: got %v, want %v", got, want)
	}
}

// TestCloseDrains: Close commits what is queued before closing the file,
// and the store refuses work afterwards.
func TestCloseDrains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor, release := hold(t, s)
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- s.Update(context.Background(), createIn(fmt.Sprint("q", i))) }()
	}
	waitFor(n)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while an Update was still running", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := release(); err != nil {
		t.Fatalf("blocking Update: %v", err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("queued Update: got error %v, want it committed", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Update(context.Background(), createIn("late")); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("Update after Close: got error %v, want one wrapping ErrUnavailable", err)
	}
	if err := s.View(context.Background(), func(bot.Tx) error { return nil }); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("View after Close: got error %v, want one wrapping ErrUnavailable", err)
	}
	if err := s.Ping(); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("Ping after Close: got error %v, want one wrapping ErrUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := titles(t, open(t, path, Options{})); len(got) != n+1 {
		t.Errorf("incidents after reopening: got %d (%v), want %d", len(got), got, n+1)
	}
}

func TestStatsAndOnCommit(t *testing.T) {
	var mu sync.Mutex
	var seen []Commit
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{OnCommit: func(c Commit) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, c)
	}})
	for i := range 3 {
		if err := s.Update(context.Background(), createIn(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Update(context.Background(), func(bot.Tx) error { return errBoom })
	st := s.Stats()
	if st.Commits != 3 || st.Updates != 4 || st.Calls != 4 || st.LastBatch != 1 || st.CommitTime <= 0 {
		t.Errorf("Stats: got %+v, want 3 commits, 4 updates, 4 calls, last batch 1, some commit time", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0].Updates != 1 || seen[0].Err != nil {
		t.Errorf("OnCommit calls: got %+v, want 3 of 1 update each", seen)
	}
}

// TestReadOnlyUpdatesDoNotCommit: Updates that only read (a duplicate
// notification) are answered without a commit, alone or batched; one
// writer in the batch commits them all, and what was written before is
// still there.
func TestReadOnlyUpdatesDoNotCommit(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{})
	if err := s.Update(context.Background(), createIn("first")); err != nil {
		t.Fatal(err)
	}
	read := func(tx bot.Tx) error { _, err := tx.Incident(1); return err }
	before := s.Stats()
	if err := s.Update(context.Background(), read); err != nil {
		t.Fatalf("read-only Update: %v", err)
	}
	if st := s.Stats(); st.Commits != before.Commits || st.Updates != before.Updates+1 {
		t.Errorf("one read-only Update: commits %d -> %d, updates %d -> %d; want no commit, one update answered",
			before.Commits, st.Commits, before.Updates, st.Updates)
	}
	errs, _ := batched(t, s, 10, func(i int) func(bot.Tx) error {
		if i == 7 {
			return createIn("second")
		}
		return read
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d of the mixed batch: %v", i, err)
		}
	}
	if got := titles(t, s); len(got) != 3 || got["first"] != 1 || got["second"] == 0 {
		t.Errorf("incidents: got %v, want first (1), blocker and second", got)
	}
}
