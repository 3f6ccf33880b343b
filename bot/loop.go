package bot

import (
	"context"
	"errors"
	"time"
)

// The timers of Alertmanager and Prometheus in the loop, run by the
// Engine: work that calls another system is never done on the request
// (or webhook) path that caused it, and survives a restart.
const (
	// TimerSilences expires the silences of a resolved incident.
	TimerSilences TimerKind = "silences"
)

// How often expiring a resolved incident's silences is tried before the
// bot gives up (the silences then end on their own) and the back-off
// between tries.
const (
	silenceTries      = 8
	silenceBackoffMin = 15 * time.Second
)

// loop schedules, inside the transaction of a change, the loop's work
// that change calls for: posting the metric graph when the incident opens
// and when it resolves, expiring silences once it resolved.
func (s *Service) loop(tx Tx, inc *Incident, opened bool, entries []*TimelineEntry, now time.Time) error {
	graph := s.chat && s.grapher != nil && (opened || hasKind(entries, KindResolved))
	profile := opened && inc.Open() && s.profiler != nil
	if (graph || profile) && inc.Alerts == nil {
		// A change made on the incident's header: the alerts, for their
		// expressions and targets, only at these two moments.
		full, err := tx.Incident(inc.ID)
		if err != nil {
			return err
		}
		inc = full
	}
	if graph {
		if _, ok := GraphOf(inc, now); ok {
			if err := tx.Enqueue(&Delivery{IncidentID: inc.ID, Kind: DeliveryGraph, CreatedAt: now}); err != nil {
				return err
			}
		}
	}
	if profile {
		if err := s.scheduleProfiles(tx, inc, now); err != nil {
			return err
		}
	}
	if s.silencer == nil || s.keepSilences || inc.Open() || !hasKind(entries, KindResolved) {
		return nil
	}
	for _, sil := range inc.Silences {
		if sil.Active(now) {
			return tx.AddTimer(&Timer{Due: now, Kind: TimerSilences, IncidentID: inc.ID, CreatedAt: now})
		}
	}
	return nil
}

func hasKind(entries []*TimelineEntry, k Kind) bool {
	for _, e := range entries {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// expireResolved handles a TimerSilences: it expires the silences of the
// incident if it is still resolved, and deletes the timer. When
// Alertmanager cannot be reached the timer moves later (with back-off);
// after silenceTries the bot gives up and says so on the timeline.
func (s *Service) expireResolved(ctx context.Context, t Timer, now time.Time) error {
	inc, err := s.Incident(ctx, t.IncidentID)
	if errors.Is(err, ErrNotFound) {
		return s.store.Update(ctx, func(tx Tx) error { return tx.DeleteTimer(t.ID) })
	}
	if err != nil {
		return err
	}
	if !inc.Open() && s.silencer != nil {
		_, _, err = s.expireSilences(ctx, inc, ActorBot, inc.Key()+" resolved")
	}
	if err == nil || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
		return s.store.Update(ctx, func(tx Tx) error { return tx.DeleteTimer(t.ID) })
	}
	t.N++
	s.logFor(ctx, inc.ID).Warn("could not expire the silences of a resolved incident", "try", t.N, "err", err)
	return s.store.Update(ctx, func(tx Tx) error {
		if t.N < silenceTries {
			t.Due = now.Add(silenceBackoffMin << (t.N - 1))
			return tx.SaveTimer(&t)
		}
		if err := tx.DeleteTimer(t.ID); err != nil {
			return err
		}
		e := entry(KindDeliveryFailed, now, ActorBot, "could not expire the Alertmanager silences of %s after %d tries (%v); they end on their own", inc.Key(), t.N, err)
		e.IncidentID, e.RecordedAt = inc.ID, now
		return tx.Append(e)
	})
}
