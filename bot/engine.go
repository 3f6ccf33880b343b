package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// EngineOptions configures an Engine. Zero values are usable defaults.
type EngineOptions struct {
	// Pagers are the ways of paging; a target is paged by each that can
	// reach it (Slack always, email and webhook when the person has an
	// address for them).
	Pagers []Pager
	// PublicURL is the base of ack links and incident links; without it
	// email and webhook pages carry no ack link.
	PublicURL string
	// Now and After are the clock; nil means time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Poll bounds how long the engine sleeps without looking at the store
	// (a wall clock that jumped, a timer whose wake-up was missed); default
	// 1s, one read of the first key of the due index. Timers added through
	// the Service (Options.OnTimers) wake it at once.
	Poll time.Duration
	// Batch is how many due timers one read takes; default 256.
	Batch int
	// Workers is how many timers are handled at a time (their commits are
	// grouped by the store); default 16.
	Workers int
	// Sends is how many pages are sent at a time; default 16.
	Sends int
	// SendTimeout bounds one page attempt; default 30s.
	SendTimeout time.Duration
	// BackoffMin and BackoffMax bound the back-off between attempts of a
	// failing page; MaxAttempts gives up (the page is then failed).
	// Defaults 5s, 2m and 5.
	BackoffMin, BackoffMax time.Duration
	MaxAttempts            int
	// RateLimitedFor caps the waits of a page that the method rate-limits
	// (those are not attempts): once retrying would take the page past
	// this long after it was claimed, it is given up, recorded on the
	// timeline, and the policy's next step is the safety net. Default 10m.
	RateLimitedFor time.Duration
	// GroupWindow: after a message to a person by one method, more pages
	// to them by that method wait until this long after it and then go
	// out together, in one message listing their incidents with one
	// Acknowledge for all (a storm pages once per window, not once per
	// incident). The first page is never held. Default 5s; negative
	// turns grouping off.
	GroupWindow time.Duration
	// TokenTTL is how long an ack link works; default 24h.
	TokenTTL time.Duration
	Log      *slog.Logger
	// OnFire, when set, is told how late each timer fired (for the
	// lateness histogram). It runs on an engine goroutine and must be quick.
	OnFire func(kind TimerKind, late time.Duration)
	// OnPage, when set, is told the outcome of each page attempt.
	OnPage func(via string, err error)
	// HandOffer updates user groups and posts hand-off notes at shift
	// changes; nil means no hand-offs.
	HandOffer HandOffer
}

func (o EngineOptions) withDefaults() EngineOptions {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Poll, time.Second)
	def(&o.SendTimeout, 30*time.Second)
	def(&o.BackoffMin, 5*time.Second)
	def(&o.BackoffMax, 2*time.Minute)
	def(&o.TokenTTL, 24*time.Hour)
	def(&o.RateLimitedFor, 10*time.Minute)
	if o.GroupWindow == 0 {
		o.GroupWindow = 5 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Sends <= 0 {
		o.Sends = 16
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Engine runs the durable timers: escalation steps and page sends. It is
// not the chat outbox: it runs with or without a chat, and a page never
// waits behind an incident's channel work.
//
// Each timer is claimed in the transaction that does its work: a step's
// firing claims its pages, schedules the next step and deletes its own
// timer in one commit, so it happens once however often the service
// restarts. A page is claimed once per (incident, run, firing, target,
// method) by the store; its attempt is recorded (status sending) before
// the send and its outcome after. Sending is at most once per attempt: a
// page found "sending" after a restart (the process died between the
// send and its record) is marked failed as "outcome unknown" and not
// sent again, so nobody is paged twice for a step; the next step of the
// policy is the safety net. A send that reports a failure is retried with
// back-off, which is why pagers must only report errors when the message
// was not accepted.
type Engine struct {
	s         *Service
	o         EngineOptions
	pagers    map[string]Pager
	handOffer HandOffer
	wake      chan struct{}
	running   atomic.Bool

	mu       sync.Mutex
	inflight map[uint64]bool // page IDs being sent by this process
	// recent is when the last message to each group key (target and
	// method) was queued, for GroupWindow; entries older than the window
	// are dropped at each tick.
	recent map[string]time.Time
	sends  chan struct{}
	wg     sync.WaitGroup
}

// NewEngine returns the engine of svc's timers. Only one may run per store.
func NewEngine(svc *Service, o EngineOptions) *Engine {
	o = o.withDefaults()
	e := &Engine{s: svc, o: o, pagers: map[string]Pager{}, handOffer: o.HandOffer, wake: make(chan struct{}, 1),
		inflight: map[uint64]bool{}, recent: map[string]time.Time{}, sends: make(chan struct{}, o.Sends)}
	for _, p := range o.Pagers {
		e.pagers[p.Via()] = p
	}
	return e
}

// Wake tells the engine that a timer may have been added; it never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run fires timers until ctx is done, then waits for page sends in flight
// (each bounded by SendTimeout) and returns nil.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("timer engine is already running")
	}
	defer e.running.Store(false)
	defer e.wg.Wait()
	e.recover(ctx)
	if err := e.seedHandOffs(ctx); err != nil && ctx.Err() == nil {
		e.o.Log.Error("timer engine: scheduling hand-offs", "err", err)
	}
	for {
		wait := e.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-e.o.After(wait):
		}
	}
}

// recover settles, at start, the pages a previous process was sending or
// had queued when it stopped: their timers wait for the attempt's
// deadline, but no attempt of this process is in flight yet, so each is
// handled now rather than at that deadline: one cut mid-send is settled as
// "outcome unknown" (see pageToSend), one that was waiting for a send slot
// (or for a retry) is sent.
//
// The timers are read Batch at a time (a page's timer moves past the
// window when it is queued, so the cursor is the last timer read).
func (e *Engine) recover(ctx context.Context) {
	until := e.o.Now().Add(e.lease())
	var after *Timer
	for ctx.Err() == nil {
		var soon []Timer
		err := e.s.store.View(ctx, func(tx Tx) (err error) {
			soon, err = tx.TimersAfter(after, until, e.o.Batch)
			return err
		})
		if err != nil {
			e.o.Log.Error("timer engine: reading timers at start", "err", err)
			return
		}
		var cut []Timer
		for _, t := range soon {
			if t.Kind != TimerPage {
				continue
			}
			_ = e.s.store.View(ctx, func(tx Tx) error {
				p, err := tx.Page(t.IncidentID, t.Page)
				if err == nil && (p.Status == PageSending || p.Status == PagePending) {
					cut = append(cut, t)
				}
				return nil
			})
		}
		for _, g := range groupPages(cut) {
			if err := e.beginPages(ctx, g); err != nil {
				e.o.Log.Error("timer engine: settling pages cut by a stop", "page", g[0].Page, "pages", len(g), "err", err)
			}
		}
		if len(soon) < e.o.Batch {
			return
		}
		after = &soon[len(soon)-1]
	}
}

// lease is how long an attempt may take before its page is considered
// cut short: the send's timeout and a margin for recording the outcome.
func (e *Engine) lease() time.Duration { return e.o.SendTimeout + 30*time.Second }

// tick handles every due timer and returns how long to sleep: until the
// next timer, at most Poll. Only that one next-due time is kept in memory.
func (e *Engine) tick(ctx context.Context) time.Duration {
	for ctx.Err() == nil {
		now := e.o.Now()
		var due []Timer
		var next *Timer
		err := e.s.store.View(ctx, func(tx Tx) (err error) {
			if due, err = tx.DueTimers(now, e.o.Batch); err != nil {
				return err
			}
			next, err = tx.NextTimer()
			if errors.Is(err, ErrNotFound) {
				next, err = nil, nil
			}
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				e.o.Log.Error("timer engine: reading timers", "err", err)
			}
			return e.o.BackoffMin
		}
		due = e.skipInflight(due)
		e.forget(now)
		if len(due) == 0 {
			if next == nil || e.isInflightTimer(next) {
				return e.o.Poll
			}
			return min(e.o.Poll, max(next.Due.Sub(now), time.Millisecond))
		}
		if stuck := e.handleAll(ctx, due, now); stuck > 0 {
			return e.o.BackoffMin // a failed timer could not be moved (the store fails): do not spin on it
		}
	}
	return 0
}

// maxGroup bounds the pages of one message (and of the transactions
// that start and record it); more due together make several messages.
const maxGroup = 100

// groupPages splits due timers into the units handled together: each
// page timer joins the others of its group key (target and method,
// Timer.Ref), at most maxGroup a unit, in due order; every other timer,
// and a page timer without a key (made before grouping existed), is a
// unit of its own.
func groupPages(due []Timer) [][]Timer {
	var out [][]Timer
	open := map[string]int{} // group key -> index in out of its unit being filled
	for _, t := range due {
		if t.Kind != TimerPage || t.Ref == "" {
			out = append(out, []Timer{t})
			continue
		}
		if i, ok := open[t.Ref]; ok && len(out[i]) < maxGroup {
			out[i] = append(out[i], t)
			continue
		}
		open[t.Ref] = len(out)
		out = append(out, []Timer{t})
	}
	return out
}

// forget drops group keys whose window has passed, so that recent holds
// only the people paged in the last GroupWindow.
func (e *Engine) forget(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, at := range e.recent {
		if !now.Before(at.Add(e.o.GroupWindow)) {
			delete(e.recent, k)
		}
	}
}

// pageGroupKey is the Timer.Ref of a page's timer: pages with the same
// key may go out in one message.
func pageGroupKey(p *Page) string {
	kind := "user"
	if p.Channel {
		kind = "channel"
	}
	return "page:" + p.Via + ":" + kind + ":" + p.Target
}

func (e *Engine) isInflightTimer(t *Timer) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return t.Kind == TimerPage && e.inflight[t.Page]
}

// skipInflight drops page timers whose send is under way here: their
// timer was moved to the attempt's deadline, and the send records the
// outcome itself.
func (e *Engine) skipInflight(due []Timer) []Timer {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := due[:0]
	for _, t := range due {
		if t.Kind != TimerPage || !e.inflight[t.Page] {
			out = append(out, t)
		}
	}
	return out
}

// handleAll handles a batch with Workers goroutines, so that their
// commits are grouped by the store. A timer whose handling fails is moved
// later (deferFailed); it returns how many failed and could not be moved.
func (e *Engine) handleAll(ctx context.Context, due []Timer, now time.Time) (stuck int) {
	var nfailed atomic.Int64
	groups := groupPages(due)
	jobs := make(chan []Timer)
	var wg sync.WaitGroup
	for range min(e.o.Workers, len(groups)) {
		wg.Go(func() {
			for g := range jobs {
				if e.o.OnFire != nil {
					for _, t := range g {
						e.o.OnFire(t.Kind, now.Sub(t.Due))
					}
				}
				var err error
				if g[0].Kind == TimerPage {
					err = e.beginPages(ctx, g)
				} else {
					err = e.handle(ctx, g[0])
				}
				if err == nil || ctx.Err() != nil {
					continue
				}
				for _, t := range g {
					wait, derr := e.deferFailed(ctx, t)
					if derr != nil {
						nfailed.Add(1)
					}
					e.o.Log.Error("timer engine: timer failed; it is tried again later", "timer", t.ID, "kind", t.Kind, "incident", t.IncidentID,
						"fails", t.Fails+1, "in", wait, "err", err)
				}
			}
		})
	}
	for _, g := range groups {
		jobs <- g
	}
	close(jobs)
	wg.Wait()
	return int(nfailed.Load())
}

// deferFailed moves a timer whose handling failed later by the back-off
// of its failures in a row (BackoffMin doubling to BackoffMax): a timer
// that always fails would otherwise stay at the head of the due index,
// and a batch of them would keep every other timer from being read.
func (e *Engine) deferFailed(ctx context.Context, t Timer) (time.Duration, error) {
	t.Fails++
	wait := e.backoff(t.Fails)
	t.Due = e.o.Now().UTC().Add(wait)
	err := e.s.store.Update(ctx, func(tx Tx) error {
		if err := tx.SaveTimer(&t); !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil // done or dropped meanwhile
	})
	return wait, err
}

func (e *Engine) handle(ctx context.Context, t Timer) error {
	switch t.Kind {
	case TimerStep:
		return e.fireStep(ctx, t)
	case TimerPage:
		return e.beginPages(ctx, []Timer{t})
	case TimerHandOff:
		return e.handOff(ctx, t) // handoff.go
	case TimerSilences:
		return e.s.expireResolved(ctx, t, e.o.Now()) // loop.go
	case TimerSilenceCheck:
		return e.s.checkSilenced(ctx, t, e.o.Now()) // silence_check.go
	case TimerProfile:
		return e.s.captureTimer(ctx, t, e.o.Now()) // profile.go
	case TimerDraft:
		return e.s.refreshDraft(ctx, t, e.o.Now()) // draft_refresh.go
	}
	e.o.Log.Warn("timer engine: dropping a timer of unknown kind", "timer", t.ID, "kind", t.Kind)
	return e.s.store.Update(ctx, func(tx Tx) error { return tx.DeleteTimer(t.ID) })
}
