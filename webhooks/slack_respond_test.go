package webhooks

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestRepliesHonourTheShutdownGrace: a Slack that never answers cannot
// hold shutdown past its deadline; the replies in flight and queued are
// dropped when it runs out.
func TestRepliesHonourTheShutdownGrace(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	r := newResponder(&http.Client{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.allow = func(*url.URL) bool { return true }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range 20 {
		r.send(log, slow.URL, "hello")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r.close(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("close took %v with a 200ms grace and 20 replies to a Slack that hangs", took)
	}
}
