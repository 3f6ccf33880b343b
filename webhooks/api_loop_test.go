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
