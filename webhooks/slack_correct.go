package webhooks

import (
	"context"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

// ViewOpener opens a Slack modal for the person whose trigger_id it is
// (bot/slack's Client). It calls Slack on the request path, which
// views.open demands: its trigger_id is good for 3 s.
type ViewOpener interface {
	OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error
}

// entryMenu answers an option of a timeline entry's overflow menu by
// opening the correction modal, filled with the entry as it is ("Strike"
// ticks its box). It returns what to tell the user when it cannot.
func (s *Server) entryMenu(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) string {
	id, entryID, op, err := bot.ParseEntryValue(act.SelectedOption.Value)
	if err != nil {
		return userMessage(err)
	}
	if s.cfg.Views == nil {
		return "corrections need the Slack bot token; use PATCH /api/v1/incidents/{id}/timeline/{entry} meanwhile"
	}
	inc, e, err := s.svc.Entry(ctx, id, entryID)
	if err != nil {
		return s.actionFailed(ctx, err, act.ActionID)
	}
	if ch := s.channel(ctx, inc.ID).Room; ch != "" && cb.Channel.ID != "" && cb.Channel.ID != ch {
		return "that menu belongs to another incident's channel"
	}
	if err := s.mayAct(ctx, inc, cb.User.ID); err != nil {
		return err.Error()
	}
	if err := s.cfg.Views.OpenView(ctx, cb.TriggerID, botslack.CorrectionView(inc, e, s.svc.Zone(), op == "strike")); err != nil {
		s.logger(ctx).Warn("slack: could not open the correction modal", "incident", id, "entry", entryID, "err", err)
		return "could not open the correction form; try again"
	}
	return ""
}

// viewSubmission applies a submitted correction modal. A mistake (a time
// in the future, empty text) comes back as Slack's field errors, so the
// modal stays open with the message beside the field.
func (s *Server) viewSubmission(ctx context.Context, cb slack.InteractionCallback) any {
	if cb.View.CallbackID == bot.CallbackDeclare {
		return s.declareSubmission(ctx, cb) // slack_declare.go
	}
	if cb.View.CallbackID != bot.CallbackCorrect {
		s.logger(ctx).Debug("slack view ignored", "callback_id", cb.View.CallbackID)
		return nil
	}
	ctx, cancel := budget(ctx)
	defer cancel()
	fieldError := func(field, msg string) any {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{field: msg})
	}
	if cb.User.ID == "" {
		return fieldError("text", "the form arrived without a user; try again")
	}
	id, entryID, _, err := bot.ParseEntryValue(cb.View.PrivateMetadata)
	if err != nil {
		return fieldError("text", userMessage(err))
	}
	inc, e, err := s.svc.Entry(ctx, id, entryID)
	if err != nil {
		return fieldError("text", userMessage(err))
	}
	if err := s.mayAct(ctx, inc, cb.User.ID); err != nil {
		return fieldError("text", err.Error())
	}
	c := botslack.CorrectionFrom(cb.View.State, e, s.svc.Zone(), cb.User.ID)
	if c.When == "" && c.Text == nil && c.Struck == nil {
		return nil // nothing changed: the modal closes
	}
	if _, err := s.svc.Correct(ctx, id, entryID, c); err != nil {
		switch statusOf(err) {
		case http.StatusBadRequest, http.StatusConflict, http.StatusNotFound:
			field := "text"
			if c.When != "" && (c.Text == nil || isTimeError(err)) {
				field = "when"
			}
			return fieldError(field, userMessage(err))
		}
		s.logger(ctx).Error("slack correction failed", "incident", id, "entry", entryID, "err", err)
		return fieldError("text", "could not save, try again")
	}
	return nil
}

// isTimeError reports whether a refused correction is about its time.
func isTimeError(err error) bool {
	msg := err.Error()
	for _, w := range []string{"future", "write HH:MM", "did not exist", "has passed"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}
