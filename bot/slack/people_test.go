package slack_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

func TestDisplayNameIsCachedAndExpires(t *testing.T) {
	e := newEnv(t, nil)
	e.slack.AddUser(slacktesting.User{ID: "U0ALICE", Name: "alice", RealName: "Alice Example"})
	e.slack.AddUser(slacktesting.User{ID: "U0BOB", Name: "bob", RealName: "Bob <!channel> Smith\n# x"})
	c := slack.New("xoxb-test", e.opts)
	ctx := context.Background()
	calls := func() int { return len(e.slack.Calls("users.info")) }
	for i := range 3 {
		n, err := c.DisplayName(ctx, "<@U0ALICE|alice>")
		if err != nil || n != "Alice Example (@alice)" {
			t.Fatalf("DisplayName #%d = %q, %v", i, n, err)
		}
	}
	if calls() != 1 {
		t.Errorf("3 lookups made %d users.info calls, want 1 (cached)", calls())
	}
	if n, _ := c.DisplayName(ctx, "U0BOB"); n != "Bob <!channel> Smith # x (@bob)" {
		t.Errorf("a name with a newline = %q, want it on one line (escaping is the document's job)", n)
	}
	for range 2 {
		if _, err := c.DisplayName(ctx, "U0NOBODY"); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("unknown user: err %v, want ErrNotFound", err)
		}
	}
	if calls() != 3 {
		t.Errorf("%d users.info calls, want 3 (unknown users are remembered too)", calls())
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := c.DisplayName(ctx, "U0ALICE"); err != nil || calls() != 4 {
		t.Errorf("after the name expired: err %v, %d calls, want a new lookup", err, calls())
	}
	e.slack.Fail("users.info", 1, slacktesting.ServerError())
	if _, err := c.DisplayName(ctx, "U0BOB"); err == nil || errors.Is(err, bot.ErrNotFound) {
		t.Errorf("with Slack failing: err %v, want a transient error", err)
	}
	if n, err := c.DisplayName(ctx, "U0BOB"); err != nil || n == "" {
		t.Errorf("after a transient failure the next lookup must ask again: %q, %v", n, err)
	}
}
