package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Op names a change someone makes to an incident.
type Op string

// The changes of the lifecycle. Each becomes one timeline entry.
const (
	OpAck         Op = "ack"
	OpSeverity    Op = "sev"
	OpStatus      Op = "status"
	OpLead        Op = "lead"
	OpNote        Op = "note"
	OpImpact      Op = "impact"
	OpCause       Op = "cause"
	OpAction      Op = "action"
	OpResolve     Op = "resolve"
	OpReopen      Op = "reopen"
	OpRunbookStep Op = "runbook_step"
	OpPin         Op = "pin"
)

// Action is one change to an incident, from a slash command, a button or
// the API.
type Action struct {
	Op    Op
	Actor string
	// When is the moment the change happened, as typed ("14:05" or RFC
	// 3339); it is resolved against the incident's start. Empty means now.
	When string
	// At is the moment as a time, used when When is empty; zero means now.
	At       time.Time
	Text     string
	Severity Severity
	Status   Status
	// Runbook and Step name a runbook step for OpRunbookStep.
	Runbook string
	Step    int
}

// Apply makes one change to incident id and records it on the timeline,
// and returns the incident without its alerts.
// Errors wrap ErrNotFound, ErrInvalid (bad input, a time before the start
// or in the future) or ErrConflict (already acknowledged, already resolved...).
func (s *Service) Apply(ctx context.Context, id int64, a Action) (*Incident, error) {
	a.Actor = Person(strings.TrimSpace(a.Actor))
	a.Text = NormalizeMentions(strings.TrimSpace(CleanText(a.Text)))
	if err := a.check(); err != nil {
		return nil, err
	}
	return s.update(ctx, id, func(inc *Incident) ([]*TimelineEntry, error) {
		at, err := s.when(inc, a)
		if err != nil {
			return nil, err
		}
		e, err := applyOp(inc, a, at)
		if err != nil {
			return nil, err
		}
		return []*TimelineEntry{e}, nil
	})
}

func (a Action) check() error {
	switch a.Op {
	case OpNote, OpImpact, OpCause, OpAction, OpPin:
		if strings.TrimSpace(a.Text) == "" {
			return fmt.Errorf("%w: %s needs text", ErrInvalid, a.Op)
		}
	case OpLead:
		if PersonID(a.Text) == "" {
			return fmt.Errorf("%w: lead needs one person: write @name so that the chat sends a mention", ErrInvalid)
		}
	case OpSeverity:
		if !a.Severity.Valid() {
			return fmt.Errorf("%w: severity must be 1 to 4", ErrInvalid)
		}
	case OpStatus:
		if _, err := ParseStatus(string(a.Status)); err != nil {
			return err
		}
	case OpRunbookStep, OpRunbookSkip, OpRunbookUndo:
		if a.Runbook == "" || a.Step < 1 {
			return fmt.Errorf("%w: runbook step needs a runbook and a step number", ErrInvalid)
		}
	case OpAck, OpResolve, OpReopen:
	default:
		return fmt.Errorf("%w: unknown action %q", ErrInvalid, a.Op)
	}
	if strings.TrimSpace(a.Actor) == "" {
		return fmt.Errorf("%w: actor is empty", ErrInvalid)
	}
	return nil
}

// when resolves the action's moment (typed in the configured zone) against
// now. A moment typed within the detection's minute but before it is the
// detection itself: times are typed to the minute, and the story should not
// start before its first entry by seconds.
func (s *Service) when(inc *Incident, a Action) (time.Time, error) {
	now := s.Now()
	var t time.Time
	var err error
	switch {
	case a.When != "":
		t, err = ParseWhen(a.When, s.zone, now)
	case a.At.IsZero():
		return now, nil
	default:
		t, err = CheckWhen(a.At, now)
	}
	if err != nil {
		return t, err
	}
	if start := inc.DetectedAt; t.Before(start) && !t.Before(start.Truncate(time.Minute)) {
		t = start
	}
	return t, nil
}

func applyOp(inc *Incident, a Action, at time.Time) (*TimelineEntry, error) {
	who, text := a.Actor, strings.TrimSpace(a.Text)
	by := Mention(who)
	switch a.Op {
	case OpAck:
		if inc.AcknowledgedAt != nil {
			return nil, fmt.Errorf("%w: %s was already acknowledged by %s at %s", ErrConflict, inc.Key(), Mention(inc.AcknowledgedBy), inc.AcknowledgedAt.Format("15:04 UTC"))
		}
		inc.AcknowledgedAt, inc.AcknowledgedBy = &at, who
		return entry(KindAcknowledged, at, who, "acknowledged by %s", by), nil
	case OpSeverity:
		if inc.Severity == a.Severity {
			return nil, fmt.Errorf("%w: %s is already %s", ErrConflict, inc.Key(), a.Severity)
		}
		old := inc.Severity
		inc.Severity, inc.SeverityByHand = a.Severity, true
		return entry(KindSeverity, at, who, "severity changed from %s to %s", old, a.Severity), nil
	case OpStatus:
		return setStatus(inc, a.Status, at, who, text)
	case OpLead:
		inc.Lead = PersonID(text)
		return entry(KindLead, at, who, "%s is the incident lead", Mention(inc.Lead)), nil
	case OpNote:
		return entry(KindNote, at, who, "%s", text), nil
	case OpImpact:
		inc.Impact = text
		return entry(KindImpact, at, who, impactPrefix+"%s", text), nil
	case OpCause:
		inc.Cause = text
		return entry(KindCause, at, who, causePrefix+"%s", text), nil
	case OpAction:
		inc.ActionItems = append(inc.ActionItems, ActionItem{Text: text, By: who, At: at})
		return entry(KindActionItem, at, who, actionPrefix+"%s", text), nil
	case OpResolve:
		return setStatus(inc, StatusResolved, at, who, text)
	case OpReopen:
		if inc.Open() {
			return nil, fmt.Errorf("%w: %s is not resolved", ErrConflict, inc.Key())
		}
		inc.Status, inc.ResolvedAt, inc.ResolvedBy = StatusInvestigating, nil, ""
		return entry(KindReopened, at, who, "%s reopened by %s", inc.Key(), by), nil
	case OpRunbookStep, OpRunbookSkip, OpRunbookUndo:
		return markStep(inc, a, at)
	case OpPin:
		return entry(KindPinned, at, who, "%s", text), nil
	}
	return nil, fmt.Errorf("%w: unknown action %q", ErrInvalid, a.Op)
}

func setStatus(inc *Incident, st Status, at time.Time, who, text string) (*TimelineEntry, error) {
	if inc.Status == st {
		return nil, fmt.Errorf("%w: %s is already %s", ErrConflict, inc.Key(), st)
	}
	if !inc.Open() {
		return nil, fmt.Errorf("%w: %s is resolved; reopen it first", ErrConflict, inc.Key())
	}
	if st == StatusResolved {
		resolve(inc, at, who, text)
		if text != "" {
			return entry(KindResolved, at, who, "%s resolved by %s: %s", inc.Key(), Mention(who), text), nil
		}
		return entry(KindResolved, at, who, "%s resolved by %s", inc.Key(), Mention(who)), nil
	}
	old := inc.Status
	inc.Status = st
	if st == StatusMonitoring && inc.MitigatedAt == nil {
		inc.MitigatedAt = &at
	}
	return entry(KindStatus, at, who, "status changed from %s to %s", old, st), nil
}

// resolve marks inc resolved at at. An incident resolved without passing
// through monitoring was mitigated when it was resolved.
func resolve(inc *Incident, at time.Time, who, summary string) {
	inc.Status = StatusResolved
	inc.ResolvedAt, inc.ResolvedBy = &at, who
	if summary != "" {
		inc.Resolution = summary
	}
	if inc.MitigatedAt == nil {
		inc.MitigatedAt = &at
	}
}

// Declare opens an incident by hand, with a title and a severity (SEV3 when
// zero), detected now or at the given moment. The declarer leads it unless
// lead names someone else. Declaring does not acknowledge: acknowledging
// is what stops paging, and a declarer may want people paged.
func (s *Service) Declare(ctx context.Context, title string, sev Severity, actor string, at time.Time) (*Incident, error) {
	return s.DeclareLed(ctx, title, sev, actor, "", at)
}

// DeclareLed is Declare with a lead other than the declarer ("" means the
// declarer).
func (s *Service) DeclareLed(ctx context.Context, title string, sev Severity, actor, lead string, at time.Time) (*Incident, error) {
	title = OneLine(CleanText(title))
	if title == "" {
		return nil, fmt.Errorf("%w: declare needs a title", ErrInvalid)
	}
	if len(title) > 200 {
		return nil, fmt.Errorf("%w: title is longer than 200 bytes", ErrInvalid)
	}
	if sev == 0 {
		sev = SEV3
	}
	if !sev.Valid() {
		return nil, fmt.Errorf("%w: severity must be 1 to 4", ErrInvalid)
	}
	now := s.Now()
	if at.IsZero() {
		at = now
	}
	if at.After(now) {
		return nil, fmt.Errorf("%w: %s is in the future", ErrInvalid, at.UTC().Format(time.RFC3339))
	}
	at = at.UTC()
	actor = Person(strings.TrimSpace(actor))
	if lead == "" {
		lead = actor
	}
	lead = PersonID(lead)
	var inc *Incident
	err := s.store.Update(ctx, func(tx Tx) error {
		inc = &Incident{Title: title, Severity: sev, SeverityByHand: true, Status: StatusInvestigating,
			DeclaredBy: actor, CreatedAt: now, DetectedAt: at, Lead: lead}
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		entries := []*TimelineEntry{entry(KindOpened, at, actor, "%s declared by %s: %s (%s)", inc.Key(), Mention(actor), title, sev)}
		if lead != "" {
			entries = append(entries, entry(KindLead, at, actor, "%s is the incident lead", Mention(lead)))
		}
		return s.record(tx, inc, true, entries)
	})
	if err != nil {
		return nil, err
	}
	s.logFor(ctx, inc.ID).Info("incident declared", "by", actor, "severity", sev)
	return inc, nil
}
