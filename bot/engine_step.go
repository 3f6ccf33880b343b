package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

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
			if err := tx.AddTimer(&Timer{Due: now, Kind: TimerPage, IncidentID: inc.ID, Escalation: r.ID, Page: p.ID, Ref: pageGroupKey(p), CreatedAt: now}); err != nil {
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
