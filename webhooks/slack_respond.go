package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The reply workers: a fixed pool and a bounded queue, so that a burst of
// button presses (or a slow Slack) never grows goroutines or memory.
const (
	replyWorkers = 2
	replyQueue   = 256
)

// responder posts ephemeral replies to Slack response_urls in the
// background.
type responder struct {
	client *http.Client
	log    *slog.Logger
	queue  chan slackReply
	// allow keeps replies on Slack's hosts: a response_url is only followed
	// when it points there. Tests widen it.
	allow func(*url.URL) bool

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
	// ctx bounds every reply; it is cancelled when the shutdown grace runs
	// out, so that a slow Slack cannot hold the process.
	ctx    context.Context
	cancel context.CancelFunc
}

// replyTimeout bounds one reply: Slack answers a response_url in well
// under a second.
const replyTimeout = 5 * time.Second

type slackReply struct {
	url  string
	text string
}

func newResponder(client *http.Client, log *slog.Logger) *responder {
	r := &responder{client: client, log: log, queue: make(chan slackReply, replyQueue), allow: slackHost}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for range replyWorkers {
		r.wg.Go(func() {
			for m := range r.queue {
				r.post(m)
			}
		})
	}
	return r
}

// slackHost reports whether u is an https URL on Slack's domains.
func slackHost(u *url.URL) bool {
	h := u.Hostname()
	return u.Scheme == "https" && (h == "slack.com" || strings.HasSuffix(h, ".slack.com") || strings.HasSuffix(h, ".slack-gov.com"))
}

// send queues text for rawURL, or drops it with a log line when the URL is
// not Slack's, the queue is full or the responder is closed. It never
// blocks. A response_url is a credential for 30 minutes: only its host is
// ever logged.
func (r *responder) send(log *slog.Logger, rawURL, text string) {
	u, err := url.Parse(rawURL)
	if err != nil || !r.allow(u) {
		host := ""
		if u != nil {
			host = u.Host
		}
		log.Warn("slack reply dropped: response_url is not a Slack URL", "host", host, "text", text)
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		log.Warn("slack reply dropped: shutting down", "text", text)
		return
	}
	select {
	case r.queue <- slackReply{url: rawURL, text: text}:
	default:
		log.Warn("slack reply dropped: queue full", "queue", replyQueue, "text", text)
	}
}

func (r *responder) post(m slackReply) {
	body, _ := json.Marshal(struct {
		ResponseType    string `json:"response_type"`
		ReplaceOriginal bool   `json:"replace_original"`
		Text            string `json:"text"`
	}{Ephemeral, false, m.text})
	ctx, cancel := context.WithTimeout(r.ctx, replyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url, bytes.NewReader(body))
	if err != nil {
		r.log.Warn("slack reply not sent", "err", "bad request")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		// The error text holds the URL; say only what kind of failure.
		r.log.Warn("slack reply not sent", "host", req.URL.Host, "timeout", isTimeout(err))
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		r.log.Warn("slack reply refused", "host", req.URL.Host, "status", resp.StatusCode)
	}
}

func isTimeout(err error) bool {
	t, ok := err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

// close stops accepting replies and waits until the queued ones are sent
// or ctx is done; then the replies still queued or in flight are dropped
// (each with a log line), so shutdown keeps its deadline.
func (r *responder) close(ctx context.Context) {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("shutdown grace over: dropping the Slack replies still queued")
		r.cancel()
		<-done
	}
	r.cancel()
}
