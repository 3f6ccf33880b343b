package slack

import (
	"fmt"
	"testing"
	"time"
)

func TestNameCacheIsBounded(t *testing.T) {
	var nc expiring[string]
	now := time.Unix(0, 0)
	for i := range maxNamesHeld + 50 {
		nc.put(fmt.Sprintf("U%d", i), "x", now.Add(time.Duration(i)*time.Second), maxNamesHeld)
	}
	if n := nc.len(); n != maxNamesHeld {
		t.Fatalf("cache holds %d names, want at most %d", n, maxNamesHeld)
	}
	if _, ok := nc.get("U0", now); ok {
		t.Errorf("the name that expires soonest was kept when the cache was full")
	}
	if _, ok := nc.get(fmt.Sprintf("U%d", maxNamesHeld+49), now); !ok {
		t.Errorf("the newest name was dropped")
	}
}
