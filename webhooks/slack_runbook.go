package webhooks

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
)

// stepOps maps the checklist's buttons to the marks they make.
var stepOps = map[string]bot.Op{
	bot.ActionRunbookStep: bot.OpRunbookStep,
	bot.ActionRunbookSkip: bot.OpRunbookSkip,
	bot.ActionRunbookUndo: bot.OpRunbookUndo,
}

// stepAction reads a checklist button (Done, Skip, Undo). A value naming
// a runbook or step that does not exist is refused here, with a message
// for the user, and bot refuses one the incident's checklist lacks: a
// forged or stale button changes nothing.
func (s *Server) stepAction(act *slack.BlockAction, actor string) (int64, bot.Action, bool, error) {
	id, name, step, err := bot.ParseStepValue(act.Value)
	if err != nil {
		return 0, bot.Action{}, false, err
	}
	a := bot.Action{Op: stepOps[act.ActionID], Actor: actor, Runbook: name, Step: step}
	if s.cfg.Runbooks == nil {
		return 0, a, false, fmt.Errorf("%w: no runbooks are configured", bot.ErrNotFound)
	}
	rb, found := s.cfg.Runbooks.Get(name)
	switch {
	case !found:
		return 0, a, false, fmt.Errorf("%w: there is no runbook %q", bot.ErrNotFound, name)
	case step > len(rb.Steps):
		return 0, a, false, fmt.Errorf("%w: runbook %s has no step %d (it has %d)", bot.ErrNotFound, name, step, len(rb.Steps))
	}
	a.Text = rb.Steps[step-1].Text
	return id, a, true, nil
}
