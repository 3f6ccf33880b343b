package webhooks

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

// observed records what OnWebhook was told.
type observed struct {
	mu    sync.Mutex
	calls []observation
}

type observation struct {
	status int
	res    bot.IngestResult
}

func (o *observed) add(status int, res bot.IngestResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, observation{status, res})
}

func (o *observed) take() []observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.calls
	o.calls = nil
	return out
}

// TestOnWebhookOncePerRequest sends every way an Alertmanager request can
// end and checks that each is reported once, with the status it got.
func TestOnWebhookOncePerRequest(t *testing.T) {
	var obs observed
	e := newEnv(t, func(c *Config) {
		c.WebhookToken, c.MaxWebhookBody, c.OnWebhook = testToken, 4096, obs.add
	})
	body := amBody(e.now, nil)
	post := func(body []byte, contentType, auth string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req
	}
	good := "Bearer " + testToken
	for _, tc := range []struct {
		name   string
		req    *http.Request
		before func()
		status int
		check  func(bot.IngestResult) bool
	}{
		{"no token", post(body, "application/json", ""), nil, 401, nil},
		{"wrong token", post(body, "application/json", "Bearer nope"), nil, 401, nil},
		{"wrong content type", post(body, "text/plain", good), nil, 415, nil},
		{"too large", post(bytes.Repeat([]byte(" "), 8192), "application/json", good), nil, 413, nil},
		{"not JSON", post([]byte("{"), "application/json", good), nil, 400, nil},
		{"store down", post(body, "application/json", good), func() { e.store.fail.Store(true) }, 503, nil},
		{"opened", post(body, "application/json", good), func() { e.store.fail.Store(false) }, 200,
			func(r bot.IngestResult) bool { return r.Opened && r.Incident == 1 && r.Changes > 0 }},
		{"duplicate", post(body, "application/json", good), nil, 200,
			func(r bot.IngestResult) bool { return !r.Opened && r.Incident == 1 && r.Changes == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			w := e.serve(tc.req)
			got := obs.take()
			if w.Code != tc.status || len(got) != 1 || got[0].status != tc.status {
				t.Fatalf("answered %d (%s), observed %+v; want one observation of %d", w.Code, w.Body, got, tc.status)
			}
			if tc.check != nil && !tc.check(got[0].res) {
				t.Errorf("observed result %+v", got[0].res)
			}
			if tc.check == nil && got[0].res != (bot.IngestResult{}) {
				t.Errorf("observed result %+v for a %d, want the zero result", got[0].res, tc.status)
			}
		})
	}
	// Other routes are not webhooks.
	e.get("/healthz")
	e.get("/webhooks/alertmanager")
	if got := obs.take(); len(got) != 0 {
		t.Errorf("observed %+v for requests that are not webhooks", got)
	}
}

func TestOnWebhookSeesPanics(t *testing.T) {
	var obs observed
	e := newEnv(t, func(c *Config) { c.OnWebhook = obs.add })
	e.srv.ingest = func(context.Context, *bot.Notification) (bot.IngestResult, error) { panic("boom") }
	w := e.webhook(amBody(e.now, nil))
	if got := obs.take(); w.Code != 500 || len(got) != 1 || got[0].status != 500 {
		t.Errorf("answered %d, observed %+v; want one 500", w.Code, got)
	}
}

// TestRequestIDReachesServiceLogs checks that the service's lines about an
// incident carry the request ID of the request that changed it.
func TestRequestIDReachesServiceLogs(t *testing.T) {
	e := newEnv(t)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(amBody(e.now, nil)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-42")
	if w := e.serve(req); w.Code != 200 {
		t.Fatalf("webhook: %d %s", w.Code, w.Body)
	}
	var line string
	for l := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(l, "incident opened") {
			line = l
		}
	}
	if !strings.Contains(line, "request_id=req-42") || !strings.Contains(line, "incident=1") {
		t.Errorf("the service's line is %q, want it with request_id=req-42 and incident=1\nlogs:\n%s", line, e.logs.String())
	}
}
