package webhooks

import (
	"context"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

// declareForm opens the declare form for `/incident declare` without a
// title and for the global shortcut; it returns what to tell the user.
func (s *Server) declareForm(ctx context.Context, triggerID string) string {
	if s.cfg.Views == nil || triggerID == "" {
		return "declare needs a title\nUsage: `" + bot.Usage("declare") + "`"
	}
	if err := s.cfg.Views.OpenView(ctx, triggerID, botslack.DeclareView()); err != nil {
		s.logger(ctx).Warn("slack: could not open the declare form", "err", err)
		return "could not open the form; try `" + bot.Usage("declare") + "`"
	}
	return ""
}

// declareSubmission declares the incident a submitted form describes: the
// declarer leads it unless the form names a lead, and what is known so far
// becomes its first note. A mistake comes back beside the title.
func (s *Server) declareSubmission(ctx context.Context, cb slack.InteractionCallback) any {
	ctx, cancel := budget(ctx)
	defer cancel()
	d := botslack.DeclarationFrom(cb.View.State)
	if cb.User.ID == "" {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{"title": "the form arrived without a user; try again"})
	}
	inc, err := s.svc.DeclareLed(ctx, d.Title, d.Severity, cb.User.ID, d.Lead, time.Time{})
	if err != nil {
		msg := userMessage(err)
		if statusOf(err) >= 500 {
			s.logger(ctx).Error("slack declare failed", "err", err)
			msg = "could not save, try again"
		}
		return slack.NewErrorsViewSubmissionResponse(map[string]string{"title": msg})
	}
	if d.Description != "" {
		if _, err := s.svc.Apply(ctx, inc.ID, bot.Action{Op: bot.OpNote, Actor: cb.User.ID, Text: d.Description}); err != nil {
			s.logger(ctx).Warn("slack declare: the description was not noted", "incident", inc.ID, "err", err)
		}
	}
	return nil
}
