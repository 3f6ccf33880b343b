package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

func TestAPIPatchEntry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.APIToken = testAPIKey })
	e.declare(1)
	inc, err := e.svc.Apply(context.Background(), 1, bot.Action{Op: bot.OpNote, Actor: "U1", Text: "nte with a typo"})
	if err != nil {
		t.Fatal(err)
	}
	tl, _ := e.svc.Timeline(context.Background(), inc.ID)
	note := tl[len(tl)-1]
	path := "/api/v1/incidents/1/timeline/" + jsonNum(note.ID)
	auth := "Bearer " + testAPIKey
	tests := []struct {
		name, path, auth, ctype, body string
		want                          int
		wantBody                      string
	}{
		{"no token", path, "", "application/json", `{"text":"x"}`, 401, ""},
		{"text", path, auth, "application/json", `{"text":"note without a typo"}`, 200, `"before_detection":false`},
		{"time and strike", path, auth, "application/json; charset=utf-8", `{"at":"2024-06-20T13:30:00Z","struck":true}`, 200, `"before_detection":true`},
		{"same again", path, auth, "application/json", `{"struck":true}`, 409, "already reads so"},
		{"future", path, auth, "application/json", `{"at":"2999-01-01T00:00:00Z"}`, 400, "in the future"},
		{"bad time", path, auth, "application/json", `{"at":"14:05"}`, 400, "want RFC 3339"},
		{"unknown field", path, auth, "application/json", `{"txt":"x"}`, 400, `unknown field \"txt\"`},
		{"wrong type", path, auth, "application/json", `{"struck":"yes"}`, 400, "wrong type"},
		{"not json", path, auth, "application/json", `{`, 400, "want a JSON object"},
		{"empty", path, auth, "application/json", ``, 400, "the body is empty"},
		{"two objects", path, auth, "application/json", `{"text":"a"} {"text":"b"}`, 400, "one JSON object"},
		{"nothing", path, auth, "application/json", `{}`, 400, "nothing to correct"},
		{"text form", path, auth, "text/plain", `{"text":"x"}`, 415, "application/json"},
		{"huge", path, auth, "application/json", `{"text":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"no such entry", "/api/v1/incidents/1/timeline/999", auth, "application/json", `{"struck":true}`, 404, "no timeline entry 999"},
		{"no such incident", "/api/v1/incidents/7/timeline/1", auth, "application/json", `{"struck":true}`, 404, ""},
		{"bad entry", "/api/v1/incidents/1/timeline/x", auth, "application/json", `{"struck":true}`, 400, "positive entry number"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPatch, tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.ctype)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		w := e.serve(req)
		if w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantBody) {
			t.Errorf("%s: PATCH %s %.40s: got %d %.200s, want %d containing %q", tt.name, tt.path, tt.body, w.Code, w.Body, tt.want, tt.wantBody)
		}
	}
	got := e.get("/api/v1/incidents/1/timeline", "Authorization", auth)
	var entries []map[string]any
	_ = json.Unmarshal(got.Body.Bytes(), &entries)
	var fixed map[string]any
	for _, x := range entries {
		if x["id"] == float64(note.ID) {
			fixed = x
		}
	}
	hist, _ := fixed["history"].([]any)
	if fixed == nil || fixed["struck"] != true || fixed["before_detection"] != true || fixed["at"] != "2024-06-20T13:30:00Z" || fixed["edited_at"] == nil || len(hist) != 2 ||
		hist[0].(map[string]any)["text"] != "nte with a typo" || hist[0].(map[string]any)["by"] != "api" {
		t.Errorf("corrected entry as the API shows it: %v", fixed)
	}
	if len(entries) != len(tl) {
		t.Errorf("corrections changed the number of entries: %d, was %d", len(entries), len(tl))
	}
}

func TestAPIPatchNeedsAToken(t *testing.T) {
	e := newEnv(t)
	e.declare(1)
	req := httptest.NewRequest(http.MethodPatch, "/api/v1/incidents/1/timeline/1", strings.NewReader(`{"struck":true}`))
	req.Header.Set("Content-Type", "application/json")
	if w := e.serve(req); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "INCIDENTBOT_API_TOKEN") {
		t.Errorf("PATCH without an API token configured: got %d %s, want 403 naming the setting", w.Code, w.Body)
	}
	tl, _ := e.svc.Timeline(context.Background(), 1)
	if tl[0].Struck {
		t.Error("the entry was struck anyway")
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }
