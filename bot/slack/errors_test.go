package slack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

func TestClassifyAgainstSlack(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	ch := srv.AddChannel("general", false)
	for _, tc := range []struct {
		name  string
		fault slacktesting.Fault
		check func(error) bool
	}{
		{"429 with Retry-After", slacktesting.RateLimited(7 * time.Second), func(err error) bool {
			var ra *bot.RetryAfterError
			return errors.As(err, &ra) && ra.After == 7*time.Second
		}},
		{"500", slacktesting.ServerError(), func(err error) bool { return errors.Is(err, bot.ErrUnavailable) && !permanent(err) }},
		{"ratelimited body", slacktesting.APIError("ratelimited"), func(err error) bool {
			var ra *bot.RetryAfterError
			return errors.As(err, &ra)
		}},
		{"internal_error", slacktesting.APIError("internal_error"), func(err error) bool { return !permanent(err) }},
		{"invalid_auth waits for the operator", slacktesting.APIError("invalid_auth"), func(err error) bool { return !permanent(err) }},
		{"channel_not_found", slacktesting.APIError("channel_not_found"), func(err error) bool { return errors.Is(err, bot.ErrNotFound) }},
		{"is_archived", slacktesting.APIError("is_archived"), func(err error) bool {
			return errors.Is(err, bot.ErrConflict) && channelGone(err)
		}},
		{"invalid_blocks", slacktesting.APIError("invalid_blocks"), func(err error) bool { return errors.Is(err, bot.ErrInvalid) }},
		{"missing_scope", slacktesting.APIError("missing_scope"), func(err error) bool { return permanent(err) }},
		{"404", slacktesting.Fault{Status: 404}, func(err error) bool { return errors.Is(err, bot.ErrInvalid) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A new client each time: a 429 holds the channel back.
			c := New("xoxb-secret-token", Options{APIURL: srv.APIURL(), Limits: &Limits{}})
			srv.Fail("chat.postMessage", 1, tc.fault)
			_, err := c.postMessage(context.Background(), ch, "hello", nil)
			if err == nil || !tc.check(err) {
				t.Errorf("got %v (%T)", err, err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
	c := New("xoxb-secret-token", Options{APIURL: srv.APIURL(), Limits: &Limits{}})
	if _, err := c.postMessage(context.Background(), ch, "hello", nil); err != nil {
		t.Errorf("after the faults: %v", err)
	}
	if calls := srv.Calls("chat.postMessage"); len(calls) != 11 || calls[0].Params.Get("token") != "" {
		t.Errorf("recorded %d calls, the first with params %v", len(calls), calls[0].Params)
	}
}

func TestClassifyNetworkAndContext(t *testing.T) {
	c := New("xoxb-t", Options{APIURL: "http://127.0.0.1:1/", Limits: &Limits{}})
	_, err := c.postMessage(context.Background(), "C1", "x", nil)
	if err == nil || permanent(err) || !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("connection refused: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.postMessage(ctx, "C1", "x", nil)
	if !errors.Is(err, context.Canceled) || permanent(err) {
		t.Errorf("canceled: got %v", err)
	}
}
