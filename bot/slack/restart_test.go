package slack_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

func TestRetryAfterIsWaitedOut(t *testing.T) {
	e := newEnv(t, nil)
	e.slack.Fail("chat.postMessage", 1, slacktesting.RateLimited(30*time.Second))
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.eventually("the rate limit recorded", func() bool {
		p := e.pending()
		return len(p) == 1 && strings.Contains(p[0].LastError, "rate limit")
	})
	if p := e.pending()[0]; !p.NotBefore.Equal(e.clock.Now().Add(30 * time.Second)) {
		t.Errorf("not before %v, want 30 s from %v", p.NotBefore, e.clock.Now())
	}
	e.clock.Advance(29 * time.Second)
	e.wake()
	time.Sleep(30 * time.Millisecond)
	if n := len(e.slack.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d posts before Retry-After passed, want 1", n)
	}
	e.settle()
	ch := e.incident(id).ChannelID
	if msgs := e.messages(ch); count(msgs, "INC-1 ") != 1 || len(e.slack.OK("conversations.create")) != 1 {
		t.Errorf("messages %q after %d creates", msgs, len(e.slack.OK("conversations.create")))
	}
}

func TestPermanentErrorIsRecordedAndSkipped(t *testing.T) {
	e := newEnv(t, nil)
	e.start()
	id := e.fire("HighErrorRate", "checkout", 1)
	e.settle()
	ctx := context.Background()
	e.slack.Fail("chat.postMessage", 1, slacktesting.APIError("msg_too_long"))
	_, err := e.svc.Apply(ctx, id, bot.Action{Op: bot.OpNote, Actor: "<@U100>", Text: "first"})
	e.must(err)
	_, err = e.svc.Apply(ctx, id, bot.Action{Op: bot.OpNote, Actor: "<@U100>", Text: "second"})
	e.must(err)
	e.settle()
	failed := e.entries(id, bot.KindDeliveryFailed)
	if len(failed) != 1 || failed[0] != "could not post an update to the channel: invalid: slack chat.postMessage: msg_too_long" {
		t.Errorf("delivery_failed: %q", failed)
	}
	if msgs := e.messages(e.incident(id).ChannelID); msgs[len(msgs)-1] != "• second" || slices.Contains(msgs, "• first") {
		t.Errorf("messages: %q", msgs)
	}
}

// TestRestartUnderSlackTrouble is the promise of the outbox: Slack answers
// 500 and 429 for a while, the process restarts in the middle, and once
// Slack recovers every action has happened exactly once, in order.
func TestRestartUnderSlackTrouble(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now()
	e.slack.FailUntil("", start.Add(12*time.Second), slacktesting.ServerError())
	e.slack.Fail("conversations.create", 2, slacktesting.RateLimited(3*time.Second))
	e.slack.Fail("conversations.setTopic", 1, slacktesting.RateLimited(5*time.Second))
	e.slack.Fail("conversations.invite", 2, slacktesting.ServerError())
	e.slack.Fail("chat.postMessage", 4, slacktesting.RateLimited(2*time.Second))
	e.slack.Fail("chat.update", 3, slacktesting.ServerError())
	ctx := context.Background()
	ids := []int64{e.fire("HighErrorRate", "checkout", 2), e.fire("HighErrorRate", "payments", 1), e.fire("DiskFull", "db", 1)}
	for _, id := range ids {
		_, err := e.svc.Apply(ctx, id, bot.Action{Op: bot.OpAck, Actor: "<@U100>"})
		e.must(err)
		_, err = e.svc.Apply(ctx, id, bot.Action{Op: bot.OpNote, Actor: "<@U200>", Text: fmt.Sprintf("looking at INC-%d", id)})
		e.must(err)
	}

	e.start()
	e.until("a few posts", func() bool { return len(e.slack.OK("chat.postMessage")) >= 3 })
	e.stop()
	if len(e.pending()) == 0 {
		t.Fatal("the first worker delivered everything; the restart tests nothing")
	}
	t.Logf("restarting with %d deliveries pending after %d calls", len(e.pending()), len(e.slack.Calls()))
	e.slack.Fail("chat.postMessage", 2, slacktesting.ServerError())
	e.slack.Fail("conversations.invite", 1, slacktesting.RateLimited(4*time.Second))
	e.start()
	e.settle()

	failed := 0
	for _, c := range e.slack.Calls() {
		if c.Err != "" {
			failed++
		}
	}
	t.Logf("%d calls, %d of them failed", len(e.slack.Calls()), failed)
	checkOnceInOrder(t, e, ids)
}

// checkOnceInOrder checks that each incident has one channel, its
// messages once and in order, one headline, and each timeline entry about
// the chat once.
func checkOnceInOrder(t *testing.T, e *env, ids []int64) {
	t.Helper()
	headlines := e.messages(e.announce)
	for _, id := range ids {
		inc := e.incident(id)
		key := fmt.Sprintf("INC-%d", id)
		var channels []string
		for _, c := range e.slack.Channels() {
			if strings.HasPrefix(c.Name, fmt.Sprintf("inc-%d-", id)) {
				channels = append(channels, c.ID)
			}
		}
		if len(channels) != 1 || channels[0] != inc.ChannelID {
			t.Errorf("%s: channels %v, stored %q", key, channels, inc.ChannelID)
			continue
		}
		want := []string{key + " SEV1 investigating: " + inc.Title}
		if strings.HasPrefix(inc.Title, "HighErrorRate") {
			want = append(want, "Runbook High error rate: 0/3 done", runbookNoteText)
		}
		want = append(want, "• acknowledged by <@U100>", "• looking at "+key)
		if got := e.messages(inc.ChannelID); !slices.Equal(got, want) {
			t.Errorf("%s: messages\n got %q\nwant %q", key, got, want)
		}
		if n := count(headlines, key+" "); n != 1 {
			t.Errorf("%s: %d headlines", key, n)
		}
		runbooks := 0
		if strings.HasPrefix(inc.Title, "HighErrorRate") {
			runbooks = 1
		}
		for kind, n := range map[bot.Kind]int{bot.KindChannelCreated: 1, bot.KindRespondersInvited: 1,
			bot.KindRunbookPosted: runbooks, bot.KindDeliveryFailed: 0} {
			if got := e.entries(id, kind); len(got) != n {
				t.Errorf("%s: %s entries %q, want %d", key, kind, got, n)
			}
		}
	}
	if n := len(e.slack.OK("conversations.create")); n != len(ids) {
		t.Errorf("%d channels created, want %d", n, len(ids))
	}
}
