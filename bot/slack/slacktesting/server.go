// Package slacktesting is a fake Slack Web API for tests: slack-go's
// slacktest server, extended with the methods incidentbot calls that
// slacktest lacks or only pretends to do. It remembers channels (honouring
// requested names and answering name_taken), messages, pins, bookmarks and
// uploaded files; records every call for assertions; and fails on demand
// (429 with Retry-After, 500, or any API error) for the next N calls or for
// a window of time; and enforces Slack's rate limits when asked to
// (SetRateLimits), answering 429 with Retry-After as Slack does.
package slacktesting

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// The identity the fake bot has (auth.test) and posts as.
const (
	BotUserID = "UINCIDENTBOT"
	BotID     = "BINCIDENTBOT"
)

// Call is one Web API call the server received.
type Call struct {
	Method string
	// Params are the request's parameters, without the token.
	Params url.Values
	// Err is what the server answered instead of success: an API error
	// code ("name_taken"), "ratelimited" for a 429 or "http 500"; empty
	// when the call succeeded.
	Err string
	// At is when the server received the call, by its clock.
	At time.Time
	// RetryAfter is the Retry-After sent with a 429.
	RetryAfter time.Duration
}

// Fault is a failure the server answers with instead of doing the call.
type Fault struct {
	// Status is the HTTP status; 0 means 200 with Error as the API error.
	Status int
	// RetryAfter is sent as the Retry-After header (whole seconds) with a 429.
	RetryAfter time.Duration
	// Error is the API error code of an {"ok": false} answer.
	Error string
	// Lost makes the server do the call and then answer with the fault,
	// as when Slack did it but its answer was lost on the way back.
	Lost bool
}

// RateLimited answers HTTP 429 with Retry-After.
func RateLimited(after time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: after, Error: "ratelimited"}
}

// ServerError answers HTTP 500, as Slack does when it is having a bad day.
func ServerError() Fault { return Fault{Status: http.StatusInternalServerError} }

// APIError answers {"ok": false, "error": code}.
func APIError(code string) Fault { return Fault{Error: code} }

type fault struct {
	method string
	left   int
	until  time.Time
	f      Fault
}

// Server is a running fake Slack. Its zero value is not usable; call New.
type Server struct {
	ts *slacktest.Server

	mu       sync.Mutex
	now      func() time.Time
	calls    []Call
	faults   []*fault
	channels []*Channel
	files    []*File
	seq      int
	limits   RateLimits
	buckets  map[string]*tokens
	ims      map[string]*Channel // user ID -> the bot's DM with them (im.go)
	groups   map[string][]string // user group ID -> its members (im.go)
	users    map[string]User
	views    []View
}

// New starts a fake Slack; Close stops it.
func New() *Server {
	s := &Server{now: time.Now}
	s.ts = slacktest.NewTestServer(func(c slacktest.Customize) {
		for method, h := range s.methods() {
			c.Handle("/"+method, s.handle(method, h))
		}
		c.Handle("/upload/", s.upload)
	})
	s.ts.Start()
	return s
}

// APIURL is the base URL to give the Slack client (slack.OptionAPIURL).
func (s *Server) APIURL() string { return s.ts.GetAPIURL() }

// Close stops the server.
func (s *Server) Close() { s.ts.Stop() }

// SetNow replaces the server's clock (for FailUntil and channel creation times).
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Fail makes the next n calls of method ("" for any method) answer f.
func (s *Server) Fail(method string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, left: n, f: f})
}

// FailUntil makes every call of method ("" for any) answer f until the
// server's clock reaches until.
func (s *Server) FailUntil(method string, until time.Time, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, left: -1, until: until, f: f})
}

// Heal removes every fault still pending.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns the calls received, in order; with methods given, only
// the calls of those methods.
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// OK returns the calls of method that succeeded, in order.
func (s *Server) OK(method string) []Call {
	var out []Call
	for _, c := range s.Calls(method) {
		if c.Err == "" {
			out = append(out, c)
		}
	}
	return out
}

// takeFault returns the fault the next call of method answers with, if any.
func (s *Server) takeFault(method string) (Fault, bool) {
	now := s.now()
	kept := s.faults[:0]
	var hit *Fault
	for _, f := range s.faults {
		expired := f.left == 0 || (f.left < 0 && !now.Before(f.until))
		if expired {
			continue
		}
		if hit == nil && (f.method == "" || f.method == method) {
			hit = &f.f
			if f.left > 0 {
				f.left--
			}
		}
		if f.left != 0 {
			kept = append(kept, f)
		}
	}
	s.faults = kept
	if hit == nil {
		return Fault{}, false
	}
	return *hit, true
}

// method answers one API method: it returns the fields of a successful
// answer, or an API error code.
type method func(p url.Values) (map[string]any, string)

// handle wraps a method with parameter parsing, faults and the call record.
func (s *Server) handle(name string, m method) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := params(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		at := s.now()
		if f, ok := s.takeFault(name); ok {
			if f.Lost {
				m(p)
			}
			s.calls = append(s.calls, Call{Method: name, Params: p, Err: faultText(f), At: at, RetryAfter: f.RetryAfter})
			writeFault(w, f)
			return
		}
		if wait, over := s.limited(name, p); over {
			f := RateLimited(retryAfter(wait))
			s.calls = append(s.calls, Call{Method: name, Params: p, Err: faultText(f), At: at, RetryAfter: f.RetryAfter})
			writeFault(w, f)
			return
		}
		body, code := m(p)
		s.calls = append(s.calls, Call{Method: name, Params: p, Err: code, At: at})
		if code != "" {
			writeJSON(w, map[string]any{"ok": false, "error": code})
			return
		}
		if body == nil {
			body = map[string]any{}
		}
		body["ok"] = true
		writeJSON(w, body)
	}
}

func faultText(f Fault) string {
	if f.Status != 0 && f.Status != http.StatusOK && f.Status != http.StatusTooManyRequests {
		return fmt.Sprintf("http %d", f.Status)
	}
	return f.Error
}

func writeFault(w http.ResponseWriter, f Fault) {
	if f.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", fmt.Sprint(int(f.RetryAfter/time.Second)))
	}
	if f.Status != 0 && f.Status != http.StatusOK {
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, `{"ok":false,"error":"`+f.Error+`"}`)
		return
	}
	writeJSON(w, map[string]any{"ok": false, "error": f.Error})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// params reads form, query and JSON parameters, dropping the token.
func params(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	p := url.Values{}
	if ct == "application/json" {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				p.Set(k, s)
				continue
			}
			b, _ := json.Marshal(v)
			p.Set(k, string(b))
		}
	} else if err := r.ParseForm(); err != nil {
		return nil, err
	} else {
		p = r.Form
	}
	p.Del("token")
	return p, nil
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}

// split reads a comma-separated list parameter.
func split(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
