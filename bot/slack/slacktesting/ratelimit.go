package slacktesting

import (
	"net/url"
	"time"
)

// Rate is one token bucket: a call every Every, up to Burst at once.
type Rate struct {
	Every time.Duration
	Burst int
}

// RateLimits are the limits the server enforces once SetRateLimits is
// called: a call over its limit is answered HTTP 429 with Retry-After (in
// whole seconds, rounded up, as Slack sends it) and does nothing.
type RateLimits struct {
	// Methods limits each method for the whole workspace.
	Methods map[string]Rate
	// PerChannel limits each method per channel (its "channel" parameter),
	// as Slack limits chat.postMessage.
	PerChannel map[string]Rate
}

// Slack's published tiers (per method per workspace) and its
// chat.postMessage limit (per channel): calls a minute, and the burst
// allowed. Slack documents "occasional bursts" without numbers; these are
// a guess, a little above the bursts incidentbot's own limiter sends, so
// that a client keeping to its own limits meets no 429 but one that does
// not (or that restarts with full buckets) does.
var (
	tier2 = Rate{Every: time.Minute / 20, Burst: 4}
	tier3 = Rate{Every: time.Minute / 50, Burst: 8}
	tier4 = Rate{Every: time.Minute / 100, Burst: 15}
	post  = Rate{Every: time.Second, Burst: 4}
)

var slackTiers = map[string]Rate{
	"conversations.create": tier2, "conversations.setTopic": tier2, "pins.add": tier2, "bookmarks.add": tier2,
	"conversations.archive": tier2, "conversations.list": tier2, "conversations.invite": tier3, "chat.update": tier3, "files.delete": tier3,
	"conversations.history": tier3, "conversations.replies": tier3, "files.getUploadURLExternal": tier4,
	"files.completeUploadExternal": tier4, "auth.test": tier4,
}

// SlackRates returns Slack's limits: tier 2 (conversations.create,
// setTopic, pins, bookmarks, archive, list) 20 a minute, tier 3 (invite,
// chat.update, history, replies) 50, tier 4 (files, auth.test) 100, and
// chat.postMessage 1 a second per channel, each with a small burst.
// speedup divides the intervals: 1 is Slack's pace, 30 thirty times
// faster, for tests that cannot wait half an hour for 200 channels. Note
// that Retry-After stays in whole seconds, so at a speedup a 429 costs
// that many times more than it would in Slack.
func SlackRates(speedup float64) RateLimits {
	if speedup <= 0 {
		speedup = 1
	}
	scale := func(r Rate) Rate { return Rate{Every: time.Duration(float64(r.Every) / speedup), Burst: r.Burst} }
	l := RateLimits{Methods: map[string]Rate{}, PerChannel: map[string]Rate{"chat.postMessage": scale(post)}}
	for m, r := range slackTiers {
		l.Methods[m] = scale(r)
	}
	return l
}

// Strict returns l with every burst cut to one call: a client pacing
// itself at exactly the limit then meets 429s whenever its calls arrive a
// little closer together than it sent them.
func (l RateLimits) Strict() RateLimits {
	out := RateLimits{Methods: map[string]Rate{}, PerChannel: map[string]Rate{}}
	for m, r := range l.Methods {
		out.Methods[m] = Rate{Every: r.Every, Burst: 1}
	}
	for m, r := range l.PerChannel {
		out.PerChannel[m] = Rate{Every: r.Every, Burst: 1}
	}
	return out
}

// SetRateLimits makes the server enforce l from now on, with every bucket
// full; the zero RateLimits turns limiting off.
func (s *Server) SetRateLimits(l RateLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
	s.buckets = map[string]*tokens{}
}

// tokens is one bucket's state.
type tokens struct {
	n    float64
	last time.Time
}

// limited takes a token for a call of method with params p, or says how
// long until one is there. The caller holds s.mu.
func (s *Server) limited(method string, p url.Values) (time.Duration, bool) {
	key, r := method, s.limits.Methods[method]
	if pr, ok := s.limits.PerChannel[method]; ok {
		key, r = method+" "+p.Get("channel"), pr
	}
	if r.Every <= 0 {
		return 0, false
	}
	burst := float64(max(r.Burst, 1))
	now := s.now()
	b := s.buckets[key]
	if b == nil {
		b = &tokens{n: burst, last: now}
		s.buckets[key] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.n = min(burst, b.n+float64(el)/float64(r.Every))
		b.last = now
	}
	if b.n >= 1 {
		b.n--
		return 0, false
	}
	return time.Duration((1 - b.n) * float64(r.Every)), true
}

// retryAfter rounds a wait up to Slack's whole seconds, at least one.
func retryAfter(wait time.Duration) time.Duration {
	return max(time.Second, (wait + time.Second - 1).Truncate(time.Second))
}
