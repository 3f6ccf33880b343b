package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

type stubGrapher struct {
	png []byte
	err error
}

func (g stubGrapher) Graph(context.Context, bot.Graph) ([]byte, error) { return g.png, g.err }

func TestGraphRoute(t *testing.T) {
	e := newEnv(t)
	inc := e.openIncident() // its alerts carry Prometheus's generatorURL
	declared, err := e.svc.Declare(context.Background(), "by hand", bot.SEV3, "<@U1>", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(g bot.Grapher, id int64) *httptest.ResponseRecorder {
		svc := bot.NewService(e.store, bot.Options{Now: func() time.Time { return e.now }, Grapher: g})
		srv := New(Config{Service: svc, APIToken: "api-token"})
		t.Cleanup(srv.Close)
		req := httptest.NewRequest("GET", fmt.Sprintf("/api/v1/incidents/%d/graph.png", id), nil)
		req.Header.Set("Authorization", "Bearer api-token")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	tests := []struct {
		name   string
		g      bot.Grapher
		id     int64
		status int
		body   string
	}{
		{"drawn", stubGrapher{png: []byte("\x89PNG")}, inc.ID, http.StatusOK, "\x89PNG"},
		{"prometheus down", stubGrapher{err: errors.New("prometheus http://prometheus:9090: connection refused")}, inc.ID, http.StatusBadGateway, "connection refused"},
		{"no data", stubGrapher{err: bot.ErrNotFound}, inc.ID, http.StatusNotFound, ""},
		{"declared by hand", stubGrapher{png: []byte("x")}, declared.ID, http.StatusNotFound, "Prometheus expression"},
		{"no such incident", stubGrapher{png: []byte("x")}, 99, http.StatusNotFound, "incident 99 does not exist"},
		{"graphs off", nil, inc.ID, http.StatusNotFound, "not set up"},
	}
	for _, tc := range tests {
		rec := get(tc.g, tc.id)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.name, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
		if tc.status == http.StatusOK && rec.Header().Get("Content-Type") != "image/png" {
			t.Errorf("%s: Content-Type %q", tc.name, rec.Header().Get("Content-Type"))
		}
	}
}

type oneProfile struct{}

func (oneProfile) Fetch(context.Context, bot.ProfileTarget) ([]byte, error) {
	return []byte("pprof"), nil
}
func (oneProfile) Diff(_, _ []byte, _ int) (bot.ProfileDiff, error) {
	return bot.ProfileDiff{Growth: 1, Sites: []bot.GrowthSite{{Function: "main.leak", Growth: 1, Share: 1}}}, nil
}

type mapBlobs map[string][]byte

func (m mapBlobs) Put(name string, data []byte) error { m[name] = data; return nil }
func (m mapBlobs) DeleteIncident(int64) error         { return nil }
func (m mapBlobs) Get(name string) ([]byte, error) {
	if d, ok := m[name]; ok {
		return d, nil
	}
	return nil, bot.ErrNotFound
}

func TestProfilesRoutes(t *testing.T) {
	e := newEnv(t)
	inc := e.openIncident()
	svc := bot.NewService(e.store, bot.Options{Now: time.Now, Profiler: oneProfile{}, ProfileBlobs: mapBlobs{},
		ProfileTargets: func(bot.Alert) []bot.ProfileTarget {
			return []bot.ProfileTarget{{URL: "http://10.0.0.1:6060/debug/pprof/heap", Allow: []string{"10.0.0.0/8"}}}
		}})
	for range 2 {
		if _, _, err := svc.CaptureProfiles(context.Background(), inc.ID, "<@U1>"); err != nil {
			t.Fatal(err)
		}
	}
	srv := New(Config{Service: svc, PublicURL: "https://bot.example.com"})
	t.Cleanup(srv.Close)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	rec := get(fmt.Sprintf("/api/v1/incidents/%d/profiles", inc.ID))
	body := rec.Body.String()
	for _, w := range []string{`"download":"https://bot.example.com/api/v1/incidents/1/profiles/2"`, `"function":"main.leak"`, `"base":1`, `"next":2`} {
		if rec.Code != 200 || !strings.Contains(body, w) {
			t.Errorf("profiles: %d %s, want %s", rec.Code, body, w)
		}
	}
	if strings.Contains(body, `.pb.gz"`) {
		t.Errorf("profiles shows the store's file names: %s", body)
	}
	if rec := get(fmt.Sprintf("/api/v1/incidents/%d/profiles/2", inc.ID)); rec.Code != 200 || rec.Body.String() != "pprof" ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "inc-1-heap-2.pb.gz") {
		t.Errorf("download: %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	for path, want := range map[string]int{"/api/v1/incidents/1/profiles/3": 404, "/api/v1/incidents/1/profiles/x": 400,
		"/api/v1/incidents/1/profiles/0": 400, "/api/v1/incidents/9/profiles": 404} {
		if rec := get(path); rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}
