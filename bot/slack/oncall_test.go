package slack

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

// callLog records what OnCall reports.
type callLog struct {
	mu    sync.Mutex
	calls []Call
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

func (l *callLog) outcomes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.calls {
		out = append(out, c.Method+" "+c.Outcome)
	}
	return out
}

func TestOnCallReportsEachCall(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	ch := srv.AddChannel("general", false)
	for _, tc := range []struct {
		name  string
		fault *slacktesting.Fault
		want  string
	}{
		{"ok", nil, CallOK},
		{"429", &slacktesting.Fault{Status: 429, RetryAfter: time.Second, Error: "ratelimited"}, CallRateLimited},
		{"ratelimited body", new(slacktesting.APIError("ratelimited")), CallRateLimited},
		{"500", new(slacktesting.ServerError()), CallError},
		{"api error", new(slacktesting.APIError("channel_not_found")), CallError},
		{"another method's expected code is an error here", new(slacktesting.APIError("name_taken")), CallError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log callLog
			c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: &Limits{}, OnCall: log.add})
			if tc.fault != nil {
				srv.Fail("chat.postMessage", 1, *tc.fault)
			}
			_, _ = c.postMessage(context.Background(), ch, "hello", nil)
			if got, want := log.outcomes(), []string{"chat.postMessage " + tc.want}; !slices.Equal(got, want) {
				t.Errorf("OnCall got %q, want %q", got, want)
			}
		})
	}
}

func TestOnCallSkipsCallsHeldBack(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	ch := srv.AddChannel("general", false)
	var log callLog
	// One post a minute, and no waiting for a turn: the second post is
	// held back by the client and never reaches Slack.
	limits := &Limits{Post: Rate{Every: time.Minute, Burst: 1}}
	c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: limits, OnCall: log.add})
	if _, err := c.postMessage(context.Background(), ch, "one", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.postMessage(context.Background(), ch, "two", nil); err == nil {
		t.Fatal("the second post was not held back")
	}
	if got, want := log.outcomes(), []string{"chat.postMessage ok"}; !slices.Equal(got, want) {
		t.Errorf("OnCall got %q, want %q", got, want)
	}
	if n := len(srv.Calls("chat.postMessage")); n != 1 {
		t.Errorf("Slack got %d posts, want 1", n)
	}
}

// TestOnCallExpectedAnswers: a taken channel name is an answer the code
// handles (it tries the next name), not an error for the error-rate alert.
func TestOnCallExpectedAnswers(t *testing.T) {
	srv := slacktesting.New()
	defer srv.Close()
	srv.AddChannel("inc-taken", false)
	var log callLog
	c := New("xoxb-t", Options{APIURL: srv.APIURL(), Limits: &Limits{}, OnCall: log.add})
	err := c.call(context.Background(), "conversations.create", "", func(ctx context.Context) error {
		_, err := c.api.CreateConversationContext(ctx, slackgo.CreateConversationParams{ChannelName: "inc-taken"})
		return err
	})
	if errorCode(err) != "name_taken" {
		t.Fatalf("creating a taken name: %v, want name_taken", err)
	}
	if got, want := log.outcomes(), []string{"conversations.create " + CallExpected}; !slices.Equal(got, want) {
		t.Errorf("OnCall got %q, want %q", got, want)
	}
}
