package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// declare opens n incidents by hand; the last one is resolved.
func (e *env) declare(n int) {
	e.t.Helper()
	for i := range n {
		inc, err := e.svc.Declare(context.Background(), fmt.Sprintf("incident %d", i+1), bot.SEV3, "<@U1>", time.Time{})
		if err != nil {
			e.t.Fatal(err)
		}
		if i == n-1 {
			if _, err := e.svc.Apply(context.Background(), inc.ID, bot.Action{Op: bot.OpResolve, Actor: "<@U1>"}); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func ids(t *testing.T, body []byte) []int64 {
	t.Helper()
	var list []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("not a JSON array of incidents: %s", body)
	}
	out := []int64{}
	for _, inc := range list {
		out = append(out, inc.ID)
	}
	return out
}

func TestAPIIncidents(t *testing.T) {
	e := newEnv(t)
	e.declare(5)
	tests := []struct {
		name    string
		path    string
		want    int
		wantIDs string // fmt of the IDs, or part of the error
	}{
		{"all newest first", "/api/v1/incidents", 200, "[5 4 3 2 1]"},
		{"open", "/api/v1/incidents?status=open", 200, "[4 3 2 1]"},
		{"resolved", "/api/v1/incidents?status=resolved", 200, "[5]"},
		{"limit", "/api/v1/incidents?limit=2", 200, "[5 4]"},
		{"next page", "/api/v1/incidents?limit=2&before=4", 200, "[3 2]"},
		{"last page", "/api/v1/incidents?limit=2&before=2", 200, "[1]"},
		{"past the end", "/api/v1/incidents?before=1", 200, "[]"},
		{"bad status", "/api/v1/incidents?status=closed", 400, `status "closed"`},
		{"limit zero", "/api/v1/incidents?limit=0", 400, `limit "0"`},
		{"limit too big", "/api/v1/incidents?limit=1001", 400, "1 to 1000"},
		{"limit not a number", "/api/v1/incidents?limit=ten", 400, `limit "ten"`},
		{"bad before", "/api/v1/incidents?before=-3", 400, `before "-3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.get(tt.path)
			var answer errorBody
			_ = json.Unmarshal(w.Body.Bytes(), &answer)
			got := answer.Error
			if w.Code == 200 {
				got = fmt.Sprint(ids(t, w.Body.Bytes()))
			}
			if w.Code != tt.want || !strings.Contains(got, tt.wantIDs) {
				t.Errorf("GET %s\ngot  %d %s\nwant %d %s", tt.path, w.Code, got, tt.want, tt.wantIDs)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("GET %s: Content-Type %q", tt.path, ct)
			}
		})
	}
	if link := e.get("/api/v1/incidents?limit=2&status=open").Header().Get("Link"); !strings.Contains(link, "before=3") || !strings.Contains(link, "status=open") {
		t.Errorf("full page: Link %q, want the next page before 3, open only", link)
	}
}

func TestAPIEmptyListIsArray(t *testing.T) {
	e := newEnv(t)
	if w := e.get("/api/v1/incidents"); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("no incidents: got %d %q, want 200 []", w.Code, w.Body)
	}
}

func TestAPIIncident(t *testing.T) {
	e := newEnv(t)
	e.openIncident()
	tests := []struct {
		name, path string
		want       int
		wantBody   string
	}{
		{"incident", "/api/v1/incidents/1", 200, `"receiver":"team.ops"`},
		{"INC- form", "/api/v1/incidents/INC-1", 200, `"id":1`},
		// The SPEC's Slack fields, kept by the Slack adapter beside the incident.
		{"slack channel", "/api/v1/incidents/1", 200, `"slack_channel_id":"` + testChannel + `","slack_channel_name":"inc-1-memory-leak"`},
		{"slack channel in the list", "/api/v1/incidents", 200, `"slack_channel_id":"` + testChannel + `","slack_channel_name":"inc-1-memory-leak"`},
		{"slack channel in the list with alerts", "/api/v1/incidents?include=alerts", 200, `"slack_channel_id":"` + testChannel + `","slack_channel_name":"inc-1-memory-leak"`},
		{"missing", "/api/v1/incidents/42", 404, `incident 42 does not exist`},
		{"not a number", "/api/v1/incidents/abc", 400, `id \"abc\": want a positive integer`},
		{"zero", "/api/v1/incidents/0", 400, "positive integer"},
		{"negative", "/api/v1/incidents/-1", 400, "positive integer"},
		{"plus", "/api/v1/incidents/+1", 400, "positive integer"},
		{"overflow", "/api/v1/incidents/99999999999999999999", 400, "positive integer"},
		{"timeline", "/api/v1/incidents/1/timeline", 200, `"kind":"opened"`},
		{"timeline missing", "/api/v1/incidents/42/timeline", 404, "does not exist"},
		{"postmortem", "/api/v1/incidents/1/postmortem", 200, "# Postmortem Report: INC-1"},
		{"postmortem json", "/api/v1/incidents/1/postmortem?format=json", 200, `"key":"INC-1"`},
		{"postmortem bad format", "/api/v1/incidents/1/postmortem?format=pdf", 400, `format \"pdf\"`},
		{"postmortem missing", "/api/v1/incidents/42/postmortem", 404, "does not exist"},
		{"no route", "/api/v1/nope", 404, `"error":"no route for GET /api/v1/nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.get(tt.path)
			if w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("GET %s\ngot  %d %.300s\nwant %d containing %s", tt.path, w.Code, w.Body, tt.want, tt.wantBody)
			}
		})
	}
	if ct := e.get("/api/v1/incidents/1/postmortem").Header().Get("Content-Type"); ct != "text/markdown; charset=utf-8" {
		t.Errorf("postmortem Content-Type %q", ct)
	}
	var tl []bot.TimelineEntry
	_ = json.Unmarshal(e.get("/api/v1/incidents/1/timeline").Body.Bytes(), &tl)
	for i := 1; i < len(tl); i++ {
		if tl[i].At.Before(tl[i-1].At) {
			t.Errorf("timeline not oldest first: %v before %v", tl[i].At, tl[i-1].At)
		}
	}
}

func TestAPIToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.APIToken = testAPIKey })
	tests := []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"wrong", "Bearer wrong", 401},
		{"basic is not enough", "Basic YTo" + testAPIKey, 401},
		{"right", "Bearer " + testAPIKey, 200},
		{"scheme in lower case", "bearer " + testAPIKey, 200},
	}
	for _, tt := range tests {
		w := e.get("/api/v1/incidents", "Authorization", tt.auth)
		if w.Code != tt.want {
			t.Errorf("%s: Authorization %q: got %d %s, want %d", tt.name, tt.auth, w.Code, w.Body, tt.want)
		}
		e.noSecrets(tt.name, w.Body.String())
	}
	if w := e.get("/healthz"); w.Code != 200 {
		t.Errorf("healthz needs no token: got %d", w.Code)
	}
}

func TestAPIBodyLimit(t *testing.T) {
	e := newEnv(t)
	for _, chunked := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/incidents", bytes.NewReader(make([]byte, 1<<20+1)))
		if chunked {
			req.ContentLength = -1
		}
		if w := e.serve(req); w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("GET with a body over 1 MiB (chunked %v): got %d, want 413", chunked, w.Code)
		}
	}
}

func TestHealth(t *testing.T) {
	ready := errors.New("store is closed")
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "up 1\n") })
	e := newEnv(t, func(c *Config) { c.Ready = func() error { return ready }; c.Metrics = metrics })
	tests := []struct {
		path     string
		want     int
		wantBody string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 503, "not ready: store is closed"},
		{"/metrics", 200, "up 1"},
	}
	for _, tt := range tests {
		if w := e.get(tt.path); w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantBody) {
			t.Errorf("GET %s: got %d %s, want %d %s", tt.path, w.Code, w.Body, tt.want, tt.wantBody)
		}
	}
	ready = nil
	if w := e.get("/readyz"); w.Code != 200 {
		t.Errorf("readyz when ready: got %d", w.Code)
	}
	if w := e.serve(httptest.NewRequest(http.MethodDelete, "/healthz", nil)); w.Code != 405 {
		t.Errorf("DELETE /healthz: got %d, want 405", w.Code)
	}
	if id := e.get("/healthz", "X-Request-Id", "abc-123").Header().Get("X-Request-Id"); id != "abc-123" {
		t.Errorf("request id: got %q, want the caller's", id)
	}
	if id := e.get("/healthz", "X-Request-Id", "bad id\n").Header().Get("X-Request-Id"); len(id) != 16 {
		t.Errorf("request id for an insane one: got %q, want a fresh one", id)
	}
	if e2 := newEnv(t); e2.get("/metrics").Code != 404 {
		t.Errorf("/metrics without a handler: want 404")
	}
}
