package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/internal/testpeers"
)

// botProc is the service started in-process through run, as main does.
type botProc struct {
	URL    string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

// startBot runs the service on :0 with env over a clean environment and
// waits until /readyz answers 200.
func startBot(t *testing.T, env map[string]string) *botProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	b := &botProc{cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	getenv := func(k string) string { return env[k] }
	if _, ok := env["INCIDENTBOT_ADDR"]; !ok {
		env["INCIDENTBOT_ADDR"] = "127.0.0.1:0"
	}
	if _, ok := env["INCIDENTBOT_PROMETHEUS_URL"]; !ok {
		env["INCIDENTBOT_PROMETHEUS_URL"] = graphsOff
	}
	go func() {
		err := run(ctx, []string{"serve"}, getenv, pw, b.logs)
		pw.Close()
		b.done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("the service did not start: %v\nlogs:\n%s", err, b.logs.String())
	}
	go io.Copy(io.Discard, pr)
	_, addr, ok := strings.Cut(line, " listening on ")
	if !ok {
		t.Fatalf("first line %q does not say where the service listens", line)
	}
	addr, _, _ = strings.Cut(addr, " ")
	b.URL = "http://" + addr
	waitFor(t, 10*time.Second, "/readyz", func() bool {
		res, err := http.Get(b.URL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop shuts the service down as SIGTERM would and checks it exits cleanly.
func (b *botProc) stop(t *testing.T) {
	t.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("run returned %v\nlogs:\n%s", err, b.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the service did not stop within 30s\nlogs:\n%s", b.logs.String())
	}
}

func (b *botProc) getJSON(t *testing.T, path, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", b.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return res.StatusCode
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// amProc is a real Alertmanager, its webhook receiver pointed at a
// recording proxy in front of the bot.
type amProc struct {
	URL      string
	mu       sync.Mutex
	target   string
	payloads [][]byte
	statuses []int
}

// startAlertmanager starts Alertmanager with a webhook receiver that sends
// to target with the bearer token, grouping by alertname and service, and
// short group timers so the test runs in seconds.
func startAlertmanager(t *testing.T, target, token string) *amProc {
	t.Helper()
	am, cfg := newAMProc(t, target, token)
	am.URL = testpeers.Alertmanager(t, cfg)
	return am
}

// startAlertmanagerPair starts two Alertmanagers clustered as an HA pair,
// each sending to target through its own recorder. With peerTimeout 0
// both send every notification at once (the duplicates a receiver behind
// a load balancer gets); otherwise the second waits that long and sends
// only what the gossiped log says the first did not.
func startAlertmanagerPair(t *testing.T, target, token string, peerTimeout time.Duration) [2]*amProc {
	t.Helper()
	a, cfgA := newAMProc(t, target, token)
	b, cfgB := newAMProc(t, target, token)
	urls := testpeers.AlertmanagerCluster(t, peerTimeout, cfgA, cfgB)
	a.URL, b.URL = urls[0], urls[1]
	return [2]*amProc{a, b}
}

// newAMProc returns a recorder that forwards to target and the
// Alertmanager configuration that sends to it.
func newAMProc(t *testing.T, target, token string) (*amProc, string) {
	t.Helper()
	am := &amProc{target: target}
	proxy := httptest.NewServer(http.HandlerFunc(am.forward))
	t.Cleanup(proxy.Close)
	return am, fmt.Sprintf(`route:
  receiver: team.ops
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: team.ops
    webhook_configs:
      - url: %s/webhooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: %s
`, proxy.URL, token)
}

// retarget points the receiver at a restarted bot.
func (am *amProc) retarget(url string) {
	am.mu.Lock()
	defer am.mu.Unlock()
	am.target = url
}

func (am *amProc) forward(w http.ResponseWriter, r *http.Request) {
	{
		body, _ := io.ReadAll(r.Body)
		am.mu.Lock()
		target := am.target
		am.mu.Unlock()
		req, _ := http.NewRequest(r.Method, target+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(req)
		status := http.StatusBadGateway
		if err == nil {
			status = res.StatusCode
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		am.mu.Lock()
		am.payloads = append(am.payloads, body)
		am.statuses = append(am.statuses, status)
		am.mu.Unlock()
		w.WriteHeader(status)
	}
}

// delivered returns the webhook bodies Alertmanager sent and the bot's answers.
func (am *amProc) delivered() ([][]byte, []int) {
	am.mu.Lock()
	defer am.mu.Unlock()
	return append([][]byte(nil), am.payloads...), append([]int(nil), am.statuses...)
}

// amAlert is an alert as Alertmanager's API v2 takes it.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// push posts alerts to Alertmanager's API v2, as Prometheus does.
func (am *amProc) push(t *testing.T, alerts ...amAlert) {
	t.Helper()
	body, _ := json.Marshal(alerts)
	res, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		msg, _ := io.ReadAll(res.Body)
		t.Fatalf("alertmanager refused the alerts: %d %s", res.StatusCode, msg)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(testpeers.FreeAddr(t))
	return port
}

// summary lists what Alertmanager delivered, one line per notification:
// the bot's answer, the group's status and each alert's status and times.
func (am *amProc) summary() string {
	payloads, statuses := am.delivered()
	var b strings.Builder
	for i, p := range payloads {
		var n struct {
			Status string `json:"status"`
			Group  string `json:"groupKey"`
			Alerts []struct {
				Status   string            `json:"status"`
				Labels   map[string]string `json:"labels"`
				StartsAt string            `json:"startsAt"`
				EndsAt   string            `json:"endsAt"`
			} `json:"alerts"`
		}
		_ = json.Unmarshal(p, &n)
		fmt.Fprintf(&b, "%d %s %s:", statuses[i], n.Status, n.Group)
		for _, a := range n.Alerts {
			fmt.Fprintf(&b, " [%s %s %s..%s]", a.Labels["instance"], a.Status, a.StartsAt, a.EndsAt)
		}
		b.WriteString("\n")
	}
	return b.String()
}
