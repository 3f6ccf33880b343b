package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Chat carries out deliveries in the chat (Slack). The delivery worker is
// its only caller, and calls it for one incident at a time.
type Chat interface {
	// Name names the adapter ("slack"): the key of its ChatRecord in the
	// store and of its rooms in the room index. It never changes.
	Name() string
	// Deliver carries out the next step of d for inc and reports what it did.
	//
	// inc is the incident as stored and rec the adapter's record of it,
	// with everything earlier steps recorded; Deliver decides the next step
	// from them alone, so a retry or a restart resumes and does not repeat.
	// A delivery of several steps (DeliveryOpen, DeliveryRefresh) does one
	// step that changes the chat per call and returns More; the worker
	// records the result and calls again with the updated record until
	// More is false. A call that finds nothing left to do returns the zero
	// result.
	//
	// Errors: a *RetryAfterError means rate limited, try again after After;
	// an error wrapping ErrInvalid, ErrNotFound or ErrConflict is permanent
	// (the chat refused, and retrying the same step will not help); any
	// other error is transient (network, 5xx, context) and the step is safe
	// to retry. A failed step recorded nothing, so its retry redoes it whole.
	Deliver(ctx context.Context, inc *Incident, rec ChatRecord, d Delivery) (ChatResult, error)
}

// ChatResult is what one step of a delivery did. Zero fields changed
// nothing. The domain reads what it puts on the timeline; Record it
// stores as the adapter gave it.
type ChatResult struct {
	// More means d has further steps: record this one and call again.
	More bool
	// Record, when not nil, replaces the adapter's record of the incident
	// (ChatRecord), in the transaction that records this step. A Room it
	// has and the old record had not is a room created (or found again):
	// a channel_created entry.
	Record *ChatRecord
	// Invited lists the people the step invited into the room.
	Invited []string
	// Runbook names the runbook the step posted as a checklist, which has
	// RunbookSteps steps.
	Runbook      string
	RunbookSteps int
	// File names the file the step uploaded (the postmortem draft).
	File string
	// Pinned is the message a DeliveryPin step read.
	Pinned *PinnedMessage
	// Warning says what the step gave up on without failing the delivery
	// (an optional part, such as the headline); it becomes a
	// delivery_failed entry.
	Warning string
}

// PinnedMessage is a chat message someone pinned to the timeline.
type PinnedMessage struct {
	// Author is who wrote it, as the chat names people ("<@U123>").
	Author string
	Text   string
	// At is when it was posted.
	At time.Time
}

// WorkerOptions configures a Worker. Zero values are usable defaults.
type WorkerOptions struct {
	// Concurrency is how many incidents are delivered at a time; default 4.
	Concurrency int
	// Batch is how many pending deliveries one page of the outbox holds;
	// default 1000. A read goes on to the next pages (up to maxPages) while
	// the deliveries it saw are all of incidents already being delivered,
	// so that one incident with a long queue does not hide the others.
	Batch int
	// Poll is how often the outbox is read when nothing wakes the worker;
	// default 5s.
	Poll time.Duration
	// BackoffMin and BackoffMax bound the exponential back-off after
	// transient errors; defaults 2s and 5m.
	BackoffMin, BackoffMax time.Duration
	// MinRetryAfter is the least wait after a rate limit; default 1s.
	MinRetryAfter time.Duration
	// GiveUpAfter is how long after its creation a delivery that keeps
	// failing transiently is given up; default 24h.
	GiveUpAfter time.Duration
	// Grace is how long chat calls in flight may finish once Run's context
	// is done; default 10s.
	Grace time.Duration
	// Location is the time zone of postmortem drafts; nil means UTC.
	Location *time.Location
	// Directory names people in postmortem drafts; nil leaves user IDs.
	Directory Directory
	// Now and After are the clock; nil means time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Jitter returns a number in [0, 1) that spreads back-offs; nil means random.
	Jitter func() float64
	Log    *slog.Logger
	// OnChannel, when set, is called once a new chat room (channel) for
	// inc is durably recorded, with inc and the chat's record as recorded
	// and the worker clock's time, so that main can measure how long
	// incidents wait for their channel. It runs on a delivery goroutine and
	// must be quick.
	OnChannel func(inc *Incident, rec ChatRecord, at time.Time)
	// Grapher draws the graphs DeliveryGraph posts; nil gives those up
	// with a timeline warning.
	Grapher Grapher
	// PublicURL is the base of links in the drafts the worker renders.
	PublicURL string
	// Blobs holds the heap profiles DeliveryProfile uploads.
	Blobs ProfileBlobs
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	def(&o.Poll, 5*time.Second)
	def(&o.BackoffMin, 2*time.Second)
	def(&o.BackoffMax, 5*time.Minute)
	def(&o.MinRetryAfter, time.Second)
	def(&o.GiveUpAfter, 24*time.Hour)
	def(&o.Grace, 10*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Worker drains the outbox into the chat: lowest ID first, strictly in
// order within an incident, a few incidents at a time, so that one
// rate-limited or failing incident does not hold up the others. A delivery
// leaves the outbox only in the transaction that records its result.
type Worker struct {
	store   Store
	chat    Chat
	o       WorkerOptions
	wake    chan struct{}
	running atomic.Bool
}

// NewWorker returns a worker that delivers store's outbox to chat. Only one
// worker may run per store: two would deliver the same incident at once.
func NewWorker(store Store, chat Chat, o WorkerOptions) *Worker {
	return &Worker{store: store, chat: chat, o: o.withDefaults(), wake: make(chan struct{}, 1)}
}

// Wake tells the worker that something was enqueued, so it reads the
// outbox now rather than at its next poll. It never blocks; pass it as
// Options.Wake of the Service.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// queue is one incident's pending deliveries, oldest first.
type queue struct {
	incident int64
	list     []Delivery
}

// Run delivers until ctx is done, then lets chat calls in flight finish
// (for up to Grace; after that they are abandoned, and since nothing was
// recorded for them they run again later) and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("delivery worker is already running")
	}
	defer w.running.Store(false)
	calls, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	jobs := make(chan queue)
	done := make(chan int64, w.o.Concurrency)
	var wg sync.WaitGroup
	for range w.o.Concurrency {
		wg.Go(func() {
			for q := range jobs {
				w.work(ctx, calls, q)
				done <- q.incident
			}
		})
	}
	w.loop(ctx, jobs, done)
	close(jobs)
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(w.o.Grace):
		w.o.Log.Warn("delivery worker: abandoning chat calls still in flight", "grace", w.o.Grace)
		abandon()
		<-stopped
	}
	return nil
}

// loop hands due incidents to the workers until ctx is done. busy holds
// the incidents being delivered, at most Concurrency of them.
func (w *Worker) loop(ctx context.Context, jobs chan<- queue, done <-chan int64) {
	busy := make(map[int64]bool, w.o.Concurrency)
	for {
		wait := w.dispatch(ctx, jobs, busy)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case id := <-done:
			delete(busy, id)
		case <-w.o.After(wait):
		}
	}
}

// dispatch reads the outbox and starts every incident whose next delivery
// is due, while workers are free. It returns how long to wait before the
// next read when nothing else wakes the loop.
func (w *Worker) dispatch(ctx context.Context, jobs chan<- queue, busy map[int64]bool) time.Duration {
	pending, err := w.pending(ctx, busy)
	if err != nil {
		if ctx.Err() == nil {
			w.o.Log.Error("delivery worker: reading the outbox", "err", err)
		}
		return w.o.Poll
	}
	now, wait := w.o.Now(), w.o.Poll
	for _, q := range queues(pending) {
		if len(busy) >= w.o.Concurrency {
			break
		}
		if busy[q.incident] {
			continue
		}
		if due := q.list[0].NotBefore; due.After(now) {
			wait = min(wait, due.Sub(now))
			continue
		}
		busy[q.incident] = true
		select {
		case jobs <- q:
		case <-ctx.Done():
			return 0
		}
	}
	return wait
}

// maxPages bounds the pages of the outbox one dispatch reads.
const maxPages = 8

// pending reads the outbox page by page until it has seen deliveries of
// as many incidents not busy as there are free workers, or the end, or
// maxPages.
func (w *Worker) pending(ctx context.Context, busy map[int64]bool) ([]Delivery, error) {
	var out []Delivery
	free := map[int64]bool{}
	var after uint64
	for range maxPages {
		var page []Delivery
		err := w.store.View(ctx, func(tx Tx) (err error) {
			page, err = tx.PendingAfter(after, w.o.Batch)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		for _, d := range page {
			if !busy[d.IncidentID] {
				free[d.IncidentID] = true
			}
		}
		if len(page) < w.o.Batch || len(busy)+len(free) >= w.o.Concurrency {
			break
		}
		after = page[len(page)-1].ID
	}
	return out, nil
}

// queues groups deliveries (lowest ID first) by incident, keeping that
// order within each and ordering incidents by their oldest delivery.
func queues(pending []Delivery) []queue {
	var out []queue
	at := make(map[int64]int)
	for _, d := range pending {
		i, ok := at[d.IncidentID]
		if !ok {
			i = len(out)
			at[d.IncidentID] = i
			out = append(out, queue{incident: d.IncidentID})
		}
		out[i].list = append(out[i].list, d)
	}
	return out
}

// wakingStore calls wake after every committed update, so the worker
// sends what a change enqueued without waiting for its next poll.
type wakingStore struct {
	Store
	wake func()
}

func (s wakingStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if err == nil {
		s.wake()
	}
	return err
}
