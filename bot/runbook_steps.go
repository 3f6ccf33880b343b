package bot

import (
	"fmt"
	"time"
)

// The checklist's marks on a runbook step, beside OpRunbookStep (done).
const (
	// OpRunbookSkip marks a step not applicable to this incident.
	OpRunbookSkip Op = "runbook_skip"
	// OpRunbookUndo takes back a step's Done or Skip mark.
	OpRunbookUndo Op = "runbook_undo"
)

// The action IDs of the checklist's Skip and Undo buttons; their values
// are StepValue's, like ActionRunbookStep's.
const (
	ActionRunbookSkip = "runbook_skip"
	ActionRunbookUndo = "runbook_undo"
)

// markStep applies a Done, Skip or Undo to a runbook step. The incident
// must have the runbook's checklist in its channel, and the checklist the
// step: a forged or stale button changes nothing (ErrNotFound). A step
// carries one mark at a time; Undo removes it, and the timeline keeps
// every mark and undo.
func markStep(inc *Incident, a Action, at time.Time) (*TimelineEntry, error) {
	m, ok := inc.Checklist(a.Runbook)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no runbook %q", ErrNotFound, inc.Key(), a.Runbook)
	}
	if m.Steps > 0 && a.Step > m.Steps {
		return nil, fmt.Errorf("%w: runbook %s has no step %d (it has %d)", ErrNotFound, a.Runbook, a.Step, m.Steps)
	}
	i := -1
	for j, d := range inc.StepsDone {
		if d.Runbook == a.Runbook && d.N == a.Step {
			i = j
		}
	}
	label := fmt.Sprintf("%s step %d", a.Runbook, a.Step)
	suffix := ""
	if a.Text != "" {
		suffix = ": " + a.Text
	}
	if a.Op == OpRunbookUndo {
		if i < 0 {
			return nil, fmt.Errorf("%w: step %d of %s is not marked", ErrConflict, a.Step, a.Runbook)
		}
		was := inc.StepsDone[i]
		inc.StepsDone = append(inc.StepsDone[:i:i], inc.StepsDone[i+1:]...)
		return entry(KindRunbookStep, at, a.Actor, "%s undone (was %s by %s)%s", label, was.mark(), Mention(was.By), suffix), nil
	}
	if i >= 0 {
		d := inc.StepsDone[i]
		return nil, fmt.Errorf("%w: step %d of %s was already %s by %s", ErrConflict, a.Step, a.Runbook, d.mark(), Mention(d.By))
	}
	d := StepDone{Runbook: a.Runbook, N: a.Step, Text: a.Text, By: a.Actor, At: at, Skipped: a.Op == OpRunbookSkip}
	inc.StepsDone = append(inc.StepsDone, d)
	if d.Skipped {
		return entry(KindRunbookStep, at, a.Actor, "%s skipped (not applicable)%s", label, suffix), nil
	}
	return entry(KindRunbookStep, at, a.Actor, "%s done%s", label, suffix), nil
}

// mark words a step's mark: done or skipped.
func (d StepDone) mark() string {
	if d.Skipped {
		return "skipped"
	}
	return "done"
}
