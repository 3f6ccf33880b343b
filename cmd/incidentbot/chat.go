package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	slackgo "github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/runbooks"
	"github.com/incidentbot/incidentbot/webhooks"
)

// chatRuntime is Slack when it is configured: the outbound client, the
// delivery worker that drains the outbox into it, and Socket Mode. A nil
// *chatRuntime is Slack off, and its methods do nothing.
type chatRuntime struct {
	st     *settings
	client *botslack.Client
	// worker is set by start, while webhooks may already be committing
	// and waking it.
	worker atomic.Pointer[bot.Worker]
	log    *slog.Logger
	cfg    *config
	m      *metrics
	// grapher draws the graphs the worker posts (set by serve).
	grapher bot.Grapher
	blobs   bot.ProfileBlobs
}

// newChat returns nil when SLACK_BOT_TOKEN is not set.
func newChat(st *settings, cfg *config, books *runbooks.Set, log *slog.Logger, m *metrics) (*chatRuntime, error) {
	if st.SlackBotToken == "" {
		return nil, nil
	}
	client := botslack.New(st.SlackBotToken, botslack.Options{
		APIURL: st.SlackAPIURL, Channel: st.SlackChannel, Responders: st.SlackResponders,
		RespondersFor: cfg.RespondersFor, ChannelPrefix: cfg.ChannelPrefix, PublicURL: st.PublicURL,
		Runbooks: books, Location: cfg.Zone, Log: log.With("component", "slack"), OnCall: m.observeSlackCall,
	})
	return &chatRuntime{st: st, client: client, log: log, cfg: cfg, m: m}, nil
}

// directory names people for drafts through Slack; nil with Slack off.
func (c *chatRuntime) directory() bot.Directory {
	if c == nil {
		return nil
	}
	return c.client
}

// views opens Slack modals; nil with Slack off.
func (c *chatRuntime) views() webhooks.ViewOpener {
	if c == nil {
		return nil
	}
	return c.client
}

// members reads channel membership for access.act; nil with Slack off.
func (c *chatRuntime) members() webhooks.Members {
	if c == nil {
		return nil
	}
	return c.client
}

// wake pokes the worker after a commit; nil until start.
func (c *chatRuntime) wake() {
	if c == nil {
		return
	}
	if w := c.worker.Load(); w != nil {
		w.Wake()
	}
}

// start runs the delivery worker and, with an app token, Socket Mode. The
// returned channel closes when both have stopped.
func (c *chatRuntime) start(ctx context.Context, store bot.Store, srv *webhooks.Server, errc chan<- error) <-chan struct{} {
	done := make(chan struct{})
	if c == nil {
		close(done)
		return done
	}
	worker := bot.NewWorker(store, c.client, bot.WorkerOptions{Location: c.cfg.Zone, Directory: c.client, Log: c.log.With("component", "outbox"),
		OnChannel: c.m.observeChannel, Grapher: c.grapher, PublicURL: c.st.PublicURL, Blobs: c.blobs})
	c.worker.Store(worker)
	stopped := make(chan struct{}, 2)
	n := 1
	go func() {
		if err := worker.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- err
		}
		stopped <- struct{}{}
	}()
	if c.st.SlackAppToken != "" {
		n++
		api := slackgo.New(c.st.SlackBotToken, slackgo.OptionAppLevelToken(c.st.SlackAppToken), slackgo.OptionAPIURL(c.st.SlackAPIURL))
		go func() {
			if err := webhooks.RunSocketMode(ctx, c.st.SlackAppToken, api, srv); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
			stopped <- struct{}{}
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			<-stopped
		}
		close(done)
	}()
	return done
}
