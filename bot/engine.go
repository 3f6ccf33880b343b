package bot

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
	sends    chan struct{}
	wg       sync.WaitGroup
}

// NewEngine returns the engine of svc's timers. Only one may run per store.
func NewEngine(svc *Service, o EngineOptions) *Engine {
	o = o.withDefaults()
	e := &Engine{s: svc, o: o, pagers: map[string]Pager{}, handOffer: o.HandOffer, wake: make(chan struct{}, 1),
		inflight: map[uint64]bool{}, sends: make(chan struct{}, o.Sends)}
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
func (e *Engine) recover(ctx context.Context) {
	var soon []Timer
	err := e.s.store.View(ctx, func(tx Tx) (err error) {
		soon, err = tx.DueTimers(e.o.Now().Add(e.lease()), 0)
		return err
	})
	if err != nil {
		e.o.Log.Error("timer engine: reading timers at start", "err", err)
		return
	}
	for _, t := range soon {
		if t.Kind != TimerPage {
			continue
		}
		var cut bool
		_ = e.s.store.View(ctx, func(tx Tx) error {
			p, err := tx.Page(t.IncidentID, t.Page)
			cut = err == nil && (p.Status == PageSending || p.Status == PagePending)
			return nil
		})
		if cut {
			if err := e.beginPage(ctx, t); err != nil {
				e.o.Log.Error("timer engine: settling a page cut by a stop", "page", t.Page, "err", err)
			}
		}
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
		if len(due) == 0 {
			if next == nil || e.isInflightTimer(next) {
				return e.o.Poll
			}
			return min(e.o.Poll, max(next.Due.Sub(now), time.Millisecond))
		}
		if failed := e.handleAll(ctx, due, now); failed > 0 {
			return e.o.BackoffMin // a failing timer stays due: do not spin on it
		}
	}
	return 0
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
// commits are grouped by the store.
func (e *Engine) handleAll(ctx context.Context, due []Timer, now time.Time) (failed int) {
	var nfailed atomic.Int64
	jobs := make(chan Timer)
	var wg sync.WaitGroup
	for range min(e.o.Workers, len(due)) {
		wg.Go(func() {
			for t := range jobs {
				if e.o.OnFire != nil {
					e.o.OnFire(t.Kind, now.Sub(t.Due))
				}
				if err := e.handle(ctx, t); err != nil && ctx.Err() == nil {
					nfailed.Add(1)
					e.o.Log.Error("timer engine: timer failed; it stays and is tried again", "timer", t.ID, "kind", t.Kind, "incident", t.IncidentID, "err", err)
				}
			}
		})
	}
	for _, t := range due {
		jobs <- t
	}
	close(jobs)
	wg.Wait()
	return int(nfailed.Load())
}

func (e *Engine) handle(ctx context.Context, t Timer) error {
	switch t.Kind {
	case TimerStep:
		return e.fireStep(ctx, t)
	case TimerPage:
		return e.beginPage(ctx, t)
	case TimerHandOff:
		return e.handOff(ctx, t) // handoff.go
	case TimerSilences:
		return e.s.expireResolved(ctx, t, e.o.Now()) // loop.go
	case TimerProfile:
		return e.s.captureTimer(ctx, t, e.o.Now()) // profile.go
	}
	e.o.Log.Warn("timer engine: dropping a timer of unknown kind", "timer", t.ID, "kind", t.Kind)
	return e.s.store.Update(ctx, func(tx Tx) error { return tx.DeleteTimer(t.ID) })
}

// run returns one escalation run of an incident.
func run(tx Tx, incidentID int64, id uint64) (*EscalationRun, error) {
	runs, err := tx.Escalations(incidentID)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		if runs[i].ID == id {
			return &runs[i], nil
		}
	}
	return nil, fmt.Errorf("escalation %d of incident %d: %w", id, incidentID, ErrNotFound)
}

// fireStep fires firing t.N of a run, all in one transaction: the pages
// of its targets are claimed (each with a timer to send it now), the next
// firing is scheduled, the step is recorded, and t is deleted.
func (e *Engine) fireStep(ctx context.Context, t Timer) error {
	return e.s.store.Update(ctx, func(tx Tx) error {
		now := e.o.Now().UTC()
		inc, err := tx.Incident(t.IncidentID)
		if errors.Is(err, ErrNotFound) {
			return tx.DeleteTimer(t.ID)
		}
		if err != nil {
			return err
		}
		r, err := run(tx, t.IncidentID, t.Escalation)
		if errors.Is(err, ErrNotFound) {
			return tx.DeleteTimer(t.ID)
		}
		if err != nil {
			return err
		}
		if r.StoppedAt != nil || r.Fired > t.N {
			return tx.DeleteTimer(t.ID) // stopped, or this firing is done
		}
		if reason, _, _ := stopReason(inc, r); reason != "" {
			// The stop is recorded when the incident changed; a run
			// started before that change is stopped here.
			if err := e.s.record(tx, inc, false, nil); err != nil {
				return err
			}
			return tx.DeleteTimer(t.ID)
		}
		pol, err := e.s.policyOf(r)
		if err != nil {
			e.o.Log.Warn("timer engine: the run's policy is gone from the config; stopping it", "incident", inc.ID, "team", r.Team, "err", err)
			r.StoppedAt, r.Stopped = &now, "policy removed from the config"
			if err := tx.SaveEscalation(r); err != nil {
				return err
			}
			return tx.DeleteTimer(t.ID)
		}
		step, round, _, ok := pol.StepAt(r.StartedAt, t.N)
		if !ok {
			return tx.DeleteTimer(t.ID)
		}
		entries, invite, err := e.claimPages(tx, inc, r, pol.Steps[step], t.N, step, round, now)
		if err != nil {
			return err
		}
		r.Fired, r.FiredAt = t.N+1, append(r.FiredAt, now)
		if err := tx.SaveEscalation(r); err != nil {
			return err
		}
		if _, _, due, ok := pol.StepAt(r.StartedAt, t.N+1); ok {
			if err := tx.AddTimer(&Timer{Due: due, Kind: TimerStep, IncidentID: inc.ID, Escalation: r.ID, N: t.N + 1, CreatedAt: now}); err != nil {
				return err
			}
		}
		if err := tx.DeleteTimer(t.ID); err != nil {
			return err
		}
		if len(invite) > 0 && e.s.chat {
			if err := tx.Enqueue(&Delivery{IncidentID: inc.ID, Kind: DeliveryInvite, Ref: strings.Join(invite, ","), Actor: r.StartedBy, CreatedAt: now}); err != nil {
				return err
			}
		}
		return e.s.record(tx, inc, false, entries)
	})
}

// claimPages claims a page per target and method for one firing and
// returns its timeline entry and the users to invite into the channel.
func (e *Engine) claimPages(tx Tx, inc *Incident, r *EscalationRun, step EscalationStep, n, stepIdx, round int, now time.Time) ([]*TimelineEntry, []string, error) {
	var named, invite []string
	var ovs []Override
	for _, tg := range step.Notify {
		target, label := tg.Ref, "<@"+tg.Ref+">"
		switch tg.Kind {
		case TargetSchedule:
			team, err := e.s.oncall.Team(r.Team)
			if err != nil {
				return nil, nil, err
			}
			rot, ok := team.Schedule(tg.Ref)
			if !ok {
				named = append(named, "schedule "+tg.Ref+" (no longer in the config)")
				continue
			}
			if ovs == nil {
				if ovs, err = tx.Overrides(); err != nil {
					return nil, nil, err
				}
			}
			target = rot.OnCall(overridesOf(ovs, team.Name, rot.Name), now).Now.User
			label = fmt.Sprintf("<@%s> (on call for %s)", target, tg.Ref)
		case TargetChannel:
			label = "<#" + tg.Ref + ">"
		}
		if target == "" {
			continue
		}
		named = append(named, label)
		vias := e.viasFor(tg.Kind == TargetChannel, target)
		for _, via := range vias {
			p := &Page{IncidentID: inc.ID, Escalation: r.ID, Team: r.Team, N: n, Step: stepIdx + 1, Round: round,
				Target: target, Channel: tg.Kind == TargetChannel, Via: via.via, Address: via.address, At: now,
				Status: PagePending, Message: r.Message, StartedBy: r.StartedBy}
			fresh, err := tx.ClaimPage(p)
			if err != nil {
				return nil, nil, err
			}
			if !fresh {
				continue
			}
			if err := tx.AddTimer(&Timer{Due: now, Kind: TimerPage, IncidentID: inc.ID, Escalation: r.ID, Page: p.ID, CreatedAt: now}); err != nil {
				return nil, nil, err
			}
		}
		if tg.Kind != TargetChannel && !contains(invite, target) {
			invite = append(invite, target)
		}
		if len(vias) == 0 {
			named[len(named)-1] += " (no way to reach them is configured)"
		}
	}
	what := fmt.Sprintf("step %d", stepIdx+1)
	if round > 0 {
		what += fmt.Sprintf(" (repeat %d)", round)
	}
	if r.Team == "" {
		what = "page"
	}
	text := fmt.Sprintf("escalation of %s, %s: paging %s", r.Name(), what, strings.Join(named, ", "))
	if len(named) == 0 {
		text = fmt.Sprintf("escalation of %s, %s: nobody to page (empty schedules)", r.Name(), what)
	}
	return []*TimelineEntry{entry(KindEscalation, now, ActorBot, "%s", text)}, invite, nil
}

type via struct{ via, address string }

// viasFor lists the methods that can reach a target: a channel only by
// Slack; a person by Slack, and by email and webhook when the people list
// has addresses and those pagers are configured.
func (e *Engine) viasFor(channel bool, user string) []via {
	var out []via
	if _, ok := e.pagers[ViaSlack]; ok {
		out = append(out, via{ViaSlack, ""})
	}
	if channel || e.s.oncall == nil {
		return out
	}
	c := e.s.oncall.People[user]
	if _, ok := e.pagers[ViaEmail]; ok && c.Email != "" {
		out = append(out, via{ViaEmail, c.Email})
	}
	if _, ok := e.pagers[ViaWebhook]; ok && c.Webhook != "" {
		out = append(out, via{ViaWebhook, c.Webhook})
	}
	return out
}

// beginPage queues a due page for a send slot: the timer moves to the
// end of a lease (so the poll does not hand it out again) and a goroutine
// waits for a slot. The attempt is recorded only once the slot is taken
// (startPage), so a page still waiting when the process dies is found
// pending on restart and sent then, not given up as "outcome unknown".
func (e *Engine) beginPage(ctx context.Context, t Timer) error {
	var queued bool
	err := e.s.store.Update(ctx, func(tx Tx) error {
		queued = false
		now := e.o.Now().UTC()
		p, _, _, err := e.pageToSend(tx, t, now)
		if err != nil || p == nil {
			return err
		}
		t.Due = now.Add(e.lease())
		if err := tx.SaveTimer(&t); err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil || !queued {
		return err
	}
	e.mu.Lock()
	e.inflight[t.Page] = true
	e.mu.Unlock()
	e.wg.Go(func() {
		defer func() {
			e.mu.Lock()
			delete(e.inflight, t.Page)
			e.mu.Unlock()
			e.Wake()
		}()
		select {
		case e.sends <- struct{}{}:
		case <-ctx.Done():
			return // still pending: the next start sends it (recover)
		}
		defer func() { <-e.sends }()
		if ctx.Err() != nil {
			return
		}
		sctx := context.WithoutCancel(ctx)
		msg, err := e.startPage(sctx, t)
		if err != nil {
			e.o.Log.Error("timer engine: starting a page attempt failed; its timer brings it back", "incident", t.IncidentID, "page", t.Page, "err", err)
			return
		}
		if msg != nil {
			e.send(sctx, t, msg)
		}
	})
	return nil
}

// pageToSend reads a page timer's page and returns it when it is still to
// be sent. Otherwise it settles the page in tx and returns nil: a page
// already final loses its timer; one found "sending" (the process died
// mid-send) is failed as "outcome unknown" and not sent again, so that
// nobody is paged twice for a step; one whose run the incident's state
// stopped is cancelled.
func (e *Engine) pageToSend(tx Tx, t Timer, now time.Time) (*Page, *Incident, *EscalationRun, error) {
	p, err := tx.Page(t.IncidentID, t.Page)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil, tx.DeleteTimer(t.ID)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	inc, err := tx.Incident(t.IncidentID)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := run(tx, t.IncidentID, p.Escalation)
	if err != nil {
		return nil, nil, nil, err
	}
	switch {
	case p.Status != PagePending && p.Status != PageSending:
		return nil, nil, nil, tx.DeleteTimer(t.ID)
	case p.Status == PageSending:
		p.Status, p.Error = PageFailed, "outcome unknown: the service stopped while sending; not sent again, so that nobody is paged twice for a step"
		if err := tx.SavePage(p); err != nil {
			return nil, nil, nil, err
		}
		if err := tx.DeleteTimer(t.ID); err != nil {
			return nil, nil, nil, err
		}
		return nil, nil, nil, e.s.record(tx, inc, false, []*TimelineEntry{pageEntry(p, now)})
	case r.StoppedAt != nil && !r.StoppedAt.After(p.At), r.StoppedAt == nil && stoppedBy(inc, r):
		p.Status = PageCancelled
		if err := tx.SavePage(p); err != nil {
			return nil, nil, nil, err
		}
		return nil, nil, nil, tx.DeleteTimer(t.ID)
	}
	return p, inc, r, nil
}

// startPage records the start of an attempt of a queued page (status
// sending, the timer at the attempt's deadline, so that a process that
// dies mid-send leaves a page found "sending" on restart) and returns
// what to send; nil when the page no longer needs sending.
func (e *Engine) startPage(ctx context.Context, t Timer) (*PageMessage, error) {
	var msg *PageMessage
	err := e.s.store.Update(ctx, func(tx Tx) error {
		msg = nil
		now := e.o.Now().UTC()
		p, inc, r, err := e.pageToSend(tx, t, now)
		if err != nil || p == nil {
			return err
		}
		p.Status, p.Attempts = PageSending, p.Attempts+1
		if err := tx.SavePage(p); err != nil {
			return err
		}
		lease := t
		lease.Due = now.Add(e.lease())
		if err := tx.SaveTimer(&lease); err != nil {
			return err
		}
		msg = &PageMessage{Page: *p, Incident: inc, Text: pageText(inc, p, r), URL: e.link("/incidents/%d", inc.ID)}
		if p.Via != ViaSlack && e.o.PublicURL != "" {
			token, err := newToken()
			if err != nil {
				return err
			}
			if err := tx.AddPageToken(HashPageToken(token), inc.ID, p.ID, now.Add(e.o.TokenTTL)); err != nil {
				return err
			}
			msg.AckURL = e.link("/page/ack/%s", token)
		}
		return nil
	})
	return msg, err
}

// stoppedBy reports whether the incident's state stops the run.
func stoppedBy(inc *Incident, r *EscalationRun) bool {
	reason, _, _ := stopReason(inc, r)
	return reason != ""
}

func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ack token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (e *Engine) link(format string, args ...any) string {
	if e.o.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(e.o.PublicURL, "/") + fmt.Sprintf(format, args...)
}

// send makes one attempt and records its outcome.
func (e *Engine) send(ctx context.Context, t Timer, m *PageMessage) {
	pager := e.pagers[m.Page.Via]
	var err error
	if pager == nil {
		err = fmt.Errorf("%w: no %s pager is configured any more", ErrInvalid, m.Page.Via)
	} else {
		sctx, cancel := context.WithTimeout(ctx, e.o.SendTimeout)
		err = pager.Send(sctx, *m)
		cancel()
	}
	if e.o.OnPage != nil {
		e.o.OnPage(m.Page.Via, err)
	}
	rerr := e.s.store.Update(ctx, func(tx Tx) error {
		now := e.o.Now().UTC()
		p, err2 := tx.Page(m.Page.IncidentID, m.Page.ID)
		if err2 != nil {
			return err2
		}
		wait := e.backoff(p.Attempts)
		var ra *RetryAfterError
		if errors.As(err, &ra) {
			// Rate limited (by Slack, or held back by the client before
			// calling): nothing went out, so this was not an attempt.
			p.Attempts--
			wait = max(ra.After, time.Second)
		}
		final := err == nil || permanent(err) || p.Attempts >= e.o.MaxAttempts
		switch {
		case err == nil:
			p.Status, p.SentAt, p.Error = PageSent, &now, ""
		case final:
			p.Status, p.Error = PageFailed, err.Error()
		default:
			p.Status, p.Error = PagePending, err.Error()
		}
		if p.AckedAt != nil {
			p.Status = PageAcknowledged
		}
		if err := tx.SavePage(p); err != nil {
			return err
		}
		if !final {
			t.Due = now.Add(wait)
			return tx.SaveTimer(&t)
		}
		if err := tx.DeleteTimer(t.ID); err != nil {
			return err
		}
		inc, err2 := tx.Incident(p.IncidentID)
		if err2 != nil {
			return err2
		}
		return e.s.record(tx, inc, false, []*TimelineEntry{pageEntry(p, now)})
	})
	if rerr != nil {
		e.o.Log.Error("timer engine: recording a page's outcome failed; the page is found 'sending' later and marked unknown",
			"incident", m.Page.IncidentID, "page", m.Page.ID, "err", rerr)
	}
	if err != nil {
		e.o.Log.Warn("page attempt failed", "incident", m.Page.IncidentID, "page", m.Page.ID, "via", m.Page.Via, "attempt", m.Page.Attempts, "err", err)
	}
}

func (e *Engine) backoff(attempts int) time.Duration {
	d := e.o.BackoffMin
	for i := 1; i < attempts && d < e.o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, e.o.BackoffMax)
}

// pageEntry is the timeline entry of a page's final outcome.
func pageEntry(p *Page, now time.Time) *TimelineEntry {
	who := "<@" + p.Target + ">"
	if p.Channel {
		who = "<#" + p.Target + ">"
	}
	what := fmt.Sprintf("step %d", p.Step)
	if p.Team == "" {
		what = "paged by " + Mention(p.StartedBy)
	} else {
		what = "team " + p.Team + ", " + what
	}
	if p.Status == PageSent || p.Status == PageAcknowledged {
		return entry(KindPaged, now, ActorBot, "paged %s by %s (%s)", who, p.Via, what)
	}
	return entry(KindPaged, now, ActorBot, "could not page %s by %s (%s) after %d attempts: %s", who, p.Via, what, p.Attempts, p.Error)
}
