package bolt

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// A request's state decides, exactly once, whether the writer runs it or
// its caller gives up on it: the first to move it out of queued wins.
const (
	queued int32 = iota
	taken
	abandoned
)

// request is one Update waiting for, or being run by, the writer.
type request struct {
	ctx   context.Context
	fn    func(tx bot.Tx) error
	state atomic.Int32
	// err is what fn returned in its last run; only the writer uses it.
	err error
	// done receives the one answer; its buffer of 1 means the writer never
	// waits for a caller.
	done chan error
}

// PanicError is what Update returns when fn panicked. The writer survives
// the panic; the caller gets the value and the stack to find the bug.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("bolt: update function panicked: %v", e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// write is the writer goroutine: it takes one request, adds whatever else
// is already waiting, and commits them together, until Close.
func (s *Store) write() {
	defer close(s.done)
	batch := make([]*request, 0, s.maxBatch)
	for {
		select {
		case r := <-s.queue:
			if s.admit(r) {
				batch = append(batch, r)
			}
		case <-s.quit:
			// Close has stopped new requests: commit what is left, then stop.
			if batch = s.fill(batch); len(batch) == 0 {
				return
			}
		}
		batch = s.fill(batch)
		s.commit(batch)
		clear(batch) // let answered requests go
		batch = batch[:0]
	}
}

// fill adds the requests already waiting, up to MaxBatch, without
// blocking: a batch is what arrived while the previous commit was syncing,
// so a lone Update is committed at once, never held back for company.
func (s *Store) fill(batch []*request) []*request {
	for len(batch) < s.maxBatch {
		select {
		case r := <-s.queue:
			if s.admit(r) {
				batch = append(batch, r)
			}
		default:
			return batch
		}
	}
	return batch
}

// admit claims r for running. It refuses a request its caller has given
// up on, and answers one whose ctx ended while it waited: fn has not run,
// so ErrUnavailable is the truth.
func (s *Store) admit(r *request) bool {
	if !r.state.CompareAndSwap(queued, taken) {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		s.stats.rejected.Add(1)
		r.done <- fmt.Errorf("%w: update cancelled while waiting for the writer: %w", bot.ErrUnavailable, err)
		return false
	}
	return true
}

// commit runs reqs in one transaction and answers each.
//
// A fn that fails is taken out and the others rerun without it. The failed
// one is then run alone, after them, so that its answer is decided on
// committed state rather than on a batch that never was; one that failed
// first in its transaction already saw committed state, and its answer
// stands. Reruns are cheap next to an fsync, but a batch full of late
// failures would rerun quadratically: once the failed attempts have cost
// more than a commit does, the part before the failure is committed on its
// own instead.
func (s *Store) commit(reqs []*request) {
	var retry []*request
	var wasted time.Duration
	for len(reqs) > 0 {
		start := time.Now()
		bad, err := s.try(reqs)
		if bad < 0 {
			s.answer(reqs, err)
			break
		}
		failed := reqs[bad]
		if bad == 0 {
			s.answer(reqs[:1], failed.err)
		} else {
			retry = append(retry, failed)
		}
		if wasted += time.Since(start); bad > 0 && wasted > s.commitCost {
			s.commit(reqs[:bad])
			reqs, wasted = reqs[bad+1:], 0
			continue
		}
		reqs = slices.Delete(reqs, bad, bad+1)
	}
	for _, r := range retry {
		bad, err := s.try([]*request{r})
		if bad == 0 {
			err = r.err
		}
		s.answer([]*request{r}, err)
	}
}

// try runs reqs in order in one read-write transaction. When one fails it
// rolls back and returns its index (the error is in its err field);
// otherwise it commits and returns -1 and the commit's error. A
// transaction in which nothing was written is rolled back instead of
// committed: there is nothing to make durable.
func (s *Store) try(reqs []*request) (int, error) {
	btx, err := s.db.Begin(true)
	if err != nil {
		return -1, fmt.Errorf("%w: bolt: begin: %w", bot.ErrUnavailable, err)
	}
	t := &tx{btx: btx}
	for i, r := range reqs {
		if r.err = call(r.fn, t); r.err != nil {
			s.stats.calls.Add(uint64(i + 1))
			_ = btx.Rollback()
			return i, nil
		}
	}
	s.stats.calls.Add(uint64(len(reqs)))
	if !t.wrote {
		// Only reads (duplicate notifications, mostly): what they read was
		// committed and synced before this transaction began, so their
		// answers stand without a commit, which would sync the meta page
		// and the freelist all the same.
		_ = btx.Rollback()
		return -1, nil
	}
	start := time.Now()
	err = btx.Commit()
	c := Commit{Updates: len(reqs), Took: time.Since(start), Err: err}
	s.stats.commit(c)
	if err == nil {
		s.commitCost = (3*s.commitCost + c.Took) / 4
	}
	if s.onCommit != nil {
		s.onCommit(c)
	}
	if err != nil {
		return -1, fmt.Errorf("%w: bolt: commit: %w", bot.ErrUnavailable, err)
	}
	return -1, nil
}

// answer gives each of reqs its outcome.
func (s *Store) answer(reqs []*request, err error) {
	s.stats.updates.Add(uint64(len(reqs)))
	for _, r := range reqs {
		r.done <- err
	}
}

// call runs fn, turning a panic into an error so that one buggy caller
// cannot take down the writer every other caller depends on.
func call(fn func(bot.Tx) error, t bot.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(t)
}
