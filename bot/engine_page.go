package bot

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// beginPages queues due pages for one message: pages to one target by
// one method (one group key, Timer.Ref), at most maxGroup. Their timers
// move to the end of a lease (so the poll does not hand them out again)
// and a goroutine waits for a send slot. The attempt is recorded only
// once the slot is taken (startPages), so a page still waiting when the
// process dies is found pending on restart and sent then, not given up
// as "outcome unknown".
//
// Grouping: when this target was paged by this method less than
// GroupWindow ago, the pages are held (their timers moved) until the
// window ends, so that pages falling due meanwhile (a storm) go out
// together in one message rather than one per incident.
func (e *Engine) beginPages(ctx context.Context, ts []Timer) error {
	key := ts[0].Ref
	var queued []Timer
	err := e.s.store.Update(ctx, func(tx Tx) error {
		queued = queued[:0]
		now := e.o.Now().UTC()
		hold := e.holdUntil(key, now)
		for _, t := range ts {
			p, _, _, err := e.pageToSend(tx, t, now)
			if err != nil {
				return err
			}
			if p == nil {
				continue
			}
			// A page waits for the end of the window at most once: one
			// that waited already (its peers were read in an earlier
			// batch and went out just now) goes now.
			held := !hold.IsZero() && !t.Held
			if t.Due = now.Add(e.lease()); held {
				t.Due, t.Held = hold, true
			}
			if err := tx.SaveTimer(&t); err != nil {
				return err
			}
			if !held {
				queued = append(queued, t)
			}
		}
		return nil
	})
	if err != nil || len(queued) == 0 {
		return err
	}
	e.mu.Lock()
	if key != "" {
		e.recent[key] = e.o.Now()
	}
	for _, t := range queued {
		e.inflight[t.Page] = true
	}
	e.mu.Unlock()
	e.wg.Go(func() {
		defer func() {
			e.mu.Lock()
			for _, t := range queued {
				delete(e.inflight, t.Page)
			}
			e.mu.Unlock()
			e.Wake()
		}()
		select {
		case e.sends <- struct{}{}:
		case <-ctx.Done():
			return // still pending: the next start sends them (recover)
		}
		defer func() { <-e.sends }()
		if ctx.Err() != nil {
			return
		}
		sctx := context.WithoutCancel(ctx)
		msg, started, err := e.startPages(sctx, queued)
		if err != nil {
			e.o.Log.Error("timer engine: starting a page attempt failed; its timer brings it back", "incident", queued[0].IncidentID, "page", queued[0].Page, "err", err)
			return
		}
		if msg != nil {
			e.send(sctx, started, msg)
		}
	})
	return nil
}

// holdUntil is until when pages of group key (target and method) wait:
// the end of the window the last message to them opened; zero when that
// is over (or there was none) and pages go now.
func (e *Engine) holdUntil(key string, now time.Time) time.Time {
	if key == "" || e.o.GroupWindow < 0 {
		return time.Time{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	last, ok := e.recent[key]
	if !ok || !now.Before(last.Add(e.o.GroupWindow)) {
		return time.Time{}
	}
	return last.Add(e.o.GroupWindow).UTC()
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

// startPages records the start of an attempt of queued pages of one
// message (status sending, each timer at the attempt's deadline, so that
// a process that dies mid-send leaves pages found "sending" on restart)
// and returns the message and the timers of the pages in it, in its
// order (first page first); nil when none needs sending any more.
func (e *Engine) startPages(ctx context.Context, ts []Timer) (*PageMessage, []Timer, error) {
	var msg *PageMessage
	var started []Timer
	err := e.s.store.Update(ctx, func(tx Tx) error {
		msg, started = nil, started[:0]
		now := e.o.Now().UTC()
		var items []PageItem
		for _, t := range ts {
			p, inc, r, err := e.pageToSend(tx, t, now)
			if err != nil {
				return err
			}
			if p == nil {
				continue
			}
			p.Status, p.Attempts = PageSending, p.Attempts+1
			lease := t
			lease.Due = now.Add(e.lease())
			if err := tx.SaveTimer(&lease); err != nil {
				return err
			}
			chat, err := tx.ChatRecords(inc.ID)
			if err != nil {
				return err
			}
			items = append(items, PageItem{Page: *p, Incident: inc, Text: pageText(inc, p, r), URL: e.link("/incidents/%d", inc.ID), Chat: chat})
			started = append(started, t)
		}
		if len(items) == 0 {
			return nil
		}
		// The message's ack (link token, DM button) names its first page
		// and acknowledges that page's Group, so a page once attempted
		// keeps its Group: tokens and buttons of its earlier messages
		// are still valid and must not acknowledge incidents those did
		// not list. A page never attempted leads when there is one;
		// else the first keeps its Group and the message lists only it.
		fresh := slices.IndexFunc(items, func(it PageItem) bool { return it.Page.Attempts == 1 })
		if fresh < 0 { // all retries: one that led a group leads again
			fresh = max(0, slices.IndexFunc(items, func(it PageItem) bool { return len(it.Page.Group) > 0 }))
		}
		if fresh > 0 {
			it, st := items[fresh], started[fresh]
			copy(items[1:fresh+1], items[:fresh])
			copy(started[1:fresh+1], started[:fresh])
			items[0], started[0] = it, st
		}
		if items[0].Page.Attempts > 1 {
			group := items[0].Page.Group
			keep := func(p Page) bool {
				return slices.Contains(group, PageRef{Incident: p.IncidentID, Page: p.ID})
			}
			n := 1
			for i := 1; i < len(items); i++ {
				if keep(items[i].Page) {
					items[n], started[n] = items[i], started[i]
					n++
				}
			}
			// The others stay pending, and come back when their
			// timers (at the end of the lease) fall due.
			items, started = items[:n], started[:n]
		}
		first := &items[0].Page
		if first.Attempts == 1 {
			first.Group = nil
			for _, it := range items[1:] {
				first.Group = append(first.Group, PageRef{Incident: it.Page.IncidentID, Page: it.Page.ID})
			}
		}
		for i := range items {
			if err := tx.SavePage(&items[i].Page); err != nil {
				return err
			}
		}
		msg = &PageMessage{Page: *first, Incident: items[0].Incident, Text: items[0].Text, URL: items[0].URL, Also: items[1:], Chat: items[0].Chat}
		if len(msg.Also) == 0 {
			msg.Also = nil
		}
		if first.Via != ViaSlack && e.o.PublicURL != "" {
			token, err := newToken()
			if err != nil {
				return err
			}
			if err := tx.AddPageToken(HashPageToken(token), first.IncidentID, first.ID, now.Add(e.o.TokenTTL)); err != nil {
				return err
			}
			msg.AckURL, msg.AckTTL = e.link("/page/ack/%s", token), e.o.TokenTTL
		}
		return nil
	})
	return msg, started, err
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

// send makes one attempt of a message and records its outcome for each
// of its pages (started holds their timers, in the message's order).
func (e *Engine) send(ctx context.Context, started []Timer, m *PageMessage) {
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
	refs := []PageRef{{Incident: m.Page.IncidentID, Page: m.Page.ID}}
	for _, it := range m.Also {
		refs = append(refs, PageRef{Incident: it.Page.IncidentID, Page: it.Page.ID})
	}
	rerr := e.s.store.Update(ctx, func(tx Tx) error {
		now := e.o.Now().UTC()
		for i, ref := range refs {
			if err := e.recordOutcome(tx, started[i], ref, err, now); err != nil {
				return err
			}
		}
		return nil
	})
	if rerr != nil {
		e.o.Log.Error("timer engine: recording a page's outcome failed; the page is found 'sending' later and marked unknown",
			"incident", m.Page.IncidentID, "page", m.Page.ID, "pages", len(refs), "err", rerr)
	}
	if err != nil {
		e.o.Log.Warn("page attempt failed", "incident", m.Page.IncidentID, "page", m.Page.ID, "pages", len(refs), "via", m.Page.Via, "attempt", m.Page.Attempts, "err", err)
	}
}

// recordOutcome records the outcome err of an attempt of one page whose
// timer is t: sent, failed for good, or pending again after a back-off.
func (e *Engine) recordOutcome(tx Tx, t Timer, ref PageRef, err error, now time.Time) error {
	p, err2 := tx.Page(ref.Incident, ref.Page)
	if err2 != nil {
		return err2
	}
	wait := e.backoff(p.Attempts)
	var ra *RetryAfterError
	givenUp := ""
	if errors.As(err, &ra) {
		// Rate limited (by Slack, or held back by the client before
		// calling): nothing went out, so this was not an attempt, but
		// the waits are capped.
		p.Attempts--
		wait = max(ra.After, time.Second)
		if limited := now.Add(wait).Sub(p.At); limited > e.o.RateLimitedFor {
			givenUp = fmt.Sprintf("given up: rate limited for %s (%v)", roundDur(now.Sub(p.At)), err)
		}
	}
	final := err == nil || permanent(err) || p.Attempts >= e.o.MaxAttempts || givenUp != ""
	switch {
	case err == nil:
		p.Status, p.SentAt, p.Error = PageSent, &now, ""
	case givenUp != "":
		p.Status, p.Error = PageFailed, givenUp
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
	if p.Attempts == 0 {
		return entry(KindPaged, now, ActorBot, "could not page %s by %s (%s): %s", who, p.Via, what, p.Error)
	}
	return entry(KindPaged, now, ActorBot, "could not page %s by %s (%s) after %d attempts: %s", who, p.Via, what, p.Attempts, p.Error)
}
