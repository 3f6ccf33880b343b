package bot

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// HandOff is what the chat is told at a team's shift change.
type HandOff struct {
	Team string
	// UserGroup, when set, is made exactly Users: who is on call now in
	// any of the team's schedules.
	UserGroup string
	Users     []string
	// Channel, when set, gets Text.
	Channel, Text string
}

// HandOffer carries out hand-offs in the chat (bot/slack). The call is
// safe to repeat: the user group is set, not changed; a repeated note is
// the only visible effect of a retry.
type HandOffer interface {
	HandOff(ctx context.Context, h HandOff) error
}

// endOfTime is after every timer's due time (the last nanosecond the
// stores' int64 nanoseconds can hold).
var endOfTime = time.Unix(0, math.MaxInt64)

// handOffTries bounds the retries of a failing hand-off; the next shift
// change sets the user group right anyway.
const handOffTries = 5

// handsOff reports whether the team has anything to do at a hand-off.
func (t *Team) handsOff() bool { return t.UserGroup != "" || t.Channel != "" }

// nextHandOff is the team's next shift change after now, overrides
// applied; zero when none is in sight.
func (t *Team) nextHandOff(ovs []Override, now time.Time) time.Time {
	var next time.Time
	for _, r := range t.Schedules {
		end := r.OnCall(overridesOf(ovs, t.Name, r.Name), now).Now.End
		if !end.IsZero() && (next.IsZero() || end.Before(next)) {
			next = end
		}
	}
	return next
}

// seedHandOffs makes sure, at start, that every team with a user group or
// a channel has its chain of hand-off timers: a timer whose firing
// schedules the next. It reads the pending timers once, Batch at a time,
// then adds the missing chains. Only the engine moves chain timers, and
// it runs this before firing anything.
func (e *Engine) seedHandOffs(ctx context.Context) error {
	oc := e.s.oncall
	if e.handOffer == nil || oc == nil {
		return nil
	}
	chained := map[string]bool{}
	var after *Timer
	for {
		var page []Timer
		err := e.s.store.View(ctx, func(tx Tx) (err error) {
			page, err = tx.TimersAfter(after, endOfTime, e.o.Batch)
			return err
		})
		if err != nil {
			return err
		}
		for _, t := range page {
			if t.Kind == TimerHandOff && t.Chain {
				chained[t.Team] = true
			}
		}
		if len(page) < e.o.Batch {
			break
		}
		after = &page[len(page)-1]
	}
	return e.s.store.Update(ctx, func(tx Tx) error {
		now := e.o.Now().UTC()
		for i := range oc.Teams {
			t := &oc.Teams[i]
			if !t.handsOff() || chained[t.Name] {
				continue
			}
			// The first hand-off fires now: it sets the user group to who
			// is on call at start, and chains from there.
			if err := tx.AddTimer(&Timer{Due: now, Kind: TimerHandOff, Team: t.Name, Chain: true, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
}

// handOff fires a hand-off timer in the background, like a page send, so
// that a slow chat never holds up escalation timers: the timer first moves
// to the end of a lease (a process that dies mid-way repeats the hand-off
// then), the chat is told who is on call now, and then, in one
// transaction, the timer is deleted and, for the chain's timer, the
// team's next hand-off is scheduled. At least once: a crash may repeat the
// note, never lose the user group's update.
func (e *Engine) handOff(ctx context.Context, t Timer) error {
	lease := t
	lease.Due = e.o.Now().Add(e.lease())
	if err := e.s.store.Update(ctx, func(tx Tx) error { return tx.SaveTimer(&lease) }); err != nil {
		return err
	}
	e.wg.Go(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.o.SendTimeout)
		defer cancel()
		if err := e.doHandOff(sctx, t); err != nil {
			e.o.Log.Error("timer engine: hand-off failed; its lease brings it back", "team", t.Team, "err", err)
		}
	})
	return nil
}

func (e *Engine) doHandOff(ctx context.Context, t Timer) error {
	team, err := e.s.oncall.Team(t.Team)
	if err != nil || !team.handsOff() || e.handOffer == nil {
		return e.s.store.Update(ctx, func(tx Tx) error { return tx.DeleteTimer(t.ID) })
	}
	now := e.o.Now().UTC()
	var ovs []Override
	var open []*Incident
	err = e.s.store.View(ctx, func(tx Tx) (err error) {
		if ovs, err = tx.Overrides(); err != nil {
			return err
		}
		yes := true
		open, err = tx.Incidents(IncidentFilter{Open: &yes, Limit: 500, WithAlerts: true})
		return err
	})
	if err != nil {
		return err
	}
	h := handOffAt(team, ovs, open, t.Due, now)
	herr := e.handOffer.HandOff(ctx, h)
	return e.s.store.Update(ctx, func(tx Tx) error {
		if herr != nil && !permanent(herr) && t.N+1 < handOffTries {
			e.o.Log.Warn("hand-off failed; trying again", "team", t.Team, "try", t.N+1, "err", herr)
			t.N++
			t.Due = now.Add(e.backoff(t.N))
			return tx.SaveTimer(&t)
		}
		if herr != nil {
			e.o.Log.Error("hand-off given up", "team", t.Team, "err", herr)
		}
		if err := tx.DeleteTimer(t.ID); err != nil {
			return err
		}
		if !t.Chain {
			return nil
		}
		ovs, err := tx.Overrides()
		if err != nil {
			return err
		}
		next := team.nextHandOff(ovs, now)
		if next.IsZero() {
			next = now.Add(24 * time.Hour) // a one-person team: look again tomorrow
		}
		return tx.AddTimer(&Timer{Due: next, Kind: TimerHandOff, Team: team.Name, Chain: true, CreatedAt: now})
	})
}

// handOffAt says what a hand-off at due tells the chat: who is on call in
// each schedule now, who was just before, and the team's open incidents.
func handOffAt(team *Team, ovs []Override, open []*Incident, due, now time.Time) HandOff {
	h := HandOff{Team: team.Name, UserGroup: team.UserGroup, Channel: team.Channel}
	seen := map[string]bool{}
	var parts []string
	for _, r := range team.Schedules {
		mine := overridesOf(ovs, team.Name, r.Name)
		cur := r.OnCall(mine, now).Now.User
		before := r.OnCall(mine, due.Add(-time.Second)).Now.User
		if cur != "" && !seen[cur] {
			seen[cur] = true
			h.Users = append(h.Users, cur)
		}
		switch {
		case cur == "":
		case before != "" && before != cur:
			parts = append(parts, fmt.Sprintf("%s <@%s> (was <@%s>)", r.Name, cur, before))
		default:
			parts = append(parts, fmt.Sprintf("%s <@%s>", r.Name, cur))
		}
	}
	sort.Strings(h.Users)
	var keys []string
	for _, inc := range open {
		for _, t := range (&OnCall{Teams: []Team{*team}}).TeamsFor(inc) {
			if t.Name == team.Name {
				keys = append(keys, inc.Key())
			}
		}
	}
	incidents := "no open incidents"
	if len(keys) > 0 {
		sort.Slice(keys, func(i, j int) bool {
			return len(keys[i]) < len(keys[j]) || len(keys[i]) == len(keys[j]) && keys[i] < keys[j]
		})
		incidents = "open incidents: " + strings.Join(keys, ", ")
	}
	h.Text = fmt.Sprintf("Hand-off for %s: %s; %s.", team.Name, strings.Join(parts, ", "), incidents)
	return h
}

// addOverrideHandOffs schedules the hand-offs an override makes: at its
// start and its end, outside the team's chain.
func addOverrideHandOffs(tx Tx, team *Team, o *Override, now time.Time) error {
	if !team.handsOff() {
		return nil
	}
	for _, at := range []time.Time{o.Start, o.End} {
		if at.Before(now) {
			at = now
		}
		if err := tx.AddTimer(&Timer{Due: at, Kind: TimerHandOff, Team: team.Name, CreatedAt: now}); err != nil {
			return err
		}
	}
	return nil
}
