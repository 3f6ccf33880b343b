package slacktesting_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
	"github.com/slack-go/slack"
)

func TestServer(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	now := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	srv.SetNow(func() time.Time { return now })
	api := slack.New("xoxb-secret", slack.OptionAPIURL(srv.APIURL()))
	ctx := context.Background()

	srv.AddChannel("inc-1-db", true)
	_, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1-db"})
	if code := (slack.SlackErrorResponse{}); !errors.As(err, &code) || code.Err != "name_taken" {
		t.Errorf("archived name: got %v, want name_taken", err)
	}
	ch, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1-db-2"})
	if err != nil || ch.Name != "inc-1-db-2" || ch.Creator != slacktesting.BotUserID {
		t.Fatalf("create: got %+v, %v", ch, err)
	}

	srv.Fail("chat.postMessage", 1, slacktesting.RateLimited(3*time.Second))
	var rl *slack.RateLimitedError
	if _, _, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("a", false)); !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("429: got %v", err)
	}
	srv.FailUntil("", now.Add(time.Minute), slacktesting.ServerError())
	var sc slack.StatusCodeError
	if _, _, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("a", false)); !errors.As(err, &sc) || sc.Code != 500 {
		t.Errorf("500 window: got %v", err)
	}
	now = now.Add(time.Minute)
	_, ts, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("a", false))
	if err != nil {
		t.Fatalf("after the window: %v", err)
	}
	reply := srv.AddMessage(ch.ID, "U1", "in thread", ts)
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ch.ID, Latest: reply, Inclusive: true, Limit: 1})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Timestamp != ts {
		t.Errorf("history hides replies: got %+v, %v", h, err)
	}
	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: ch.ID, Timestamp: reply})
	if err != nil || len(msgs) != 2 || msgs[1].Text != "in thread" {
		t.Errorf("replies: got %+v, %v", msgs, err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch.ID, ts, slack.MsgOptionText("b", false)); err != nil {
		t.Errorf("update: %v", err)
	}
	if err := api.AddPinContext(ctx, ch.ID, slack.ItemRef{Timestamp: ts}); err != nil {
		t.Errorf("pin: %v", err)
	}
	if m := srv.Messages(ch.ID)[0]; m.Text != "b" || m.Edits != 1 || !m.Pinned {
		t.Errorf("message after update and pin: %+v", m)
	}
	if _, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Filename: "a.md", FileSize: 3, Content: "# a", Channel: ch.ID}); err != nil {
		t.Errorf("upload: %v", err)
	}
	if f := srv.Files(); len(f) != 1 || string(f[0].Content) != "# a" || f[0].Channel != ch.ID {
		t.Errorf("files: %+v", f)
	}
	for _, c := range srv.Calls() {
		if c.Params.Get("token") != "" {
			t.Errorf("%s recorded the token", c.Method)
		}
	}
	if n := len(srv.OK("chat.postMessage")); n != 1 {
		t.Errorf("%d successful posts recorded, want 1", n)
	}
}

// TestRateLimits: with Slack's rates on (strict: no bursts), a second
// conversations.create within 3 s is answered 429 with Retry-After 3 and
// does nothing, posts are limited per channel, and every call is recorded
// with its time. With bursts, a few calls may come at once.
func TestRateLimits(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	now := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	srv.SetNow(func() time.Time { return now })
	srv.SetRateLimits(slacktesting.SlackRates(1).Strict())
	api := slack.New("xoxb-secret", slack.OptionAPIURL(srv.APIURL()))
	ctx := context.Background()

	a, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-1"})
	if err != nil {
		t.Fatal(err)
	}
	var rl *slack.RateLimitedError
	if _, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-2"}); !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("second create at once: got %v, want 429 with Retry-After 3s", err)
	}
	if _, ok := srv.Channel("inc-2"); ok {
		t.Errorf("a rate-limited create made its channel")
	}
	b := srv.AddChannel("other", false)
	for _, ch := range []string{a.ID, b} {
		if _, _, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("first", false)); err != nil {
			t.Errorf("first post in %s: %v (posts are limited per channel)", ch, err)
		}
	}
	if _, _, err := api.PostMessageContext(ctx, a.ID, slack.MsgOptionText("second", false)); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Errorf("second post in a second: got %v, want 429 with Retry-After 1s", err)
	}
	now = now.Add(3 * time.Second)
	if _, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-2"}); err != nil {
		t.Errorf("create after Retry-After: %v", err)
	}
	calls := srv.Calls("conversations.create")
	if len(calls) != 3 || calls[1].Err != "ratelimited" || calls[1].RetryAfter != 3*time.Second || !calls[2].At.Equal(now) {
		t.Errorf("create calls: got %+v, want ok, ratelimited (3s), ok at %v", calls, now)
	}
	srv.SetRateLimits(slacktesting.SlackRates(1))
	for i := range 5 {
		_, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: fmt.Sprint("burst-", i)})
		if limited := errors.As(err, &rl); limited != (i == 4) {
			t.Errorf("create %d of a burst: got %v, want the fifth (only) rate limited", i+1, err)
		}
	}
	srv.SetRateLimits(slacktesting.RateLimits{})
	for range 3 {
		if _, _, err := api.PostMessageContext(ctx, a.ID, slack.MsgOptionText("unlimited", false)); err != nil {
			t.Errorf("post with limits off: %v", err)
		}
	}
}
