package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/incidentbot/incidentbot/bot"
)

// Group commit: concurrent Updates of one replica share transactions, so
// that a webhook storm costs one BEGIN, one COMMIT and one WAL flush per
// batch instead of per webhook. A few writers each take the requests
// waiting in the queue (up to maxBatch), run their fns one after the other
// in one SERIALIZABLE transaction and commit once. Whenever something goes
// wrong in a batch (a fn fails, the database refuses, the commit loses a
// race) the batch is rolled back and its requests run again one at a time,
// each in its own transaction with its own retries: fn may run more than
// once, as the bot.Store contract says, and only the last run counts.

const (
	// writers is how many batches of one replica run at once. One: the
	// replica's own writes never conflict with each other (replicas'
	// writes may, and are retried); in a storm on two shared cores,
	// two, four and eight writers were slower (docs/performance.md §9).
	writers = 1
	// batchTries is how often a batch that lost a race runs again
	// together before its requests run alone.
	batchTries = 3
	// maxBatch caps a batch, bounding the work redone after a failure.
	maxBatch = 64
	// queueSize bounds how many Updates wait for a writer.
	queueSize = 4096
)

type request struct {
	ctx   context.Context
	fn    func(tx bot.Tx) error
	state atomic.Int32 // queued, taken or abandoned
	done  chan error
	// answered is set by the writer once it has sent the outcome.
	answered bool
}

func (r *request) answer(err error) {
	r.done <- err
	r.answered = true
}

const (
	queued int32 = iota
	taken
	abandoned
)

type batcher struct {
	mu     sync.RWMutex
	closed bool
	queue  chan *request
	quit   chan struct{}
	wg     sync.WaitGroup
}

func (s *Store) startWriters() {
	s.b = &batcher{queue: make(chan *request, queueSize), quit: make(chan struct{})}
	for range writers {
		s.b.wg.Add(1)
		go s.writer()
	}
}

// stopWriters lets the writers finish the queued requests, then stops them.
func (s *Store) stopWriters() {
	s.b.mu.Lock()
	if s.b.closed {
		s.b.mu.Unlock()
		return
	}
	s.b.closed = true
	s.b.mu.Unlock()
	close(s.b.quit)
	s.b.wg.Wait()
}

// Update implements bot.Store. It returns an error wrapping
// bot.ErrUnavailable when ctx ends before a writer took the request or
// when the store is closed. Once a writer has taken it, Update waits for
// its outcome even if ctx ends meanwhile, so that its answer is the truth.
func (s *Store) Update(ctx context.Context, fn func(tx bot.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.b.mu.RLock()
	if s.b.closed {
		s.b.mu.RUnlock()
		return fmt.Errorf("postgres: %w: store is closed", bot.ErrUnavailable)
	}
	select {
	case s.b.queue <- r:
		s.b.mu.RUnlock()
	case <-ctx.Done():
		s.b.mu.RUnlock()
		return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, ctx.Err())
		}
		return <-r.done
	}
}

func (s *Store) writer() {
	defer s.b.wg.Done()
	for {
		var first *request
		select {
		case first = <-s.b.queue:
		case <-s.b.quit:
			// Closing: finish what is queued, then stop.
			for {
				select {
				case r := <-s.b.queue:
					s.runBatch([]*request{r})
				default:
					return
				}
			}
		}
		batch := []*request{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.b.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.runBatch(batch)
	}
}

// runBatch runs the requests still wanted in one transaction.
func (s *Store) runBatch(batch []*request) {
	live := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(queued, taken) {
			live = append(live, r)
		}
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].answer(s.alone(live[0].ctx, live[0].fn))
		return
	}
	for try := 1; s.together(live) && try < batchTries; try++ {
		// The batch lost a race with another transaction (another
		// replica's, another writer's), which has committed by now: the
		// batch again, rather than each of its requests in a transaction
		// of its own.
	}
	for _, r := range live {
		if !r.answered {
			r.answer(s.alone(r.ctx, r.fn))
		}
	}
}

// together runs live in one transaction and, if it commits, answers every
// request. When a fn fails by itself, that request gets its error (its
// writes are gone with the rollback, which is what an error from fn
// means); when the commit's outcome is unknown (the connection broke
// during COMMIT) every request gets ErrUnavailable, since running them
// again could apply them twice. Requests left unanswered run alone;
// conflict reports that every one is, and that the batch only lost a race.
func (s *Store) together(live []*request) (conflict bool) {
	ctx := context.Background()
	c, err := s.acquire(ctx, s.wpool, beginWrite)
	if err != nil {
		return false
	}
	for _, r := range live {
		t := &tx{ctx: r.ctx, c: c, write: true}
		var ferr error
		if r.ctx.Err() == nil { // else its queries would be cut off: it runs alone
			ferr = r.fn(t)
		}
		if r.ctx.Err() != nil || t.failed != nil || ferr != nil {
			_ = c.finish(ctx, false)
			if r.ctx.Err() == nil && t.failed == nil {
				r.answer(ferr)
			}
			return r.ctx.Err() == nil && retryable(t.failed)
		}
	}
	err = c.finish(ctx, true)
	switch {
	case err == nil:
		for _, r := range live {
			r.answer(nil)
		}
	case !retryable(err):
		for _, r := range live {
			r.answer(unavailable(ctx, err))
		}
	default:
		return true
	}
	return false
}
