package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testPostgres returns a URL to a fresh schema of the test database,
// dropped when the test ends, or skips the test without
// INCIDENTBOT_TEST_POSTGRES.
func testPostgres(t *testing.T) string {
	t.Helper()
	base := os.Getenv("INCIDENTBOT_TEST_POSTGRES")
	if base == "" {
		t.Skip("INCIDENTBOT_TEST_POSTGRES is not set (a postgres:// URL): PostgreSQL not tested")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "incidentbot_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect %s: %v", base, err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		conn.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// tcpProxy forwards a port to PostgreSQL and can cut every connection,
// the way a network partition or a database restart does.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{addr: "127.0.0.1:" + freePort(t), target: target, conns: map[net.Conn]bool{}}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

// down closes the listener and every connection through it.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func readyz(b *botProc) int {
	res, err := http.Get(b.URL + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestPostgresReplicas runs two replicas on one PostgreSQL database, each
// fed by its own real Alertmanager sending the same alerts (an HA pair
// whose notifications land on different replicas): one incident per
// group, every alert on it, every delivery answered 200. Then the
// database goes away: /readyz fails and webhooks are refused with a 5xx
// (Alertmanager retries), and once it is back both recover without a
// restart.
func TestPostgresReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	db := testPostgres(t)
	u, _ := url.Parse(db)
	proxy := startProxy(t, u.Host)
	u.Host = proxy.addr
	const token, apiToken = "wh-token-pg", "api-token-pg"
	env := func() map[string]string {
		return map[string]string{"INCIDENTBOT_DB": u.String(), "INCIDENTBOT_WEBHOOK_TOKEN": token, "INCIDENTBOT_API_TOKEN": apiToken,
			"INCIDENTBOT_LOG_FORMAT": "text"}
	}
	a, b := startBot(t, env()), startBot(t, env())
	amA, amB := startAlertmanager(t, a.URL, token), startAlertmanager(t, b.URL, token)

	checkout := amAlert{Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "warning"}, StartsAt: start.Add(3 * time.Minute)}
	for _, am := range []*amProc{amA, amB} {
		am.push(t, memoryLeak("pg-1"), memoryLeak("pg-2"), checkout)
	}
	waitFor(t, 30*time.Second, "both Alertmanagers to deliver", func() bool {
		_, sa := amA.delivered()
		_, sb := amB.delivered()
		return len(sa) > 0 && len(sb) > 0
	})
	var list []incidentJSON
	waitFor(t, 20*time.Second, "the alerts on both replicas", func() bool {
		a.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &list)
		return len(list) >= 2 && len(byTitle(list, "MemoryLeak on payment-gateway").Alerts) == 2
	})
	for _, r := range []*botProc{a, b} {
		r.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &list)
		if len(list) != 2 {
			t.Fatalf("incidents seen by %s: got %d, want 2 (one per group, whichever replica took the notification)", r.URL, len(list))
		}
	}
	for _, r := range []*botProc{a, b} {
		if got := gauge(t, r, "incidentbot_incidents_open"); got != 2 {
			t.Errorf("incidentbot_incidents_open on %s: got %v, want 2", r.URL, got)
		}
		if got := gauge(t, r, "incidentbot_outbox_depth"); got != 0 {
			t.Errorf("incidentbot_outbox_depth on %s (Slack off): got %v, want 0", r.URL, got)
		}
	}
	for _, am := range []*amProc{amA, amB} {
		payloads, statuses := am.delivered()
		for i, s := range statuses {
			if s != 200 {
				t.Errorf("delivery %d answered %d: %s", i, s, payloads[i])
			}
		}
	}

	proxy.down()
	waitFor(t, 15*time.Second, "/readyz to fail without the database", func() bool { return readyz(a) == 503 && readyz(b) == 503 })
	proxy.up(t)
	waitFor(t, 15*time.Second, "/readyz to recover with the database back", func() bool { return readyz(a) == 200 && readyz(b) == 200 })
	amA.push(t, memoryLeak("pg-3"))
	waitFor(t, 30*time.Second, "an alert stored after the database came back", func() bool {
		b.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &list)
		return len(byTitle(list, "MemoryLeak on payment-gateway").Alerts) == 3
	})

	// One replica leads (runs deliveries and timers); when it stops, the
	// other takes over.
	var leader, follower *botProc
	waitFor(t, 15*time.Second, "exactly one replica to hold the lease", func() bool {
		la, lb := gauge(t, a, "incidentbot_leader"), gauge(t, b, "incidentbot_leader")
		switch {
		case la == 1 && lb == 0:
			leader, follower = a, b
		case la == 0 && lb == 1:
			leader, follower = b, a
		default:
			return false
		}
		return true
	})
	leader.stop(t)
	waitFor(t, 15*time.Second, "the other replica to take the lease over", func() bool { return gauge(t, follower, "incidentbot_leader") == 1 })
}

// gauge reads one unlabelled series from /metrics, -1 when absent.
func gauge(t *testing.T, b *botProc, name string) float64 {
	t.Helper()
	res, err := http.Get(b.URL + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestMigrateCommand: `incidentbot migrate status` on an empty schema
// lists the steps as pending, `up` applies them once, status then says
// applied, and serve finds nothing left to do.
func TestMigrateCommand(t *testing.T) {
	db := testPostgres(t)
	env := map[string]string{"INCIDENTBOT_DB": db}
	getenv := func(k string) string { return env[k] }
	runIt := func(args ...string) (string, error) {
		var out, errOut strings.Builder
		err := run(context.Background(), args, getenv, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := runIt("migrate", "status")
	if err != nil || !strings.Contains(out, "0001_init") || !strings.Contains(out, "pending") || strings.Contains(out, "applied") {
		t.Fatalf("migrate status before up: %v\n%s\nwant 0001_init pending", err, out)
	}
	if out, err = runIt("migrate", "up"); err != nil || !strings.Contains(out, "applied step 0001") {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	if out, err = runIt("migrate", "up"); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate up again: %v\n%s, want up to date", err, out)
	}
	if out, err = runIt("migrate", "status"); err != nil || !strings.Contains(out, "applied") || strings.Contains(out, "pending") {
		t.Fatalf("migrate status after up: %v\n%s", err, out)
	}
	env["INCIDENTBOT_DB"] = "incidentbot.db"
	if out, err = runIt("migrate", "up"); err == nil || !strings.Contains(out, "not a postgres:// URL") {
		t.Fatalf("migrate up on a bbolt path: %v\n%s, want a refusal that says why", err, out)
	}
	if out, err = runIt("migrate", "sideways"); err == nil || !strings.Contains(out, "usage: incidentbot migrate") {
		t.Fatalf("migrate sideways: %v\n%s, want the usage", err, out)
	}
}

// TestCopyStoreCommand: the incidents a bbolt-backed service stored are
// served, with their numbers, by a service on PostgreSQL after
// `incidentbot copy-store`.
func TestCopyStoreCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	pg := testPostgres(t)
	file := filepath.Join(t.TempDir(), "incidentbot.db")
	const token, apiToken = "wh-token-copy", "api-token-copy"
	env := map[string]string{"INCIDENTBOT_DB": file, "INCIDENTBOT_WEBHOOK_TOKEN": token, "INCIDENTBOT_API_TOKEN": apiToken, "INCIDENTBOT_LOG_FORMAT": "text"}
	b := startBot(t, env)
	am := startAlertmanager(t, b.URL, token)
	am.push(t, memoryLeak("pg-1"), memoryLeak("pg-2"))
	var before []incidentJSON
	waitFor(t, 20*time.Second, "the incident on bbolt", func() bool {
		b.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &before)
		return len(before) == 1 && len(before[0].Alerts) == 2
	})
	b.stop(t)

	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"copy-store", "--from", file, "--to", pg}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("copy-store: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "copied 1 incidents (2 alerts") {
		t.Errorf("copy-store said %q", out.String())
	}
	env["INCIDENTBOT_DB"] = pg
	b = startBot(t, env)
	var after []incidentJSON
	b.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &after)
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].Title != before[0].Title || len(after[0].Alerts) != 2 {
		t.Errorf("on PostgreSQL after the copy: %+v, want %+v", after, before)
	}
	if err := run(context.Background(), []string{"copy-store", "--from", file, "--to", pg}, func(string) string { return "" }, &out, &errOut); err == nil {
		t.Errorf("a second copy into the same database: got no error, want a refusal")
	}
}
