package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
)

// Commands that call Alertmanager or a profiled service answer at once and
// finish in the background, their result going to the command's
// response_url. At most maxBackground run at a time; each is bounded by
// backgroundBudget (under response_url's 30 minutes by far).
const (
	maxBackground    = 8
	backgroundBudget = 45 * time.Second
)

// background runs slow command work off the request path, bounded.
type background struct {
	slots chan struct{}
	wg    sync.WaitGroup
	// stop cancels the jobs still running at shutdown, after a grace.
	stop   context.Context
	cancel context.CancelFunc
}

// shutdownGrace is how long Close lets background jobs finish before it
// cancels them (their replies then say they gave up).
const shutdownGrace = 5 * time.Second

func newBackground() *background {
	b := &background{slots: make(chan struct{}, maxBackground)}
	b.stop, b.cancel = context.WithCancel(context.Background())
	return b
}

// later runs fn in the background and sends what it returns to
// responseURL. It returns false, running nothing, when maxBackground jobs
// are already running.
func (s *Server) later(ctx context.Context, responseURL string, fn func(ctx context.Context) string) bool {
	select {
	case s.bg.slots <- struct{}{}:
	default:
		return false
	}
	log := s.logger(ctx)
	ctx = bot.WithLogger(context.WithoutCancel(ctx), log)
	s.bg.wg.Go(func() {
		defer func() { <-s.bg.slots }()
		ctx, cancel := context.WithTimeout(ctx, backgroundBudget)
		defer cancel()
		stop := context.AfterFunc(s.bg.stop, cancel)
		defer stop()
		if text := fn(ctx); text != "" {
			s.replies.send(log, responseURL, text)
		}
	})
	return true
}

// wait returns once the background jobs are done, cancelling those still
// running after shutdownGrace.
func (b *background) wait() {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		b.cancel()
		<-done
	}
	b.cancel()
}

// silence answers `/incident silence` and `/incident unsilence`: what can
// be checked without Alertmanager is checked now; the call itself runs in
// the background and its outcome comes back as an ephemeral message.
func (s *Server) silence(ctx context.Context, inc *bot.Incident, c bot.Command, cmd slack.SlashCommand, actor string) Reply {
	log := s.logger(ctx).With("incident", inc.ID)
	if c.Verb == "silence" {
		if err := s.svc.CanSilence(ctx, inc.ID); err != nil {
			return s.failed(ctx, err, c.Verb)
		}
		order := bot.SilenceOrder{Actor: actor, By: cmd.UserName, For: c.For, Comment: c.Text, Link: s.incidentLink(ctx, inc)}
		if order.For == 0 {
			order.For = bot.DefaultSilence
		}
		ok := s.later(ctx, cmd.ResponseURL, func(ctx context.Context) string {
			_, sil, err := s.svc.Silence(ctx, inc.ID, order)
			if err != nil {
				return s.loopFailed(log, err, "silence", "nothing was silenced")
			}
			return fmt.Sprintf("Silenced the alert group of %s (%s) until %s UTC: silence %s, taken by %s.",
				inc.Key(), matcherList(sil.Matchers), sil.EndsAt.Format("2006-01-02 15:04"), sil.ID, sil.Alertmanager)
		})
		if !ok {
			return ephemeral("too many Alertmanager requests are in flight; try again in a moment")
		}
		return ephemeral("Asking Alertmanager to silence the alert group of %s for %s…", inc.Key(), bot.FormatSpan(order.For))
	}
	ok := s.later(ctx, cmd.ResponseURL, func(ctx context.Context) string {
		_, ended, err := s.svc.Unsilence(ctx, inc.ID, actor)
		if len(ended) == 0 {
			return s.loopFailed(log, err, "unsilence", "the silences are unchanged")
		}
		ids := make([]string, len(ended))
		for i, e := range ended {
			ids[i] = e.ID
		}
		text := fmt.Sprintf("Expired silence %s of %s; its alerts notify again.", strings.Join(ids, ", "), inc.Key())
		if err != nil {
			text += " " + s.loopFailed(log, err, "unsilence", "the others are still active")
		}
		return text
	})
	if !ok {
		return ephemeral("too many Alertmanager requests are in flight; try again in a moment")
	}
	return ephemeral("Asking Alertmanager to expire the silences of %s…", inc.Key())
}

// loopFailed words a background failure for the person who asked: their
// mistake or a state conflict as bot says it, an unreachable peer with
// what was tried, and what did not happen.
func (s *Server) loopFailed(log *slog.Logger, err error, verb, consequence string) string {
	switch {
	case errors.Is(err, bot.ErrInvalid), errors.Is(err, bot.ErrConflict), errors.Is(err, bot.ErrNotFound):
		return userMessage(err)
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("background command timed out", "verb", verb, "err", err)
		return fmt.Sprintf("gave up after %s; %s", backgroundBudget, consequence)
	}
	log.Warn("background command failed", "verb", verb, "err", err)
	return fmt.Sprintf("%v; %s", err, consequence)
}

// incidentLink is where a silence comment points: the incident in the API
// when there is a public URL, else its channel's name.
func (s *Server) incidentLink(ctx context.Context, inc *bot.Incident) string {
	if l := s.link("/api/v1/incidents/%d", inc.ID); l != "" {
		return l
	}
	if name := s.channel(ctx, inc.ID).RoomName; name != "" {
		return "Slack #" + name
	}
	return ""
}

func matcherList(ms []bot.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// profile answers `/incident profile`: a heap profile of each target now,
// diffed against the first; the captures and what grew come back as an
// ephemeral message (the channel gets them from the timeline).
func (s *Server) profile(ctx context.Context, inc *bot.Incident, cmd slack.SlashCommand, actor string) Reply {
	log := s.logger(ctx).With("incident", inc.ID)
	ok := s.later(ctx, cmd.ResponseURL, func(ctx context.Context) string {
		caps, diffs, err := s.svc.CaptureProfiles(ctx, inc.ID, actor)
		var b strings.Builder
		for _, c := range caps {
			if c.Error != "" {
				fmt.Fprintf(&b, "Heap profile %d from %s failed: %s\n", c.N, c.Target, c.Error)
			} else {
				fmt.Fprintf(&b, "Heap profile %d captured from %s (%s).\n", c.N, c.Target, bot.Bytes(int64(c.Bytes)))
			}
		}
		for _, d := range diffs {
			b.WriteString("```\n" + bot.DiffText(d) + "\n```\n")
		}
		if err != nil {
			b.WriteString(s.loopFailed(log, err, "profile", "no profile was taken"))
		}
		if link := s.link("/api/v1/incidents/%d/profiles", inc.ID); link != "" {
			b.WriteString("All captures: " + link)
		}
		return strings.TrimSpace(b.String())
	})
	if !ok {
		return ephemeral("too many slow requests are in flight; try again in a moment")
	}
	return ephemeral("Capturing heap profiles for %s…", inc.Key())
}
