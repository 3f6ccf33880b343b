package webhooks

import (
	"context"
	"net/http"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
)

// Interaction handles a block_actions callback: a button of an incident
// message or of a runbook checklist. Each change is stored before it
// returns (bot then refreshes the message); a problem, like an incident
// already acknowledged, goes back to the user as an ephemeral message
// through the callback's response_url, in the background. Both the HTTP
// endpoint and Socket Mode call it.
//
// A view_submission (the correction modal) is answered in the response
// itself: the returned value, when not nil, is the JSON body to send
// (Slack shows its errors beside the modal's fields).
func (s *Server) Interaction(ctx context.Context, cb slack.InteractionCallback) any {
	if cb.Type == slack.InteractionTypeViewSubmission {
		return s.viewSubmission(ctx, cb)
	}
	if cb.Type == slack.InteractionTypeShortcut && cb.CallbackID == bot.CallbackDeclare {
		if text := s.declareForm(ctx, cb.TriggerID); text != "" {
			s.logger(ctx).Warn("slack: declare shortcut", "problem", text) // a global shortcut has no response_url
		}
		return nil
	}
	if text := s.interact(ctx, cb); text != "" {
		s.replies.send(s.logger(ctx), cb.ResponseURL, text)
	}
	return nil
}

// interact applies the callback's actions and returns what to tell the
// user, or "" when all went well.
func (s *Server) interact(ctx context.Context, cb slack.InteractionCallback) string {
	if cb.Type != slack.InteractionTypeBlockActions {
		s.logger(ctx).Debug("slack interaction ignored", "type", cb.Type)
		return ""
	}
	if cb.User.ID == "" {
		return "the action arrived without a user; try again"
	}
	ctx, cancel := budget(ctx)
	defer cancel()
	actor := cb.User.ID
	for _, act := range cb.ActionCallback.BlockActions {
		if act.ActionID == bot.ActionEntryMenu { // corrections: slack_correct.go
			if text := s.entryMenu(ctx, cb, act); text != "" {
				return text
			}
			continue
		}
		if act.ActionID == bot.ActionPageAck { // a page DM's button: oncall.go
			if text := s.pageAck(ctx, act.Value, actor); text != "" {
				return text
			}
			continue
		}
		id, a, ok, err := s.buttonAction(act, actor)
		if err != nil {
			return userMessage(err)
		}
		if !ok {
			s.logger(ctx).Debug("slack action ignored", "action_id", act.ActionID)
			continue
		}
		inc, err := s.buttonChannel(ctx, id, cb.Channel.ID)
		if err != nil {
			return s.actionFailed(ctx, err, act.ActionID)
		}
		if err := s.mayAct(ctx, inc, actor); err != nil {
			return err.Error()
		}
		if _, err := s.svc.Apply(ctx, id, a); err != nil {
			return s.actionFailed(ctx, err, act.ActionID)
		}
	}
	return ""
}

// buttonAction reads one button into the change it asks for; ok is false
// for buttons that are not ours to handle (links, overflow menus...). The
// action IDs and values are bot's contract with the chat adapter.
func (s *Server) buttonAction(act *slack.BlockAction, actor string) (id int64, a bot.Action, ok bool, err error) {
	switch act.ActionID {
	case bot.ActionAck, bot.ActionResolve, bot.ActionReopen:
		id, err = parseID(act.Value)
		if err != nil {
			return 0, a, false, invalid("button %s: value %q is not an incident number", act.ActionID, act.Value)
		}
		op := map[string]bot.Op{bot.ActionAck: bot.OpAck, bot.ActionResolve: bot.OpResolve, bot.ActionReopen: bot.OpReopen}[act.ActionID]
		return id, bot.Action{Op: op, Actor: actor}, true, nil
	case bot.ActionRunbookStep, bot.ActionRunbookSkip, bot.ActionRunbookUndo:
		return s.stepAction(act, actor)
	}
	return 0, a, false, nil
}

// actionFailed words a failed button press for the user.
func (s *Server) actionFailed(ctx context.Context, err error, actionID string) string {
	switch statusOf(err) {
	case http.StatusBadRequest, http.StatusConflict, http.StatusNotFound:
		return userMessage(err)
	}
	s.logger(ctx).Error("slack action failed", "action_id", actionID, "err", err)
	return "could not save, try again"
}
