package slack

import (
	"sync"
	"time"
)

// expiring holds values by key until they expire, at most a given number
// of them: when full, the entry that expires soonest (an expired one
// first) makes room. The caches of names and of channel members share it,
// so that what the bot learns from Slack stays bounded. The zero value is
// ready; it is safe for concurrent use.
type expiring[V any] struct {
	mu sync.Mutex
	m  map[string]expiry[V]
}

type expiry[V any] struct {
	v     V
	until time.Time
}

// get returns the value of key while it has not expired at now.
func (c *expiring[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put keeps v under key until then, holding at most limit entries.
func (c *expiring[V]) put(key string, v V, until time.Time, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]expiry[V])
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= limit {
		var soonest string
		for k, e := range c.m {
			if soonest == "" || e.until.Before(c.m[soonest].until) {
				soonest = k
			}
		}
		delete(c.m, soonest)
	}
	c.m[key] = expiry[V]{v: v, until: until}
}

// len is how many entries are held, expired ones included.
func (c *expiring[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
