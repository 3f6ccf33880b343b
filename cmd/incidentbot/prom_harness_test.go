package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// startPrometheus runs the real Prometheus (Debian's package) on a free
// loopback port, scraping target every second. Without the binary the
// test is skipped, except in CI where it must be there.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed (apt-get install prometheus); CI must run this test")
		}
		t.Skip("prometheus binary not found; install Debian's prometheus package to run this test")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: leaky\n    static_configs:\n      - targets: ['%s']\n",
		strings.TrimPrefix(target, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+port, "--log.level=warn")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://127.0.0.1:" + port
	waitFor(t, 30*time.Second, "prometheus /-/ready", func() bool {
		res, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return url
}
