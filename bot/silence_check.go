package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Alertmanager sends no notification for a silenced group, its resolution
// included: alerts that stop firing while silenced never reach the bot,
// and the incident would stay open for ever. So while a silence runs, and
// once more when it ends or is expired, a durable timer asks Alertmanager
// which of the group's alerts still fire; when none does twice, at least
// silenceQuietConfirm apart, the incident's alerts that fired when
// Alertmanager was asked are taken as resolved and the usual rules
// (resolve unless the policy keeps the incident open) apply. One empty
// answer is not enough: Alertmanager keeps no alerts on disk, so a peer
// that just restarted answers none until Prometheus sends them again
// (about a minute later).

// TimerSilenceCheck asks Alertmanager whether the alerts of a silenced
// incident still fire. Ref is the silence it watches.
const TimerSilenceCheck TimerKind = "silence_check"

// How often a silenced group is checked, and how long after its silence
// ends the last check runs (Alertmanager's next group_interval then has
// taken the end of the silence into account).
const (
	silenceCheckEvery = 5 * time.Minute
	silenceCheckGrace = 30 * time.Second
	// silenceQuietConfirm is how long after a first empty answer a second
	// one is asked for before the group counts as quiet.
	silenceQuietConfirm = 2 * time.Minute
)

// nextSilenceCheck is when the check of sil runs next after now.
func nextSilenceCheck(sil Silence, now time.Time) time.Time {
	return minTime(now.Add(silenceCheckEvery), sil.EndsAt.Add(silenceCheckGrace))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// checkSilenced handles a TimerSilenceCheck: it asks Alertmanager for the
// group's alerts, resolves the incident's firing alerts when none is left,
// and moves the timer to the next check while the silence runs, or
// deletes it. A failing Alertmanager is retried with back-off, then given
// up (logged): the incident then waits for a person, as before.
func (s *Service) checkSilenced(ctx context.Context, t Timer, now time.Time) error {
	done := func() error { return s.store.Update(ctx, func(tx Tx) error { return tx.DeleteTimer(t.ID) }) }
	inc, err := s.Incident(ctx, t.IncidentID)
	if errors.Is(err, ErrNotFound) {
		return done()
	}
	if err != nil {
		return err
	}
	ms, merr := SilenceMatchers(inc)
	if s.silencer == nil || !inc.Open() || inc.Roster.Firing == 0 || merr != nil {
		return done()
	}
	var sil Silence
	for _, x := range inc.Silences {
		if x.ID == t.Ref || (t.Ref == "" && x.Alertmanager != "") {
			sil = x
		}
	}
	asked := make(map[string]time.Time) // the firing alerts when asked
	for _, a := range inc.Alerts {
		if a.Status == AlertFiring {
			asked[a.Fingerprint] = a.StartsAt
		}
	}
	firing, err := s.silencer.Firing(ctx, sil.Alertmanager, inc.ExternalURL, ms, inc.Receiver)
	if err != nil {
		t.N++
		s.logFor(ctx, inc.ID).Warn("could not ask Alertmanager whether a silenced group still fires", "try", t.N, "err", err)
		if t.N >= silenceTries {
			return done()
		}
		t.Due = now.Add(min(silenceBackoffMin<<(t.N-1), silenceCheckEvery))
		return s.store.Update(ctx, func(tx Tx) error { return tx.SaveTimer(&t) })
	}
	if len(firing) == 0 && (t.QuietSince == nil || now.Sub(*t.QuietSince) < silenceQuietConfirm) {
		// The first empty answer: ask again once a restarted peer has
		// heard from Prometheus before taking it for quiet.
		if t.QuietSince == nil {
			t.QuietSince = &now
		}
		t.N, t.Due = 0, t.QuietSince.Add(silenceQuietConfirm)
		return s.store.Update(ctx, func(tx Tx) error { return tx.SaveTimer(&t) })
	}
	t.QuietSince = nil
	if len(firing) == 0 {
		why := "while silence " + sil.ID + " runs"
		if !sil.Active(now) {
			why = "after silence " + sil.ID + " ended"
		}
		if _, err := s.quiet(ctx, inc.ID, asked, now, orElse(sil.Alertmanager, "Alertmanager"), why); err != nil {
			return err
		}
		return done()
	}
	if t.Ref == "" || !sil.Active(now) {
		return done() // the last check: Alertmanager notifies again now
	}
	t.N, t.Due = 0, nextSilenceCheck(sil, now)
	return s.store.Update(ctx, func(tx Tx) error { return tx.SaveTimer(&t) })
}

// quiet records that Alertmanager (peer) holds no firing alert of incident
// id's group any more, marks the alerts that fired when it was asked
// (asked: fingerprint to start) resolved at now if they still fire the
// same episode, and applies the auto-resolve rules. An alert a
// notification added or restarted meanwhile stays firing; nothing changes
// when the incident was resolved or its alerts resolved meanwhile.
func (s *Service) quiet(ctx context.Context, id int64, asked map[string]time.Time, now time.Time, peer, why string) (*Incident, error) {
	return s.updateTx(ctx, id, func(tx Tx, inc *Incident) ([]*TimelineEntry, error) {
		if !inc.Open() || inc.Roster.Firing == 0 {
			return nil, nil
		}
		full, err := tx.Incident(id)
		if err != nil {
			return nil, err
		}
		var alerts []Alert
		var digests []Digest
		for _, a := range full.Alerts {
			if start, ok := asked[a.Fingerprint]; !ok || a.Status != AlertFiring || !a.StartsAt.Equal(start) {
				continue
			}
			old := a
			a.Status, a.EndsAt, a.ResolvedByBot = AlertResolved, &now, true
			inc.Roster.change(&old, &a)
			alerts, digests = append(alerts, a), append(digests, AlertDigest(&a))
		}
		if len(alerts) == 0 {
			return nil, nil
		}
		if err := tx.PutAlerts(id, alerts, digests); err != nil {
			return nil, err
		}
		// The alerts changed without a notification: the next one is
		// applied even when it repeats the last (the alerts fire after
		// all), and a plan read before this is stale (Rev changes).
		if err := tx.SetGroupDigest(inc.Receiver, inc.GroupKey, Digest{}, inc.Open()); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		out := []*TimelineEntry{entry(KindAlertResolved, now, ActorBot,
			"%s reports no alert of the group firing %s; Alertmanager sends no resolution for silenced alerts, so %s taken as resolved",
			peer, why, plural(len(alerts), "the firing alert is", fmt.Sprintf("the %d firing alerts are", len(alerts))))}
		if inc.Roster.Firing == 0 {
			out = append(out, s.cleared(inc)...)
		}
		return out, nil
	})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
