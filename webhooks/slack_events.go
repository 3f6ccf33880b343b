package webhooks

import (
	"context"
	"errors"

	"github.com/slack-go/slack/slackevents"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

// pinReaction is the reaction that adds a message to the timeline.
const pinReaction = "pushpin"

// Event handles one Events API event. A :pushpin: reaction on a message in
// an incident's channel asks the chat to add that message to the timeline;
// everything else is ignored. An error means Slack should deliver the event
// again (the store failed). Both the HTTP endpoint and Socket Mode call it.
func (s *Server) Event(ctx context.Context, ev slackevents.EventsAPIEvent) error {
	if ev.Type != slackevents.CallbackEvent {
		return nil
	}
	r, ok := ev.InnerEvent.Data.(*slackevents.ReactionAddedEvent)
	if !ok || r.Reaction != pinReaction || r.Item.Type != "message" || r.Item.Channel == "" || r.Item.Timestamp == "" {
		return nil
	}
	ctx, cancel := budget(ctx)
	defer cancel()
	log := s.logger(ctx)
	inc, _, err := s.svc.IncidentByRoom(ctx, botslack.Adapter, r.Item.Channel)
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	eventID := ""
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
		eventID = cb.EventID
	}
	fresh, err := s.svc.RequestOnce(ctx, eventID, inc.ID, bot.DeliveryPin, r.Item.Timestamp, r.User)
	if err == nil && !fresh {
		log.Info("slack event already handled", "event_id", eventID)
		return nil
	}
	switch {
	case err == nil:
		log.Info("pinned message requested", "incident", inc.ID, "event_id", eventID)
	case errors.Is(err, bot.ErrConflict):
		// Slack is not configured for delivery: nothing can fetch the message.
		log.Warn("pinned message ignored", "incident", inc.ID, "err", err)
	default:
		// Nothing was marked seen, so Slack's retry will try again.
		log.Warn("pinned message not recorded yet", "incident", inc.ID, "event_id", eventID, "err", err)
		return err
	}
	return nil
}
