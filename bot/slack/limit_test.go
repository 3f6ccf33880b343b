package slack

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

type manualClock struct{ t time.Time }

func (c *manualClock) now() time.Time      { return c.t }
func (c *manualClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newManual() *manualClock              { return &manualClock{t: time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)} }
func (l *limiter) must(t *testing.T, method, channel string, want time.Duration) {
	t.Helper()
	got, ok := l.reserve(method, channel)
	if !ok || got != want {
		t.Errorf("reserve(%s, %s): got %v %v, want %v true", method, channel, got, ok, want)
	}
}

func TestLimiterPacesTiers(t *testing.T) {
	c := newManual()
	l := newLimiter(DefaultLimits(), c.now)
	// Tier 2: a burst of 3, then one every 3 s.
	for range 3 {
		l.must(t, "conversations.create", "", 0)
	}
	l.must(t, "conversations.create", "", 3*time.Second)
	l.must(t, "conversations.create", "", 6*time.Second)
	c.add(6 * time.Second)
	l.must(t, "conversations.create", "", 3*time.Second)
	// Methods and channels have their own buckets.
	l.must(t, "chat.update", "", 0)
	for range 3 {
		l.must(t, "chat.postMessage", "C1", 0)
	}
	l.must(t, "chat.postMessage", "C1", time.Second)
	l.must(t, "chat.postMessage", "C2", 0)
}

func TestLimiterTurnsLongWaitIntoRetryAfter(t *testing.T) {
	c := newManual()
	l := newLimiter(DefaultLimits(), c.now)
	for range 6 {
		if _, ok := l.reserve("pins.add", ""); !ok {
			t.Fatal("refused within MaxWait")
		}
	}
	// The seventh would wait 12 s, more than MaxWait (10 s).
	err := l.wait(context.Background(), "pins.add", "")
	var ra *bot.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 12*time.Second {
		t.Fatalf("got %v, want a RetryAfterError of 12s", err)
	}
	// Refusing took no token: in 3 s the wait is back under 10 s.
	c.add(3 * time.Second)
	l.must(t, "pins.add", "", 9*time.Second)
}

func TestLimiterHonoursSlackRetryAfter(t *testing.T) {
	c := newManual()
	l := newLimiter(Limits{}, c.now) // no pacing of our own, no waiting
	l.must(t, "chat.update", "", 0)
	l.block("chat.update", "", 30*time.Second)
	if d, ok := l.reserve("chat.update", ""); ok || d != 30*time.Second {
		t.Errorf("blocked: got %v %v, want 30s false", d, ok)
	}
	l.must(t, "conversations.invite", "", 0)
	l.block("chat.postMessage", "C1", 5*time.Second)
	l.must(t, "chat.postMessage", "C2", 0)
	c.add(30 * time.Second)
	l.must(t, "chat.update", "", 0)
	l.must(t, "chat.postMessage", "C1", 0)
}

func TestLimiterBoundsChannelBuckets(t *testing.T) {
	c := newManual()
	l := newLimiter(DefaultLimits(), c.now)
	for i := range 3 * maxChannelBuckets {
		l.reserve("chat.postMessage", fmt.Sprint("C", i))
		if i%100 == 0 {
			c.add(10 * time.Second) // earlier channels go idle
		}
	}
	if n := len(l.channels); n > maxChannelBuckets {
		t.Errorf("%d channel buckets, want at most %d", n, maxChannelBuckets)
	}
	l.block("chat.postMessage", "busy", time.Hour)
	for i := range 2 * maxChannelBuckets {
		l.reserve("chat.postMessage", fmt.Sprint("D", i))
	}
	if n := len(l.channels); n > maxChannelBuckets {
		t.Errorf("%d channel buckets when all are busy, want at most %d", n, maxChannelBuckets)
	}
}
