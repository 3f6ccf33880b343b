// Package bolt is the embedded default bot.Store: one bbolt file next to the
// binary, nothing else to run.
//
// bbolt allows one writer at a time and every commit is an fsync, so
// committing each Update on its own would cap a webhook storm at one alert
// group per disk sync. Instead a single writer goroutine groups whatever
// Updates are waiting into one transaction and one fsync, and answers each
// caller only once that commit is durable.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var _ bot.Store = (*Store)(nil)

// ErrLocked means another process (or another Store in this one) has the
// file open: bbolt takes an exclusive lock, and waiting for it would only
// hide a second instance started by mistake.
var ErrLocked = errors.New("database file is locked by another process")

// Options tunes a Store. Zero values are usable defaults.
type Options struct {
	// QueueSize bounds how many Updates may wait for the writer, so a
	// stalled disk pushes back on callers instead of growing memory.
	// Default 1024.
	QueueSize int
	// MaxBatch caps how many Updates share one transaction, which bounds
	// the work lost and redone when one of them fails. Default 256.
	MaxBatch int
	// LockTimeout is how long Open waits for the file lock before giving up
	// with ErrLocked. Default 1s.
	LockTimeout time.Duration
	// OnCommit, when set, is called by the writer after every commit, for
	// metrics that need each commit (a latency histogram) rather than the
	// totals of Stats. It runs on the writer, so it must be quick.
	OnCommit func(Commit)
}

// Commit describes one commit, for Options.OnCommit.
type Commit struct {
	// Updates is how many Updates the transaction held.
	Updates int
	// Took is how long the commit (write and fsync) took.
	Took time.Duration
	// Err is the commit's error; every Update in it failed with it.
	Err error
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	return o
}

// Store is a bot.Store kept in one bbolt file. It is safe for concurrent
// use. An Update's fn runs on the store's writer goroutine, possibly more
// than once, so it must not call Update itself (that would wait for
// itself), block for long (every other writer waits behind it), or end the
// goroutine with runtime.Goexit (t.FailNow in a test): a panic is
// recovered, Goexit cannot be.
type Store struct {
	db       *bolt.DB
	queue    chan *request
	maxBatch int
	onCommit func(Commit)

	// mu is held for reading while an Update hands its request to the
	// queue; Close takes it for writing, so that once closed is set no
	// request can slip into the queue behind the writer's final drain.
	mu     sync.RWMutex
	closed bool
	quit   chan struct{} // closed by Close: drain the queue and stop
	done   chan struct{} // closed by the writer when it has stopped

	closeOnce sync.Once
	closeErr  error

	// commitCost is a moving average of commit times, which tells the
	// writer when redoing a batch costs more than splitting it. Only the
	// writer uses it.
	commitCost time.Duration

	stats stats
}

// Open opens (or creates) the database file at path and starts its writer.
// It fails with ErrLocked, after opts.LockTimeout, when another process
// holds the file.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	// The initial map is address space, not memory: reserving 1 GiB spares
	// the writer a remap (which copies every node it holds, and waits for
	// every reader to finish) each time the file grows, up to that size.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, InitialMmapSize: 1 << 30})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: %w (waited %s; is another incidentbot using this file?)",
			path, ErrLocked, opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	start := time.Now()
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{
		db:         db,
		queue:      make(chan *request, opts.QueueSize),
		maxBatch:   opts.MaxBatch,
		onCommit:   opts.OnCommit,
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		commitCost: time.Since(start),
	}
	go s.write()
	return s, nil
}

// Update implements bot.Store. It returns an error wrapping
// bot.ErrUnavailable without running fn when ctx is done before the writer
// takes the request (already done, queue full, or cancelled while waiting
// in the queue) or when the store is closed. Once the writer has taken the
// request, Update waits for its outcome even if ctx ends meanwhile, so a
// committed write is never reported as failed.
func (s *Store) Update(ctx context.Context, fn func(tx bot.Tx) error) error {
	if err := ctx.Err(); err != nil {
		s.stats.rejected.Add(1)
		return fmt.Errorf("%w: update not started: %w", bot.ErrUnavailable, err)
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := s.enqueue(ctx, r); err != nil {
		s.stats.rejected.Add(1)
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			s.stats.rejected.Add(1)
			return fmt.Errorf("%w: update cancelled while waiting for the writer: %w", bot.ErrUnavailable, ctx.Err())
		}
		// The writer has taken it: its answer, whatever it is, is the truth.
		return <-r.done
	}
}

// enqueue hands r to the writer, waiting while the queue is full.
func (s *Store) enqueue(ctx context.Context, r *request) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("%w: store is closed", bot.ErrUnavailable)
	}
	select {
	case s.queue <- r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: write queue is full: %w", bot.ErrUnavailable, ctx.Err())
	}
}

// View implements bot.Store. Readers do not wait for the writer: bbolt
// serves them a consistent snapshot of the last commit. It fails with
// bot.ErrUnavailable when ctx is already done or the store is closed.
func (s *Store) View(ctx context.Context, fn func(tx bot.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: view not started: %w", bot.ErrUnavailable, err)
	}
	btx, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("%w: bolt: begin read: %w", bot.ErrUnavailable, err)
	}
	// Deferred so that a panic in fn does not leave the snapshot open,
	// which would block Close forever.
	defer func() { _ = btx.Rollback() }()
	return fn(&tx{btx: btx})
}

// Ping reports whether the store can serve reads, for /readyz. It does not
// report a past commit failure: a probe that stayed red until the next
// write would keep traffic, and so that write, away for good.
func (s *Store) Ping() error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return fmt.Errorf("%w: store is closed", bot.ErrUnavailable)
	}
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("%w: bolt: %w", bot.ErrUnavailable, err)
	}
	return nil
}

// Close stops accepting Updates, commits the ones already queued, then
// closes the file. Later calls to Update and View fail with
// bot.ErrUnavailable; calling Close again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		<-s.done
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("bolt: close: %w", err)
		}
	})
	return s.closeErr
}

// Stats are the writer's running totals, for metrics.
type Stats struct {
	// Commits counts committed transactions; Updates/Commits is how well
	// grouping works.
	Commits uint64
	// FailedCommits counts commits that failed (disk errors); every
	// Update in them failed with bot.ErrUnavailable.
	FailedCommits uint64
	// Updates counts Updates the writer answered after running their fn.
	Updates uint64
	// Calls counts fn calls, reruns included; Calls well above Updates
	// means failing fns are forcing batches to be redone.
	Calls uint64
	// Rejected counts Updates answered bot.ErrUnavailable without running
	// fn: ctx done before the writer took them, or the store closed.
	Rejected uint64
	// LastBatch is how many Updates the last commit held.
	LastBatch int
	// CommitTime is the time spent committing (write and fsync), in total;
	// LastCommit is the last commit's.
	CommitTime, LastCommit time.Duration
	// Queued is how many Updates wait for the writer right now.
	Queued int
}

// stats accumulates Stats: the writer updates the commit figures under mu,
// callers only touch the atomic counters.
type stats struct {
	mu                     sync.Mutex
	commits, failedCommits uint64
	lastBatch              int
	commitTime, lastCommit time.Duration

	updates, calls, rejected atomic.Uint64
}

func (st *stats) commit(c Commit) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if c.Err != nil {
		st.failedCommits++
		return
	}
	st.commits++
	st.lastBatch = c.Updates
	st.commitTime += c.Took
	st.lastCommit = c.Took
}

// Stats returns the writer's running totals.
func (s *Store) Stats() Stats {
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	return Stats{
		Commits:       st.commits,
		FailedCommits: st.failedCommits,
		Updates:       st.updates.Load(),
		Calls:         st.calls.Load(),
		Rejected:      st.rejected.Load(),
		LastBatch:     st.lastBatch,
		CommitTime:    st.commitTime,
		LastCommit:    st.lastCommit,
		Queued:        len(s.queue),
	}
}
