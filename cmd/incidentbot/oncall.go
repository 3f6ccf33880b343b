package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/pager/email"
	"github.com/incidentbot/incidentbot/bot/pager/webhook"
)

// oncallRuntime is the timer engine and its pagers. It runs with or
// without Slack: escalations, pages by email and webhook, and hand-offs
// do not wait for the chat. A nil *oncallRuntime does nothing.
type oncallRuntime struct {
	engine *bot.Engine
}

// newPagers builds the ways of paging the settings allow: Slack DMs when
// Slack is on, email with an SMTP URL, webhooks with a signing secret.
// People with an address for a method that is not configured stop start-up.
func newPagers(st *settings, cfg *config, chat *chatRuntime) ([]bot.Pager, error) {
	var out []bot.Pager
	if chat != nil {
		out = append(out, chat.client.Pager())
	}
	var needEmail, needHook string
	for id, c := range cfg.OnCall.People {
		if c.Email != "" {
			needEmail = id
		}
		if c.Webhook != "" {
			needHook = id
		}
	}
	if st.SMTPURL != "" {
		p, err := email.New(email.Options{URL: st.SMTPURL, From: st.SMTPFrom})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	} else if needEmail != "" {
		return nil, fmt.Errorf("config: people.%s.email: set INCIDENTBOT_SMTP_URL and INCIDENTBOT_SMTP_FROM to page by email", needEmail)
	}
	if st.PageWebhookSecret != "" {
		out = append(out, webhook.New(st.PageWebhookSecret, nil))
	} else if needHook != "" {
		return nil, fmt.Errorf("config: people.%s.webhook: set INCIDENTBOT_PAGE_WEBHOOK_SECRET to sign webhook pages", needHook)
	}
	return out, nil
}

// newOnCall builds the engine over svc. Wake it from the service's Wake.
func newOnCall(svc *bot.Service, st *settings, pagers []bot.Pager, chat *chatRuntime, log *slog.Logger, m *metrics) *oncallRuntime {
	lateness := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "incidentbot_timer_lateness_seconds",
		Help:    "How late durable timers (escalation steps, page sends) fired after their due time.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"kind"})
	pages := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "incidentbot_page_attempts_total",
		Help: "Page attempts by method (slack, email, webhook) and outcome (ok, error)."}, []string{"via", "outcome"})
	m.reg.MustRegister(lateness, pages)
	var handOffer bot.HandOffer
	if chat != nil {
		handOffer = chat.client
	}
	eng := bot.NewEngine(svc, bot.EngineOptions{
		Pagers: pagers, PublicURL: st.PublicURL, Log: log.With("component", "timers"), HandOffer: handOffer,
		OnFire: func(kind bot.TimerKind, late time.Duration) {
			lateness.WithLabelValues(string(kind)).Observe(max(late, 0).Seconds())
		},
		OnPage: func(via string, err error) {
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			pages.WithLabelValues(via, outcome).Inc()
		},
	})
	return &oncallRuntime{engine: eng}
}

func (o *oncallRuntime) wake() {
	if o != nil {
		o.engine.Wake()
	}
}

// start runs the engine until ctx is done; the channel closes once it has
// stopped (page sends in flight finished or timed out).
func (o *oncallRuntime) start(ctx context.Context, errc chan<- error) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := o.engine.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- err
		}
	}()
	return done
}
