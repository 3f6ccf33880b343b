package webhooks

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/incidentbot/incidentbot/bot"
)

// socketWorkers handle Socket Mode envelopes concurrently, so that one slow
// store write does not make Slack wait on the others.
const socketWorkers = 4

// RunSocketMode receives slash commands, interactions and events over
// Slack's Socket Mode WebSocket instead of HTTP, and hands them to the same
// methods as the HTTP endpoints (Command, Interaction, Event). There is no
// signature to check: the WebSocket itself is authenticated by appToken
// (xapp-..., scope connections:write). api is the bot's Web API client;
// it is copied, not changed. RunSocketMode returns nil when ctx is done, or
// the error that ended the connection for good.
func RunSocketMode(ctx context.Context, appToken string, api *slack.Client, srv *Server) error {
	if !strings.HasPrefix(appToken, "xapp-") {
		return errors.New("socket mode: the app token must start with xapp-")
	}
	c := *api
	slack.OptionAppLevelToken(appToken)(&c)
	sm := socketmode.New(&c, socketmode.OptionLog(slog.NewLogLogger(srv.log.Handler(), slog.LevelWarn)))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range socketWorkers {
		wg.Go(func() {
			for {
				select {
				case <-runCtx.Done():
					return
				case ev := <-sm.Events:
					srv.handleSocketEvent(runCtx, sm, ev)
				}
			}
		})
	}
	err := sm.RunContext(runCtx)
	cancel()
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Server) handleSocketEvent(ctx context.Context, sm *socketmode.Client, ev socketmode.Event) {
	payload, ack := s.socketEvent(ctx, ev)
	if !ack {
		return
	}
	if err := sm.AckCtx(ctx, ev.Request.EnvelopeID, payload); err != nil {
		s.log.Warn("socket mode: ack failed", "type", ev.Type, "err", err)
	}
}

// socketEvent routes one Socket Mode event to the handler its type calls
// for and returns the payload to acknowledge it with. ack is false for the
// client's own events (connecting, hello...), which have no envelope, and
// for an event the store could not take, so that Slack delivers it again.
func (s *Server) socketEvent(ctx context.Context, ev socketmode.Event) (payload any, ack bool) {
	log := s.log.With("socket_event", string(ev.Type))
	if ev.Request != nil && ev.Request.EnvelopeID != "" {
		log = log.With("envelope_id", ev.Request.EnvelopeID)
	}
	ctx = bot.WithLogger(ctx, log)
	switch ev.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := ev.Data.(slack.SlashCommand)
		if !ok {
			return nil, hasEnvelope(ev)
		}
		return s.Command(ctx, cmd), hasEnvelope(ev)
	case socketmode.EventTypeInteractive:
		if cb, ok := ev.Data.(slack.InteractionCallback); ok {
			if resp := s.Interaction(ctx, cb); resp != nil {
				return resp, hasEnvelope(ev)
			}
		}
		return nil, hasEnvelope(ev)
	case socketmode.EventTypeEventsAPI:
		e, ok := ev.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return nil, hasEnvelope(ev)
		}
		if err := s.Event(ctx, e); err != nil {
			log.Warn("socket mode: event not acknowledged, Slack will retry", "err", err)
			return nil, false
		}
		return nil, hasEnvelope(ev)
	case socketmode.EventTypeConnected:
		log.Info("socket mode connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError,
		socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		log.Warn("socket mode problem", "data", ev.Data)
	default:
		log.Debug("socket mode event")
	}
	return nil, false
}

func hasEnvelope(ev socketmode.Event) bool {
	return ev.Request != nil && ev.Request.EnvelopeID != ""
}
