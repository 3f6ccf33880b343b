package bot

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

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
			msg.AckURL, msg.AckTTL = e.link("/page/ack/%s", token), e.o.TokenTTL
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
	if p.Attempts == 0 {
		return entry(KindPaged, now, ActorBot, "could not page %s by %s (%s): %s", who, p.Via, what, p.Error)
	}
	return entry(KindPaged, now, ActorBot, "could not page %s by %s (%s) after %d attempts: %s", who, p.Via, what, p.Attempts, p.Error)
}
