package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/internal/testpeers"
)

// leakTarget serves /metrics with a memory gauge that grows 3 MiB a
// second, as a leaking service's would.
func leakTarget(t *testing.T) *httptest.Server {
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE leaky_resident_memory_bytes gauge\nleaky_resident_memory_bytes{pod=\"pg-1\"} %f\n",
			200*(1<<20)+time.Since(start).Seconds()*3*(1<<20))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startPrometheus runs the real Prometheus scraping target (testpeers).
func startPrometheus(t *testing.T, target string) string {
	return testpeers.Prometheus(t, target)
}
