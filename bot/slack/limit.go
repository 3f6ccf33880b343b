package slack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// Limits are the client's own rate limits, kept under Slack's published
// tiers so that 429s stay rare. They are per method for the whole
// workspace, and per channel for chat.postMessage.
type Limits struct {
	// Tier2, Tier3 and Tier4 pace the methods of Slack's tiers 2 (about 20
	// a minute: conversations.create, setTopic, pins, bookmarks), 3 (about
	// 50: invite, chat.update, history) and 4 (about 100: files).
	Tier2, Tier3, Tier4 Rate
	// Post paces chat.postMessage per channel (about 1 a second).
	Post Rate
	// MaxWait is the longest a call waits for its turn; a longer wait is
	// returned as a *bot.RetryAfterError, so the worker goes on with other
	// incidents instead of holding a slot.
	MaxWait time.Duration
}

// Rate is one token bucket: a call every Every, bursts up to Burst.
// Every zero means no limit.
type Rate struct {
	Every time.Duration
	Burst int
}

// DefaultLimits follow Slack's tiers, with a little room to spare.
func DefaultLimits() Limits {
	return Limits{
		Tier2:   Rate{Every: 3 * time.Second, Burst: 3},
		Tier3:   Rate{Every: 1200 * time.Millisecond, Burst: 5},
		Tier4:   Rate{Every: 600 * time.Millisecond, Burst: 10},
		Post:    Rate{Every: time.Second, Burst: 3},
		MaxWait: 10 * time.Second,
	}
}

// tiers maps the methods the client calls to their Slack tier.
var tiers = map[string]int{
	"conversations.create": 2, "conversations.setTopic": 2, "conversations.setPurpose": 2, "conversations.list": 2, "pins.add": 2,
	"bookmarks.add": 2, "usergroups.users.update": 2, "conversations.invite": 3, "chat.update": 3, "conversations.history": 3, "files.delete": 3,
	"conversations.replies": 3, "files.getUploadURLExternal": 4, "files.completeUploadExternal": 4, "files.uploadV2": 4, "auth.test": 4, "users.info": 4, "views.open": 4, "conversations.members": 4,
}

// maxChannelBuckets bounds the per-channel buckets; idle ones are dropped
// first, and an idle bucket is full, so dropping it changes nothing.
const maxChannelBuckets = 512

// limiter holds the buckets: one per method (a fixed set) and one per
// channel posted to (bounded by maxChannelBuckets).
type limiter struct {
	l        Limits
	now      func() time.Time
	mu       sync.Mutex
	methods  map[string]*bucket
	channels map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	// blocked is when Slack's last Retry-After for this bucket ends.
	blocked time.Time
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	return &limiter{l: l, now: now, methods: map[string]*bucket{}, channels: map[string]*bucket{}}
}

// wait takes a turn for a call of method (in channel, for posts): at once,
// after a short sleep, or as a *bot.RetryAfterError when the turn is
// further away than MaxWait.
func (l *limiter) wait(ctx context.Context, method, channel string) error {
	maxWait := l.l.MaxWait
	if ctx.Value(noWait{}) != nil {
		maxWait = 0
	}
	d, ok := l.reserveWithin(method, channel, maxWait)
	if !ok {
		return &bot.RetryAfterError{After: d, Err: fmt.Errorf("slack %s: waiting for the client-side rate limit", method)}
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// block holds back calls of method (in channel, for posts) until Slack's
// Retry-After has passed.
func (l *limiter) block(method, channel string, after time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, _ := l.bucket(method, channel)
	if until := l.now().Add(after); until.After(b.blocked) {
		b.blocked = until
	}
}

func (l *limiter) reserve(method, channel string) (time.Duration, bool) {
	return l.reserveWithin(method, channel, l.l.MaxWait)
}

func (l *limiter) reserveWithin(method, channel string, maxWait time.Duration) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, r := l.bucket(method, channel)
	return b.reserve(l.now(), r, maxWait)
}

// noWait, as a context value, makes a call that is not due at once return
// a *bot.RetryAfterError rather than sleep for its turn: a page is
// recorded "sending" while its call runs, and a process killed meanwhile
// writes it off as "outcome unknown", so it must not wait there.
type noWait struct{}

// bucket returns the bucket and rate of a call, creating the bucket.
func (l *limiter) bucket(method, channel string) (*bucket, Rate) {
	m, key, r := l.methods, method, l.rate(method)
	if method == "chat.postMessage" {
		m, key = l.channels, channel
		if len(m) >= maxChannelBuckets && m[key] == nil {
			l.prune()
		}
	}
	b := m[key]
	if b == nil {
		b = &bucket{tokens: float64(max(r.Burst, 1)), last: l.now()}
		m[key] = b
	}
	return b, r
}

func (l *limiter) rate(method string) Rate {
	switch tiers[method] {
	case 2:
		return l.l.Tier2
	case 3:
		return l.l.Tier3
	case 4:
		return l.l.Tier4
	}
	if method == "chat.postMessage" {
		return l.l.Post
	}
	return Rate{}
}

// prune drops the channel buckets that are full and not blocked, and, if
// all are busy, one of them.
func (l *limiter) prune() {
	now := l.now()
	for k, b := range l.channels {
		b.refill(now, l.l.Post)
		if b.tokens >= float64(l.l.Post.Burst) && !b.blocked.After(now) {
			delete(l.channels, k)
		}
	}
	for k := range l.channels {
		if len(l.channels) < maxChannelBuckets {
			break
		}
		delete(l.channels, k)
	}
}

func (b *bucket) refill(now time.Time, r Rate) {
	if r.Every <= 0 {
		return
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(float64(max(r.Burst, 1)), b.tokens+float64(el)/float64(r.Every))
	}
	b.last = now
}

// reserve takes a token and returns how long until it may be used; when
// that is over maxWait it takes nothing and returns false.
func (b *bucket) reserve(now time.Time, r Rate, maxWait time.Duration) (time.Duration, bool) {
	var wait time.Duration
	if b.blocked.After(now) {
		wait = b.blocked.Sub(now)
	}
	if r.Every > 0 {
		b.refill(now, r)
		if b.tokens < 1 {
			wait = max(wait, time.Duration((1-b.tokens)*float64(r.Every)))
		}
	}
	if wait > maxWait {
		return wait, false
	}
	if r.Every > 0 {
		b.tokens--
	}
	return wait, true
}
