package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The timeline kinds of on-call work.
const (
	// KindEscalation: a policy started, fired a step, or stopped.
	KindEscalation Kind = "escalation"
	// KindPaged: a page went out (or finally failed) to one target by one method.
	KindPaged Kind = "paged"
)

// ActionPageAck is the Acknowledge button of a page DM; its value is
// PageValue's "<incident id>:<page id>".
const ActionPageAck = "page_ack"

// DeliveryInvite invites the people in Ref (comma-separated user IDs)
// into the incident's channel: they were paged.
const DeliveryInvite DeliveryKind = "invite"

// PageValue is the value of a page's Acknowledge button.
func PageValue(incident int64, page uint64) string { return fmt.Sprintf("%d:%d", incident, page) }

// ParsePageValue reads PageValue's format. Errors wrap ErrInvalid.
func ParsePageValue(v string) (int64, uint64, error) {
	var inc int64
	var page uint64
	if n, err := fmt.Sscanf(v, "%d:%d", &inc, &page); n != 2 || err != nil || inc < 1 || page < 1 || PageValue(inc, page) != v {
		return 0, 0, fmt.Errorf("%w: page button %q: want <incident>:<page>", ErrInvalid, v)
	}
	return inc, page, nil
}

// escalate is the on-call part of recording a change: an incident opened
// from alerts starts the policy of every team whose match fits one of its
// alerts, counted from now; an incident now acknowledged or resolved stops
// every running policy. It returns the entries to add.
func (s *Service) escalate(tx Tx, inc *Incident, opened bool, now time.Time) ([]*TimelineEntry, error) {
	if s.oncall == nil || len(s.oncall.Teams) == 0 {
		return nil, nil
	}
	var out []*TimelineEntry
	if opened && inc.Open() {
		for _, t := range s.oncall.TeamsFor(inc) {
			e, err := s.startRun(tx, inc, &EscalationRun{Team: t.Name, StartedBy: ActorAlertmanager}, now)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	if inc.Open() && inc.AcknowledgedAt == nil {
		return nil, nil
	}
	runs, err := tx.Escalations(inc.ID)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		r := &runs[i]
		reason, by, at := stopReason(inc, r)
		if r.StoppedAt != nil || reason == "" {
			continue
		}
		r.StoppedAt, r.StoppedBy, r.Stopped = &at, by, reason
		if err := tx.SaveEscalation(r); err != nil {
			return nil, err
		}
		out = append(out, entry(KindEscalation, at, by, "%s", stopText(r, at)))
	}
	return out, nil
}

// escalateJoined starts, for alerts that joined an open incident (new or
// firing again), the policy of every team they match that has no run for
// this incident yet, running or finished: a team's policy runs at most
// once per incident by itself, however often Alertmanager repeats the
// notification (or both peers of an HA pair send it). A person may still
// start it again with /incident page. The incident may be acknowledged:
// the new team's own people are paged anyway (the run starts "acked at
// start", so only an answer to its own pages, or the resolve, stops it).
func (s *Service) escalateJoined(tx Tx, inc *Incident, joined []Alert, now time.Time) ([]*TimelineEntry, error) {
	if s.oncall == nil || len(s.oncall.Teams) == 0 || !inc.Open() {
		return nil, nil
	}
	var firing []Alert
	for _, a := range joined {
		if a.Status == AlertFiring {
			firing = append(firing, a)
		}
	}
	teams := s.oncall.TeamsFor(&Incident{Alerts: firing})
	if len(teams) == 0 {
		return nil, nil
	}
	runs, err := tx.Escalations(inc.ID)
	if err != nil {
		return nil, err
	}
	var out []*TimelineEntry
	for _, t := range teams {
		if slices.ContainsFunc(runs, func(r EscalationRun) bool { return r.Team == t.Name }) {
			continue
		}
		name := ""
		for _, a := range firing {
			if t.Match(a.Labels) {
				name = clip(a.Name(), 100)
				break
			}
		}
		e, err := s.startRun(tx, inc, &EscalationRun{Team: t.Name, StartedBy: ActorAlertmanager, Joined: name}, now)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// stopReason says whether the incident's state stops run: resolved, or
// acknowledged (an acknowledgement that came before the run started, as
// for a page by hand of an acknowledged incident, does not stop it).
func stopReason(inc *Incident, r *EscalationRun) (reason, by string, at time.Time) {
	switch {
	case !inc.Open():
		return "resolved", inc.ResolvedBy, *inc.ResolvedAt
	case inc.AcknowledgedAt != nil && !r.AckedAtStart:
		return "acknowledged", inc.AcknowledgedBy, *inc.AcknowledgedAt
	}
	return "", "", time.Time{}
}

// stopText is the timeline's account of a stop: who answered, and how
// long after the start and after the last step fired (time to acknowledge
// per step, for the draft).
func stopText(r *EscalationRun, at time.Time) string {
	text := fmt.Sprintf("escalation of %s stopped: %s by %s %s after it started", r.Name(), r.Stopped, Mention(r.StoppedBy), roundDur(at.Sub(r.StartedAt)))
	if n := len(r.FiredAt); n > 0 {
		text += fmt.Sprintf(", %s after firing %d", roundDur(at.Sub(r.FiredAt[n-1])), n)
	}
	return text
}

func roundDur(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(time.Second)
}

// startRun stores a run and the timer of its first firing.
func (s *Service) startRun(tx Tx, inc *Incident, r *EscalationRun, now time.Time) (*TimelineEntry, error) {
	r.IncidentID, r.StartedAt, r.AckedAtStart = inc.ID, now, inc.AcknowledgedAt != nil
	pol, err := s.policyOf(r)
	if err != nil {
		return nil, err
	}
	if err := tx.CreateEscalation(r); err != nil {
		return nil, err
	}
	_, _, due, _ := pol.StepAt(now, 0)
	if err := tx.AddTimer(&Timer{Due: due, Kind: TimerStep, IncidentID: inc.ID, Escalation: r.ID, N: 0, CreatedAt: now}); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("escalation of %s started by %s", r.Name(), Mention(r.StartedBy))
	if r.Team != "" && r.StartedBy == ActorAlertmanager {
		text = fmt.Sprintf("escalation of %s started: its alerts match the team", r.Name())
		if r.Joined != "" {
			text = fmt.Sprintf("escalation of %s started: a later alert (%s) matches the team", r.Name(), r.Joined)
		}
	}
	if r.Message != "" {
		text += ": " + r.Message
	}
	return entry(KindEscalation, now, r.StartedBy, "%s", text), nil
}

// policyOf returns the policy a run follows: its team's, or one step
// notifying the one person paged by hand.
func (s *Service) policyOf(r *EscalationRun) (Escalation, error) {
	if r.Team == "" {
		return Escalation{Steps: []EscalationStep{{Notify: []Target{{Kind: TargetUser, Ref: r.User}}}}}, nil
	}
	t, err := s.oncall.Team(r.Team)
	if err != nil {
		return Escalation{}, err
	}
	if len(t.Escalation.Steps) == 0 {
		return Escalation{}, fmt.Errorf("%w: team %s has no escalation steps", ErrInvalid, t.Name)
	}
	return t.Escalation, nil
}

// PageTeam starts team's escalation policy for incident id by hand, or,
// when user is set instead, pages that one person. Errors wrap
// ErrNotFound (incident, team), ErrConflict (resolved) or ErrInvalid.
func (s *Service) PageTeam(ctx context.Context, id int64, team, user, message, actor string) (*Incident, error) {
	if (team == "") == (user == "") {
		return nil, fmt.Errorf("%w: page needs a team or a person", ErrInvalid)
	}
	if len(message) > 500 {
		return nil, fmt.Errorf("%w: the page's message is longer than 500 bytes", ErrInvalid)
	}
	if team != "" {
		if _, err := s.oncall.Team(team); err != nil {
			return nil, err
		}
	}
	return s.updateTx(ctx, id, func(tx Tx, inc *Incident) ([]*TimelineEntry, error) {
		if !inc.Open() {
			return nil, fmt.Errorf("%w: %s is resolved; reopen it first", ErrConflict, inc.Key())
		}
		e, err := s.startRun(tx, inc, &EscalationRun{Team: team, User: user, StartedBy: actor, Message: strings.TrimSpace(message)}, s.Now())
		if err != nil {
			return nil, err
		}
		return []*TimelineEntry{e}, nil
	})
}

// AckPage acknowledges incident id as actor because of page pageID (its
// DM button or ack link): the incident is acknowledged if nobody did yet,
// every policy the acknowledgement stops is stopped, and the page's own
// run stops even when the incident was acknowledged before it started.
func (s *Service) AckPage(ctx context.Context, id int64, pageID uint64, actor string) (*Incident, error) {
	actor = Person(actor)
	return s.updateTx(ctx, id, func(tx Tx, inc *Incident) ([]*TimelineEntry, error) {
		p, err := tx.Page(id, pageID)
		if err != nil {
			return nil, err
		}
		if !inc.Open() {
			return nil, fmt.Errorf("%w: %s is already resolved", ErrConflict, inc.Key())
		}
		now := s.Now()
		var out []*TimelineEntry
		if inc.AcknowledgedAt == nil {
			inc.AcknowledgedAt, inc.AcknowledgedBy = &now, actor
			out = append(out, entry(KindAcknowledged, now, actor, "acknowledged by %s (answering a page by %s)", Mention(actor), p.Via))
		}
		runs, err := tx.Escalations(id)
		if err != nil {
			return nil, err
		}
		for i := range runs {
			r := &runs[i]
			if r.ID != p.Escalation || r.StoppedAt != nil {
				continue
			}
			r.StoppedAt, r.StoppedBy, r.Stopped = &now, actor, "answered"
			if err := tx.SaveEscalation(r); err != nil {
				return nil, err
			}
			out = append(out, entry(KindEscalation, now, actor, "%s", stopText(r, now)))
		}
		if p.AckedAt == nil {
			p.AckedAt, p.Status = &now, PageAcknowledged
			if err := tx.SavePage(p); err != nil {
				return nil, err
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: %s was already acknowledged by %s", ErrConflict, inc.Key(), inc.AcknowledgedBy)
		}
		return out, nil
	})
}

// AckPageAll acknowledges, as actor, what the message of page pageID of
// incident id paged for: that page's incident and, for a grouped message
// (Page.Group), every other page's incident too, each as AckPage does.
// It returns the incidents it acknowledged (or stopped a run of); an
// incident already acknowledged or resolved is skipped. When none was
// left to acknowledge, the error of the first wraps ErrConflict.
func (s *Service) AckPageAll(ctx context.Context, id int64, pageID uint64, actor string) ([]*Incident, error) {
	var first *Page
	err := s.store.View(ctx, func(tx Tx) (err error) {
		first, err = tx.Page(id, pageID)
		return err
	})
	if err != nil {
		return nil, err
	}
	refs := append([]PageRef{{Incident: id, Page: pageID}}, first.Group...)
	var out []*Incident
	var conflict error
	for _, ref := range refs[:min(len(refs), maxGroup)] {
		inc, err := s.AckPage(ctx, ref.Incident, ref.Page, actor)
		switch {
		case err == nil:
			out = append(out, inc)
		case errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound):
			if conflict == nil {
				conflict = err
			}
		default:
			return out, err
		}
	}
	if len(out) == 0 {
		return nil, conflict
	}
	return out, nil
}

// HashPageToken is how ack link tokens are stored: only their SHA-256, so
// a copy of the database does not hold working links.
func HashPageToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// PageByToken returns the page an ack link's token was made for, and its
// incident. An unknown or expired token is ErrNotFound (the two are not
// told apart, so a guess learns nothing).
func (s *Service) PageByToken(ctx context.Context, token string) (*Page, *Incident, error) {
	var p *Page
	var inc *Incident
	err := s.store.View(ctx, func(tx Tx) error {
		id, pageID, exp, err := tx.PageToken(HashPageToken(token))
		if err != nil {
			return err
		}
		if !s.Now().Before(exp) {
			return fmt.Errorf("ack link: %w", ErrNotFound)
		}
		if p, err = tx.Page(id, pageID); err != nil {
			return err
		}
		inc, err = tx.Incident(id)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("this ack link is unknown or expired: %w", err)
	}
	return p, inc, nil
}

// AckByToken acknowledges as the person an ack link was sent to: every
// incident its message paged for (AckPageAll). It returns the first.
func (s *Service) AckByToken(ctx context.Context, token string) (*Incident, *Page, error) {
	incs, p, err := s.AckAllByToken(ctx, token)
	if err != nil {
		return nil, p, err
	}
	return incs[0], p, nil
}

// AckAllByToken is AckByToken returning every incident acknowledged.
func (s *Service) AckAllByToken(ctx context.Context, token string) ([]*Incident, *Page, error) {
	p, _, err := s.PageByToken(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	incs, err := s.AckPageAll(ctx, p.IncidentID, p.ID, "<@"+p.Target+">")
	return incs, p, err
}

// Pages returns the pages sent for incident id, in the order they were made.
func (s *Service) Pages(ctx context.Context, id int64) ([]Page, error) {
	var out []Page
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if _, err = tx.Incident(id); err != nil {
			return err
		}
		out, err = tx.Pages(id)
		return err
	})
	return out, err
}

// OnCallConfig returns the teams and people; nil when none are configured.
func (s *Service) OnCallConfig() *OnCall { return s.oncall }

// WhoIsOnCall returns who is on call now in every schedule of every team,
// or of the one team named.
func (s *Service) WhoIsOnCall(ctx context.Context, team string) ([]TeamNow, error) {
	teams, err := s.teams(team)
	if err != nil {
		return nil, err
	}
	ovs, err := s.overrides(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	out := []TeamNow{}
	for _, t := range teams {
		out = append(out, t.Now(ovs, now))
	}
	return out, nil
}

// TeamShifts returns the shifts of every schedule of a team from from to
// to, overrides applied, for the calendar feed.
func (s *Service) TeamShifts(ctx context.Context, team string, from, to time.Time) (map[string][]Shift, error) {
	t, err := s.oncall.Team(team)
	if err != nil {
		return nil, err
	}
	ovs, err := s.overrides(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]Shift{}
	for _, r := range t.Schedules {
		out[r.Name] = r.Shifts(overridesOf(ovs, t.Name, r.Name), from, to)
	}
	return out, nil
}

func (s *Service) teams(name string) ([]*Team, error) {
	if name != "" {
		t, err := s.oncall.Team(name)
		if err != nil {
			return nil, err
		}
		return []*Team{t}, nil
	}
	var out []*Team
	if s.oncall != nil {
		for i := range s.oncall.Teams {
			out = append(out, &s.oncall.Teams[i])
		}
	}
	return out, nil
}

func (s *Service) overrides(ctx context.Context) ([]Override, error) {
	var ovs []Override
	err := s.store.View(ctx, func(tx Tx) (err error) {
		ovs, err = tx.Overrides()
		return err
	})
	return ovs, err
}

// AddOverride puts user on call for team's schedule (the team's only or
// first schedule when schedule is empty) from start to end. Errors wrap
// ErrNotFound (team, schedule), ErrInvalid (times) or ErrConflict (the
// schedule already has MaxOpenOverrides that have not ended).
func (s *Service) AddOverride(ctx context.Context, team, schedule, user string, start, end time.Time, by string) (*Override, error) {
	t, err := s.oncall.Team(team)
	if err != nil {
		return nil, err
	}
	if schedule == "" && len(t.Schedules) > 0 {
		schedule = t.Schedules[0].Name
	}
	if _, ok := t.Schedule(schedule); !ok {
		return nil, fmt.Errorf("%w: team %s has no schedule named %q", ErrNotFound, team, schedule)
	}
	now := s.Now()
	switch {
	case !end.After(start):
		return nil, fmt.Errorf("%w: an override must end after it starts", ErrInvalid)
	case !end.After(now):
		return nil, fmt.Errorf("%w: that override would already be over", ErrInvalid)
	case end.Sub(start) > MaxOverride:
		return nil, fmt.Errorf("%w: an override may last at most %d days", ErrInvalid, int(MaxOverride.Hours()/24))
	case strings.TrimSpace(user) == "":
		return nil, fmt.Errorf("%w: an override needs a person", ErrInvalid)
	}
	o := &Override{Team: team, Schedule: schedule, User: user, Start: start.UTC(), End: end.UTC(), CreatedAt: now, By: by}
	err = s.store.Update(ctx, func(tx Tx) error {
		ovs, err := tx.Overrides()
		if err != nil {
			return err
		}
		open := 0
		for _, e := range overridesOf(ovs, team, schedule) {
			if e.End.After(now) {
				open++
			}
		}
		if open >= MaxOpenOverrides {
			return fmt.Errorf("%w: %s/%s already has %d overrides that have not ended; wait for one to end", ErrConflict, team, schedule, open)
		}
		if err := tx.AddOverride(o); err != nil {
			return err
		}
		return addOverrideHandOffs(tx, t, o, now)
	})
	return o, err
}

// timerWakingStore calls the service's onTimers after a committed update
// that added a timer, so the engine fires it without waiting for its poll.
type timerWakingStore struct {
	Store
	s *Service
}

// timerTx notes that a transaction added a timer.
type timerTx struct {
	Tx
	added *bool
}

func (t timerTx) AddTimer(tm *Timer) error {
	*t.added = true
	return t.Tx.AddTimer(tm)
}

func (w timerWakingStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	var added bool
	err := w.Store.Update(ctx, func(tx Tx) error {
		added = false // fn may run again
		return fn(timerTx{Tx: tx, added: &added})
	})
	if err == nil && added {
		w.s.onTimers()
	}
	return err
}
