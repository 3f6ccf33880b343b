package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// maxSteps stops a chat adapter that keeps answering More without
// converging; no real delivery needs nearly as many steps.
const maxSteps = 64

// work delivers one incident's queue in order, stopping at the first
// delivery that has to wait (back-off, rate limit) or when ctx is done.
func (w *Worker) work(ctx, calls context.Context, q queue) {
	list := q.list
	for len(list) > 0 && ctx.Err() == nil {
		if list[0].NotBefore.After(w.o.Now()) {
			return
		}
		n := coalesce(list)
		if !w.deliver(ctx, calls, list[0], list[1:n]) {
			return
		}
		list = list[n:]
	}
}

// coalesce returns how many deliveries at the head of list are done by
// delivering the first: a refresh shows the incident as it is when it
// runs, so the refreshes right after it have nothing left to show.
func coalesce(list []Delivery) int {
	n := 1
	if list[0].Kind != DeliveryRefresh {
		return n
	}
	for n < len(list) && list[n].Kind == DeliveryRefresh {
		n++
	}
	return n
}

// deliver runs d step by step, recording each step as it succeeds;
// extra are refreshes that d's completion also completes. It reports
// whether d left the outbox (delivered or given up), so that the next
// delivery of the incident may go.
func (w *Worker) deliver(ctx, calls context.Context, d Delivery, extra []Delivery) bool {
	log := w.o.Log.With("incident", d.IncidentID, "delivery", d.ID, "kind", d.Kind)
	for step := 0; ; step++ {
		inc, rec, call, err := w.prepare(ctx, d)
		if ge := (*graphError)(nil); errors.As(err, &ge) {
			return w.finish(ctx, log, d, extra, ge) == nil
		}
		if errors.Is(err, ErrNotFound) {
			log.Warn("delivery worker: dropping a delivery for a missing incident")
			return w.finish(ctx, log, d, extra, nil) == nil
		}
		if err != nil {
			// Back off like a failed step: a record the store cannot read
			// must not spin the worker.
			return w.failed(ctx, log, d, extra, fmt.Errorf("reading incident %d: %w", d.IncidentID, err))
		}
		if step == maxSteps {
			return w.failed(ctx, log, d, extra, fmt.Errorf("%w: the chat did not finish in %d steps", ErrInvalid, maxSteps))
		}
		res, err := w.chat.Deliver(calls, inc, rec, call)
		if err != nil {
			return w.failed(ctx, log, d, extra, err)
		}
		if err := w.record(ctx, log, d, extra, res); err != nil {
			// The chat did it but the store would not say so: the step
			// runs again later, which Slack may show twice.
			log.Error("delivery worker: recording a delivered step", "err", err)
			return false
		}
		if !res.More {
			return true
		}
		d.Attempts, d.LastError, d.NotBefore = 0, "", time.Time{}
		if ctx.Err() != nil {
			return false
		}
	}
}

// prepare reads the incident d is for, and returns d as the chat gets
// it: for a postmortem, with the draft rendered into Text (the domain
// writes it; the chat only uploads it). The draft is not stored in the
// outbox, so a retry renders the timeline as it is then.
func (w *Worker) prepare(ctx context.Context, d Delivery) (*Incident, ChatRecord, Delivery, error) {
	var inc *Incident
	var rec ChatRecord
	var draft *Postmortem
	err := w.store.View(ctx, func(tx Tx) (err error) {
		if inc, err = tx.Incident(d.IncidentID); err != nil {
			return err
		}
		if rec, err = tx.ChatRecord(d.IncidentID, w.chat.Name()); err != nil {
			return err
		}
		if d.Kind != DeliveryPostmortem || d.Text != "" {
			return nil
		}
		tl, err := tx.Timeline(d.IncidentID)
		if err != nil {
			return err
		}
		SortTimeline(tl)
		draft = Draft(inc, tl, w.o.Location, w.o.Now())
		draft.PublicURL = w.o.PublicURL
		return nil
	})
	if err == nil && draft != nil {
		// Names come from the chat: asked outside the transaction.
		draft.Names = ResolveNames(ctx, w.o.Directory, draft.People())
		d.Text = draft.Markdown()
	}
	if err == nil && d.Kind == DeliveryGraph {
		d, err = w.drawGraph(ctx, inc, d)
	}
	if err == nil && d.Kind == DeliveryProfile {
		if w.o.Blobs == nil {
			return inc, rec, d, fmt.Errorf("%w: no profile store", ErrNotFound)
		}
		d.File, err = w.o.Blobs.Get(d.Ref)
	}
	return inc, rec, d, err
}

// record stores what a step did, in one transaction: the chat's record,
// the checklist it posted, the timeline entries it causes and, when d is
// complete, d's removal from the outbox (with the refreshes coalesced
// into it).
func (w *Worker) record(ctx context.Context, log *slog.Logger, d Delivery, extra []Delivery, res ChatResult) error {
	now := w.o.Now().UTC()
	var channeled *Incident // the incident, when this step gave it a room
	var room ChatRecord
	err := w.update(ctx, func(tx Tx) error {
		channeled = nil
		inc, err := tx.IncidentHeader(d.IncidentID)
		if err != nil {
			return err
		}
		old, err := tx.ChatRecord(d.IncidentID, w.chat.Name())
		if err != nil {
			return err
		}
		entries := resultEntries(old, d, res, now)
		if res.Record != nil && !res.Record.Equal(old) {
			if err := tx.PutChatRecord(inc.ID, w.chat.Name(), *res.Record); err != nil {
				return err
			}
			if res.Record.Room != "" && res.Record.Room != old.Room {
				channeled, room = inc, *res.Record
			}
		}
		if res.Runbook != "" && inc.setChecklist(Checklist{Runbook: res.Runbook, Steps: res.RunbookSteps}) {
			if err := tx.UpdateIncident(inc); err != nil {
				return err
			}
		}
		if err := appendEntries(tx, inc.ID, now, entries); err != nil {
			return err
		}
		if !res.More {
			return removeAll(tx, d, extra)
		}
		if d.Attempts == 0 && d.LastError == "" && d.NotBefore.IsZero() {
			return nil
		}
		d.Attempts, d.LastError, d.NotBefore = 0, "", time.Time{}
		return tx.SaveDelivery(&d)
	})
	if err == nil && channeled != nil {
		log.Info("delivery worker: channel recorded", "channel", room.RoomName,
			"channel_id", room.Room, "since_created", now.Sub(channeled.CreatedAt))
		if w.o.OnChannel != nil {
			w.o.OnChannel(channeled, room, now)
		}
	}
	return err
}

// failed handles a step's error and reports whether d left the outbox.
func (w *Worker) failed(ctx context.Context, log *slog.Logger, d Delivery, extra []Delivery, err error) bool {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return false // stopping: abandoned, recorded nothing, runs again later
	}
	now := w.o.Now()
	var ra *RetryAfterError
	switch {
	case errors.As(err, &ra):
		d.NotBefore = now.Add(max(ra.After, w.o.MinRetryAfter))
		log.Info("delivery worker: rate limited", "until", d.NotBefore, "err", err)
	case permanent(err):
		return w.finish(ctx, log, d, extra, err) == nil
	default:
		d.Attempts++
		if !d.CreatedAt.IsZero() && now.Sub(d.CreatedAt) >= w.o.GiveUpAfter {
			return w.finish(ctx, log, d, extra, fmt.Errorf("gave up after %d attempts: %w", d.Attempts, err)) == nil
		}
		d.NotBefore = now.Add(backoff(d.Attempts, w.o.BackoffMin, w.o.BackoffMax, w.o.Jitter()))
		log.Warn("delivery worker: will retry", "attempt", d.Attempts, "until", d.NotBefore, "err", err)
	}
	d.LastError = err.Error()
	if err := w.update(ctx, func(tx Tx) error { return tx.SaveDelivery(&d) }); err != nil {
		log.Error("delivery worker: saving a delivery's back-off", "err", err)
	}
	return false
}

// finish removes d (and extra) from the outbox without delivering it; a
// non-nil cause is recorded on the incident's timeline as delivery_failed.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, d Delivery, extra []Delivery, cause error) error {
	now := w.o.Now().UTC()
	if cause != nil {
		log.Error("delivery worker: giving up a delivery", "attempts", d.Attempts, "err", cause)
	}
	err := w.update(ctx, func(tx Tx) error {
		if err := removeAll(tx, d, extra); err != nil || cause == nil {
			return err
		}
		if _, err := tx.IncidentHeader(d.IncidentID); errors.Is(err, ErrNotFound) {
			return nil
		}
		e := entry(KindDeliveryFailed, now, ActorBot, "could not %s: %v", describe(d), cause)
		if ge := (*graphError)(nil); errors.As(cause, &ge) { // a warning, not a lost delivery: graph.go
			e = entry(KindGraphFailed, now, ActorBot, "no metric graph: %v", cause)
		}
		return appendEntries(tx, d.IncidentID, now, []*TimelineEntry{e})
	})
	if err != nil {
		log.Error("delivery worker: removing a delivery", "err", err)
	}
	return err
}

// update runs fn in a store transaction that outlives ctx (for a while),
// and retries a failing store a few times: what it records already
// happened in the chat, and losing it means doing it twice.
func (w *Worker) update(ctx context.Context, fn func(tx Tx) error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	for i := range 3 {
		if err = w.store.Update(sctx, fn); err == nil || !errors.Is(err, ErrUnavailable) {
			return err
		}
		select {
		case <-time.After(time.Duration(100<<i) * time.Millisecond):
		case <-sctx.Done():
			return err
		}
	}
	return err
}

func removeAll(tx Tx, d Delivery, extra []Delivery) error {
	if err := tx.Done(d.ID); err != nil {
		return err
	}
	for _, e := range extra {
		if err := tx.Done(e.ID); err != nil {
			return err
		}
	}
	return nil
}

// permanent reports whether err says retrying cannot help.
func permanent(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)
}

// backoff is the wait before attempt+1: min doubled per attempt, capped at
// max, of which the second half is spread by r in [0, 1) ("equal jitter")
// so that incidents failing together do not retry together.
func backoff(attempt int, lo, hi time.Duration, r float64) time.Duration {
	d := hi
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 32 {
		if x := lo << (attempt - 1); x > 0 && x < hi {
			d = x
		}
	}
	return d/2 + time.Duration(r*float64(d/2))
}

// describe names what d was to do, for the delivery_failed entry.
func describe(d Delivery) string {
	switch d.Kind {
	case DeliveryOpen:
		return "set up the incident channel"
	case DeliveryRefresh:
		return "update the incident message"
	case DeliveryPost:
		return "post an update to the channel"
	case DeliveryRunbook:
		if d.Ref != "" {
			return "post runbook " + d.Ref
		}
		return "post the runbooks"
	case DeliveryPostmortem:
		return "upload the postmortem draft"
	case DeliveryPin:
		return "record the pinned message"
	case DeliveryGraph:
		return "post the metric graph"
	case DeliveryProfile:
		return "upload heap profile " + d.Ref
	}
	return "deliver " + string(d.Kind)
}
