package webhooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// amBody is a valid one-alert firing payload at now, changed by edit
// (payload, first alert) before it is encoded.
func amBody(now time.Time, edit func(p, a map[string]any)) []byte {
	a := map[string]any{
		"status":       "firing",
		"labels":       map[string]any{"alertname": "DiskFull", "instance": "db-1:9100", "severity": "warning"},
		"annotations":  map[string]any{"summary": "Disk almost full"},
		"startsAt":     now.Add(-10 * time.Minute).Format(time.RFC3339Nano),
		"endsAt":       "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus:9090/graph",
		"fingerprint":  "a1b2c3d4e5f60718",
	}
	p := map[string]any{
		"version": "4", "groupKey": `{}:{alertname="DiskFull"}`, "truncatedAlerts": 0, "status": "firing",
		"receiver": `team\.ops`, "groupLabels": map[string]any{"alertname": "DiskFull"},
		"commonLabels": map[string]any{"alertname": "DiskFull"}, "commonAnnotations": map[string]any{},
		"externalURL": "http://alertmanager:9093", "alerts": []any{a},
	}
	if edit != nil {
		edit(p, a)
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

func manyLabels(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("l%05d", i)] = "v"
	}
	return m
}

// hostileCase is one webhook request and what must come of it.
type hostileCase struct {
	name        string
	body        []byte
	contentType string // "" means application/json
	auth        string // Authorization header; "" means Bearer testToken
	chunked     bool   // no Content-Length, as a streaming client sends
	want        int
	wantErr     string // part of the error message
	wantStored  bool
}

// hostileCases are the webhook requests of TestAlertmanagerHostile, with
// the limit at 1 MiB and the token testToken.
func hostileCases(now time.Time) []hostileCase {
	valid := amBody(now, nil)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alertmanager:"+testToken))
	deep := []byte(`{"version":"4","x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`)
	return []hostileCase{
		{name: "valid", body: valid, want: 200, wantStored: true},
		{name: "charset param", body: valid, contentType: "application/json; charset=UTF-8", want: 200, wantStored: true},
		{name: "basic auth ok", body: valid, auth: basic, want: 200, wantStored: true},
		{name: "unknown keys", body: amBody(now, func(p, a map[string]any) {
			p["notification_reason"] = "repeat_interval"
			p["routeLabels"] = map[string]any{"team": "ops"}
			a["extra"] = []any{1, 2}
		}), want: 200, wantStored: true},
		{name: "empty body", body: nil, want: 400, wantErr: "body is empty"},
		{name: "not JSON", body: []byte("hello"), want: 400, wantErr: "not valid JSON"},
		{name: "JSON array", body: []byte(`[` + string(valid) + `]`), want: 400, wantErr: "want a JSON object, got array"},
		{name: "JSON string", body: []byte(`"4"`), want: 400, wantErr: "want a JSON object"},
		{name: "deep nesting", body: deep, want: 400, wantErr: "not valid JSON"},
		{name: "trailing garbage", body: append(append([]byte{}, valid...), []byte(` {}`)...), want: 400, wantErr: "not valid JSON"},
		{name: "huge body", body: bytes.Repeat([]byte(" "), 1<<20+1), want: 413, wantErr: "larger than"},
		{name: "huge body chunked", body: bytes.Repeat([]byte(" "), 1<<20+1), chunked: true, want: 413, wantErr: "larger than"},
		{name: "wrong content type", body: valid, contentType: "text/plain", want: 415, wantErr: "want application/json"},
		{name: "form content type", body: valid, contentType: "application/x-www-form-urlencoded", want: 415, wantErr: "Content-Type"},
		{name: "latin1 charset", body: valid, contentType: "application/json; charset=latin1", want: 415, wantErr: "charset"},
		{name: "no content type", body: valid, contentType: "-", want: 415, wantErr: "Content-Type is missing"},
		{name: "wrong version", body: amBody(now, func(p, a map[string]any) { p["version"] = "3" }), want: 400, wantErr: `version "3"`},
		{name: "version as number", body: amBody(now, func(p, a map[string]any) { p["version"] = 4 }), want: 400, wantErr: "version: want a string, got number"},
		{name: "missing alerts", body: amBody(now, func(p, a map[string]any) { delete(p, "alerts") }), want: 400, wantErr: "alerts is empty"},
		{name: "alerts not an array", body: amBody(now, func(p, a map[string]any) { p["alerts"] = "x" }), want: 400, wantErr: "alerts: want an array"},
		{name: "alert not an object", body: amBody(now, func(p, a map[string]any) { p["alerts"] = []any{a, 7} }), want: 400, wantErr: "alerts[1]: want a JSON object"},
		{name: "label not a string", body: amBody(now, func(p, a map[string]any) {
			p["alerts"] = []any{a, map[string]any{"labels": map[string]any{"x": 1}}}
		}), want: 400, wantErr: "alerts[1].labels: want a string, got number"},
		{name: "truncatedAlerts not a number", body: amBody(now, func(p, a map[string]any) { p["truncatedAlerts"] = "many" }), want: 400, wantErr: "truncatedAlerts"},
		{name: "missing groupKey", body: amBody(now, func(p, a map[string]any) { delete(p, "groupKey") }), want: 400, wantErr: "groupKey is empty"},
		{name: "missing receiver", body: amBody(now, func(p, a map[string]any) { delete(p, "receiver") }), want: 400, wantErr: "receiver is empty"},
		{name: "bad startsAt", body: amBody(now, func(p, a map[string]any) { a["startsAt"] = "yesterday" }), want: 400, wantErr: `alerts[0].startsAt: "yesterday" is not an RFC 3339 time`},
		{name: "missing startsAt", body: amBody(now, func(p, a map[string]any) { delete(a, "startsAt") }), want: 400, wantErr: "alerts[0].startsAt is missing"},
		{name: "future startsAt", body: amBody(now, func(p, a map[string]any) { a["startsAt"] = now.Add(time.Hour).Format(time.RFC3339) }), want: 400, wantErr: "in the future"},
		{name: "bad endsAt of resolved", body: amBody(now, func(p, a map[string]any) { a["status"], a["endsAt"] = "resolved", "soon" }), want: 400, wantErr: "alerts[0].endsAt"},
		{name: "resolved without end", body: amBody(now, func(p, a map[string]any) { a["status"] = "resolved" }), want: 400, wantErr: "endsAt is missing"},
		{name: "bad alert status", body: amBody(now, func(p, a map[string]any) { a["status"] = "burning" }), want: 400, wantErr: `status "burning"`},
		{name: "bad fingerprint", body: amBody(now, func(p, a map[string]any) { a["fingerprint"] = "not hex!" }), want: 400, wantErr: "fingerprint"},
		{name: "NUL and escapes in labels, cleaned", body: amBody(now, func(p, a map[string]any) {
			a["labels"].(map[string]any)["instance"] = "db\x001\x1b[2J\u202e"
			a["annotations"] = map[string]any{"description": "two\r\n\tlines\x00"}
		}), want: 200, wantStored: true},
		{name: "NUL in groupKey", body: amBody(now, func(p, a map[string]any) { p["groupKey"] = "g\x00" }), want: 400, wantErr: "groupKey contains a NUL"},
		{name: "raw NUL byte", body: bytes.Replace(valid, []byte("DiskFull"), []byte("Disk\x00Full"), 1), want: 400, wantErr: "not valid JSON"},
		{name: "invalid UTF-8", body: bytes.Replace(valid, []byte("Disk almost"), []byte("Disk \xff\xfe almost"), 1), want: 400, wantErr: "not valid UTF-8"},
		{name: "10,000 labels", body: amBody(now, func(p, a map[string]any) { a["labels"] = manyLabels(10000) }), want: 400, wantErr: "alerts[0].labels has 10000 entries"},
		{name: "empty label name", body: amBody(now, func(p, a map[string]any) { a["labels"].(map[string]any)[""] = "x" }), want: 400, wantErr: "empty name"},
		{name: "duplicate fingerprint", body: amBody(now, func(p, a map[string]any) { p["alerts"] = []any{a, a} }), want: 400, wantErr: "appears twice"},
		{name: "no auth", body: valid, auth: "-", want: 401, wantErr: "authorization required"},
		{name: "wrong bearer", body: valid, auth: "Bearer nope", want: 401, wantErr: "token is wrong"},
		{name: "token as basic user", body: valid, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(testToken+":")), want: 401, wantErr: "token is wrong"},
		{name: "wrong basic", body: valid, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("am:nope")), want: 401, wantErr: "token is wrong"},
		{name: "bearer with token prefix", body: valid, auth: "Bearer " + testToken[:10], want: 401, wantErr: "token is wrong"},
	}
}

func TestAlertmanagerHostile(t *testing.T) {
	tests := hostileCases(testNow())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.WebhookToken, c.MaxWebhookBody = testToken, 1<<20 })
			w := e.serve(tt.request())
			got := w.Body.String()
			var answer errorBody
			_ = json.Unmarshal(w.Body.Bytes(), &answer)
			if w.Code != tt.want || !strings.Contains(answer.Error, tt.wantErr) {
				t.Errorf("input %.200q\ngot  %d %s\nwant %d containing %q", tt.body, w.Code, got, tt.want, tt.wantErr)
			}
			t.Logf("%d %s", w.Code, got)
			if w.Code != 200 && !json.Valid(w.Body.Bytes()) {
				t.Errorf("error answer is not JSON: %s", got)
			}
			if w.Code == 401 && len(w.Header().Values("WWW-Authenticate")) != 2 {
				t.Errorf("401 without both WWW-Authenticate challenges: %v", w.Header())
			}
			if stored := len(e.incidents()) > 0; stored != tt.wantStored {
				t.Errorf("stored = %v, want %v", stored, tt.wantStored)
			}
			for _, inc := range e.incidents() { // stored text went through bot.CleanText
				for _, al := range inc.Alerts {
					for k, v := range al.Labels {
						if bot.CleanText(k+v) != k+v {
							t.Errorf("stored label %q=%q keeps a control character", k, v)
						}
					}
					for k, v := range al.Annotations {
						if bot.CleanText(k+v) != k+v || strings.Contains(v, "\r") {
							t.Errorf("stored annotation %q=%q keeps a control character", k, v)
						}
					}
				}
			}
			e.noSecrets("answer", got)
		})
	}
}

// request builds the case's request.
func (tt hostileCase) request() *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(tt.body))
	if tt.chunked {
		req.ContentLength = -1
	}
	setHeader(req, "Content-Type", tt.contentType, "application/json")
	setHeader(req, "Authorization", tt.auth, "Bearer "+testToken)
	return req
}

// setHeader sets v, or def when v is "", or nothing when v is "-".
func setHeader(req *http.Request, key, v, def string) {
	switch v {
	case "-":
	case "":
		req.Header.Set(key, def)
	default:
		req.Header.Set(key, v)
	}
}

func TestAlertmanagerTooLargeIsLoud(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxWebhookBody = 1024 })
	w := e.webhook(bytes.Repeat([]byte("x"), 2048))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d, want 413", w.Code)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "max_alerts") {
		t.Errorf("413 not logged as an error with advice:\n%s", logs)
	}
}

func TestAlertmanagerFiringThenResolved(t *testing.T) {
	e := newEnv(t)
	first := e.webhookOK(readTestdata(t, "firing.json"))
	if !first.Opened || first.Incident != 1 || first.Changes == 0 {
		t.Fatalf("first delivery: got %+v, want incident 1 opened with changes", first)
	}
	inc := e.incident(1)
	if inc.Receiver != "team.ops" {
		t.Errorf("receiver: got %q, want the unescaped team.ops", inc.Receiver)
	}
	for _, a := range inc.Alerts {
		if a.EndsAt != nil {
			t.Errorf("firing alert %s: endsAt %v, want nil", a.Fingerprint, a.EndsAt)
		}
	}
	entries := len(e.timeline(1))

	again := e.webhookOK(readTestdata(t, "firing.json"))
	if again.Incident != 1 || again.Opened || again.Changes != 0 {
		t.Errorf("duplicate delivery: got %+v, want incident 1, nothing changed", again)
	}
	if n := len(e.incidents()); n != 1 {
		t.Errorf("incidents after a duplicate: got %d, want 1", n)
	}
	if n := len(e.timeline(1)); n != entries {
		t.Errorf("timeline after a duplicate: got %d entries, want %d", n, entries)
	}

	done := e.webhookOK(readTestdata(t, "resolved.json"))
	if done.Incident != 1 || done.Changes == 0 {
		t.Errorf("resolved delivery: got %+v, want changes to incident 1", done)
	}
	if inc := e.incident(1); inc.Open() || inc.Firing() != 0 {
		t.Errorf("after resolved: status %s, %d firing; want resolved, 0 firing", inc.Status, inc.Firing())
	}
	entries = len(e.timeline(1))
	if res := e.webhookOK(readTestdata(t, "resolved.json")); res.Changes != 0 {
		t.Errorf("resolved again: got %+v, want no changes", res)
	}
	if n := len(e.timeline(1)); n != entries {
		t.Errorf("timeline after resolved twice: got %d entries, want %d", n, entries)
	}
}

func TestAlertmanagerStorm(t *testing.T) {
	e := newEnv(t)
	body := readTestdata(t, "storm.json")
	var p amPayload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	res := e.webhookOK(body)
	if !res.Opened {
		t.Fatalf("storm: got %+v, want an incident opened", res)
	}
	if got := e.incident(res.Incident).Alerts; len(got) != len(p.Alerts) {
		t.Errorf("storm: incident has %d alerts, want %d", len(got), len(p.Alerts))
	}
	if again := e.webhookOK(body); again.Changes != 0 || len(e.incidents()) != 1 {
		t.Errorf("storm again: got %+v and %d incidents, want no change and 1", again, len(e.incidents()))
	}
}

func TestAlertmanagerStoreDown(t *testing.T) {
	e := newEnv(t)
	e.store.fail.Store(true)
	w := e.webhook(readTestdata(t, "firing.json"))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "try again") {
		t.Errorf("store down: got %d %s, want 503 asking to retry", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "disk on fire") {
		t.Errorf("503 leaks the internal error: %s", w.Body)
	}
	e.store.fail.Store(false)
	if res := e.webhookOK(readTestdata(t, "firing.json")); !res.Opened {
		t.Errorf("retry after the store is back: got %+v, want opened", res)
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 200},
		{"invalid", fmt.Errorf("%w: x", bot.ErrInvalid), 400},
		{"not found", fmt.Errorf("%w: x", bot.ErrNotFound), 404},
		{"conflict", fmt.Errorf("%w: x", bot.ErrConflict), 409},
		{"unavailable", fmt.Errorf("%w: x", bot.ErrUnavailable), 503},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), 503},
		{"unknown", fmt.Errorf("boom"), 500},
	}
	for _, tt := range tests {
		if got := statusOf(tt.err); got != tt.want {
			t.Errorf("%s: statusOf(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestUnescapeReceiver(t *testing.T) {
	tests := []struct{ in, want string }{
		{`team\.ops`, "team.ops"}, {"plain", "plain"}, {`a\\b`, `a\b`}, {`trail\`, `trail\`}, {`\(x\)\+`, "(x)+"},
	}
	for _, tt := range tests {
		if got := unescapeReceiver(tt.in); got != tt.want {
			t.Errorf("unescapeReceiver(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
