package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

var (
	replicasStorm  = flag.Duration("replicas.storm", 20*time.Second, "replica kill test: how long the Alertmanagers storm and replicas are killed")
	replicasGroups = flag.Int("replicas.groups", 6, "replica kill test: how many alert groups (incidents) the storm has")
)

// dmPage finds the incident and the step in a page's Slack DM.
var dmPage = regexp.MustCompile(`INC-(\d+): .*?step (\d+)`)

// rrProxy is a round-robin HTTP load balancer in front of the replicas,
// as a Kubernetes Service without readiness gates is: a replica that
// refuses the connection (killed, restarting) is skipped for the next;
// one that dies mid-request gets the sender a 502, and Alertmanager
// sends again.
type rrProxy struct {
	backends []string
	next     atomic.Uint64
	client   *http.Client
	URL      string
}

func startRRProxy(t *testing.T, backends []string) *rrProxy {
	t.Helper()
	p := &rrProxy{backends: backends, client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true}}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *rrProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for range p.backends {
		backend := p.backends[p.next.Add(1)%uint64(len(p.backends))]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+backend+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		res, err := p.client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		maps.Copy(w.Header(), res.Header)
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
		res.Body.Close()
		return
	}
	http.Error(w, "no replica is up", http.StatusServiceUnavailable)
}

// TestReplicasKilled runs three replicas of the built binary on one
// PostgreSQL schema behind a round-robin proxy. A real Alertmanager HA
// pair (clustered, peer timeout 0, so both send every notification: the
// duplicates land on different replicas) storms them with growing alert
// groups while one replica is killed with SIGKILL every few seconds
// (every other kill the lease holder) and restarted. A team's policy
// pages on every incident at 0 s and 3 s. Then: every alert of every
// notification answered 200 is stored; one incident per group; one
// Slack channel and one incident message per incident (an incident
// message posted again across a kill of the lease holder is counted,
// not failed: see checkReplicaSlack); every step of every policy fired
// once, and no page reached its receiver twice.
func TestReplicasKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, starts three replicas and two Alertmanagers; takes about a minute")
	}
	db := testPostgres(t)
	bin := incidentbotBinary(t)
	slack := slacktesting.New()
	defer slack.Close()
	announce := slack.AddChannel("incidents", false)
	slack.SetRateLimits(slacktesting.SlackRates(1))
	const hookSecret = "replicas-hook-secret"
	hooks, hookURL := startHook(t, hookSecret)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
people:
  U0BOB: {webhook: %s}
teams:
  - name: checkout
    match: ['namespace="checkout"']
    escalation:
      - {after: 0s, notify: [user:U0BOB]}
      - {after: 3s, notify: [user:U0BOB]}
`, hookURL)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "wh-token-replicas"
	addrs := make([]string, 3)
	envs := make([][]string, 3)
	logs := make([]string, 3)
	for i := range addrs {
		addrs[i] = "127.0.0.1:" + freePort(t)
		envs[i] = []string{"INCIDENTBOT_ADDR=" + addrs[i], "INCIDENTBOT_DB=" + db, "INCIDENTBOT_WEBHOOK_TOKEN=" + token,
			"INCIDENTBOT_LOG_LEVEL=warn", "INCIDENTBOT_CONFIG=" + cfgPath, "INCIDENTBOT_PUBLIC_URL=http://public.invalid",
			"INCIDENTBOT_PAGE_WEBHOOK_SECRET=" + hookSecret,
			"SLACK_BOT_TOKEN=xoxb-replicas", "SLACK_API_URL=" + slack.APIURL(), "INCIDENTBOT_SLACK_CHANNEL=" + announce}
		logs[i] = filepath.Join(dir, fmt.Sprintf("replica-%d.log", i))
	}
	replicas := make([]*proc, 3)
	for i := range replicas {
		replicas[i] = startProc(t, bin, envs[i], logs[i])
	}
	defer func() {
		if t.Failed() {
			for i := range logs {
				t.Logf("replica %d logs:\n%s", i, tail(logs[i]))
			}
		}
	}()
	lb := startRRProxy(t, addrs)
	ams := startAlertmanagerPair(t, lb.URL, token, 0)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 3))
	groups := *replicasGroups
	began := time.Now()
	// Alertmanager resolves an alert not sent again within 5 min; a long
	// drain must not see the storm's alerts resolve behind its back.
	firingUntil := began.Add(2 * time.Hour)
	// Group g (1..groups) grows by an alert every 2 s + (g mod 10)×300 ms
	// for as long as the storm lasts; each alert keeps its start time, so
	// a push repeats the ones Alertmanager has and adds the new.
	alerts := func() []amAlert {
		var out []amAlert
		for g := 1; g <= groups; g++ {
			every := 2*time.Second + time.Duration(g%10)*300*time.Millisecond
			n := 1 + int(min(time.Since(began), *replicasStorm)/every)
			for k := range n {
				out = append(out, amAlert{Labels: map[string]string{"alertname": "ReplicaStorm", "service": fmt.Sprintf("svc-%02d", g),
					"namespace": "checkout", "severity": "critical", "instance": fmt.Sprintf("i-%d", k)},
					StartsAt: began.Add(time.Duration(k) * every).Add(-time.Minute), EndsAt: &firingUntil})
			}
		}
		return out
	}
	var killLog []string         // when each kill came, for a failure's message
	var leaderKilled []time.Time // when the lease holder was killed
	kills, leaderKills := 0, 0
	nextKill := time.Now().Add(time.Duration(1500+rng.IntN(2000)) * time.Millisecond)
	for time.Since(began) < *replicasStorm {
		batch := alerts()
		for _, am := range ams {
			am.push(t, batch...)
		}
		if time.Now().After(nextKill) {
			victim, leader := rng.IntN(3), -1
			for i, p := range replicas {
				if v, err := p.metric("incidentbot_leader"); err == nil && v == 1 {
					leader = i
				}
			}
			if kills%2 == 0 && leader >= 0 {
				victim = leader
			}
			replicas[victim].kill()
			if victim == leader {
				leaderKills++
				leaderKilled = append(leaderKilled, time.Now())
			}
			killLog = append(killLog, fmt.Sprintf("%s replica %d (the lease holder: %v)", time.Now().UTC().Format("15:04:05.000"), victim, victim == leader))
			kills++
			time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
			replicas[victim] = startProc(t, bin, envs[victim], logs[victim])
			nextKill = time.Now().Add(time.Duration(1500+rng.IntN(2000)) * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
	}
	stormed := time.Since(began)

	// Every group reaches the store (Alertmanager sends again what was
	// not answered 200), every firing of every policy happens, and the
	// outbox drains behind Slack's real pace.
	api := replicas[0]
	var list []incidentJSON
	waitFor(t, time.Minute, "an incident for every group", func() bool {
		list = nil
		api.getJSON(t, "/api/v1/incidents?limit=1000&include=alerts", "", &list)
		keys := map[string]bool{}
		for _, inc := range list {
			keys[inc.GroupKey] = true
		}
		return len(keys) == groups
	})
	pagesOf := func(id int64) []pageRecord {
		var out []pageRecord
		api.getJSON(t, fmt.Sprintf("/api/v1/incidents/%d/pages", id), "", &out)
		return out
	}
	waitFor(t, time.Minute, "both steps of every incident's policy", func() bool {
		for _, inc := range list {
			steps := map[int]bool{}
			for _, pg := range pagesOf(inc.ID) {
				steps[pg.Step] = true
			}
			if len(steps) != 2 {
				return false
			}
		}
		return true
	})
	// Slack's pace sets how long the backlog takes: a post a second per
	// channel for every change the storm made.
	var backlog string
	drain := 2*time.Minute + 3*stormed
	for deadline := time.Now().Add(drain); ; time.Sleep(time.Second) {
		depth, err := api.metric("incidentbot_outbox_depth")
		var unsettled []string
		for _, inc := range list {
			for _, pg := range pagesOf(inc.ID) {
				if pg.Status != "sent" && pg.Status != "failed" {
					unsettled = append(unsettled, fmt.Sprintf("INC-%d %+v", inc.ID, pg))
				}
			}
		}
		if err == nil && depth == 0 && len(unsettled) == 0 {
			break
		}
		backlog = fmt.Sprintf("outbox depth %v (%v), pages not settled %q", depth, err, unsettled)
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for the outbox to drain and every page to settle: %s", drain, backlog)
		}
	}

	list = nil
	api.getJSON(t, "/api/v1/incidents?limit=1000&include=alerts", "", &list)
	sentByAM := checkReplicaAlerts(t, list, ams, groups)
	repeated, ok := checkReplicaSlack(t, slack, list, leaderKilled)
	if !ok {
		t.Logf("kills:\n%s", strings.Join(killLog, "\n"))
	}
	pages := map[int64][]pageRecord{}
	for _, inc := range list {
		pages[inc.ID] = pagesOf(inc.ID)
	}
	outcomes := checkReplicaPages(t, pages, hooks, slack)
	t.Logf("seed %d: %d groups stormed for %v by an HA pair (notifications sent: %v), %d kills (%d of the lease holder); incident messages posted twice across a kill: %d; pages: %v",
		seed, groups, stormed.Round(time.Second), sentByAM, kills, leaderKills, repeated, outcomes)
	for i, p := range replicas {
		if err := p.stop(t); err != nil {
			t.Errorf("replica %d: shutdown after the test: %v", i, err)
		}
	}
}

// pageRecord is a page as GET /api/v1/incidents/{id}/pages shows it.
type pageRecord struct {
	ID                        uint64
	Team, Target, Via, Status string
	Error                     string
	Step, Round               int
}

// checkReplicaAlerts: one incident per group, and every alert of every
// notification either Alertmanager got a 200 for is on its group's
// incident. It returns how many notifications each one sent.
func checkReplicaAlerts(t *testing.T, list []incidentJSON, ams [2]*amProc, groups int) [2]string {
	t.Helper()
	byKey := map[string][]incidentJSON{}
	for _, inc := range list {
		byKey[inc.GroupKey] = append(byKey[inc.GroupKey], inc)
	}
	if len(list) != groups || len(byKey) != groups {
		t.Errorf("%d incidents for %d group keys, want %d of each (one incident per group)", len(list), len(byKey), groups)
	}
	var sent [2]string
	for i, am := range ams {
		payloads, statuses := am.delivered()
		ok := 0
		for j, body := range payloads {
			if statuses[j] != 200 {
				continue
			}
			ok++
			var n struct {
				GroupKey string `json:"groupKey"`
				Alerts   []struct {
					Fingerprint string `json:"fingerprint"`
				} `json:"alerts"`
			}
			if err := json.Unmarshal(body, &n); err != nil {
				t.Fatal(err)
			}
			incs := byKey[n.GroupKey]
			if len(incs) != 1 {
				t.Errorf("a notification answered 200 for %s: %d incidents hold the group", n.GroupKey, len(incs))
				continue
			}
			have := map[string]bool{}
			for _, a := range incs[0].Alerts {
				have[a.Fingerprint] = true
			}
			for _, a := range n.Alerts {
				if !have[a.Fingerprint] {
					t.Errorf("INC-%d: alert %s was in a notification answered 200 but is not stored", incs[0].ID, a.Fingerprint)
				}
			}
		}
		sent[i] = fmt.Sprintf("%d (%d answered 200)", len(payloads), ok)
	}
	return sent
}

// checkReplicaSlack: exactly one channel per incident, and exactly one
// incident message, whichever replica held the lease when it was made,
// with one exception it counts and returns: a message posted twice with
// a kill of the lease holder between the two posts. That is the
// lost-answer window of a single process too (TestCrashRecovery): Slack
// posted, the holder died before committing that it had, and the next
// holder posted again; Slack has no idempotency key. A second post with
// no kill of the holder between would mean two holders at once, and
// fails.
func checkReplicaSlack(t *testing.T, slack *slacktesting.Server, list []incidentJSON, leaderKilled []time.Time) (repeated int, ok bool) {
	t.Helper()
	ok = true
	channels := map[string][]slacktesting.Channel{}
	for _, c := range slack.Channels() {
		if id, found := strings.CutPrefix(c.Name, "inc-"); found {
			id, _, _ = strings.Cut(id, "-")
			channels[id] = append(channels[id], c)
		}
	}
	for _, inc := range list {
		got := channels[fmt.Sprint(inc.ID)]
		if len(got) != 1 {
			names := []string{}
			for _, c := range got {
				names = append(names, c.Name)
			}
			t.Errorf("INC-%d: %d channels %v, want exactly one", inc.ID, len(got), names)
			ok = false
			continue
		}
		if n := replicaIncidentMessages(slack.Messages(got[0].ID)); n != 1 {
			var posts []time.Time
			for _, c := range slack.Calls() {
				if c.Method == "chat.postMessage" && c.Err == "" && c.Params.Get("channel") == got[0].ID && strings.Contains(c.Params.Get("blocks"), incidentActions) {
					posts = append(posts, c.At)
				}
			}
			if n == 2 && len(posts) == 2 && slices.ContainsFunc(leaderKilled, func(k time.Time) bool { return !k.Before(posts[0]) && !k.After(posts[1]) }) {
				t.Logf("INC-%d: incident message posted at %s and again at %s, across a kill of the lease holder (the lost-answer window)",
					inc.ID, posts[0].UTC().Format("15:04:05.000"), posts[1].UTC().Format("15:04:05.000"))
				repeated++
				continue
			}
			var at []string
			for _, p := range posts {
				at = append(at, p.UTC().Format("15:04:05.000"))
			}
			t.Errorf("INC-%d: %d incident messages in %s, want exactly one; posted at %v", inc.ID, n, got[0].Name, at)
			ok = false
		}
	}
	return repeated, ok
}

// incidentActions is the block ID of the incident message's buttons,
// there whether it offers Acknowledge, Resolve or Reopen.
const incidentActions = `"block_id":"incident_actions"`

// replicaIncidentMessages counts the incident messages among msgs.
func replicaIncidentMessages(msgs []slacktesting.Message) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Blocks, incidentActions) {
			n++
		}
	}
	return n
}

// checkReplicaPages: every incident's policy fired each of its two steps
// once (one page per step and way of reaching U0BOB); no page reached the
// webhook receiver twice, every page recorded sent reached it, and a
// failed page failed only because a kill cut its send. It returns the
// pages counted by outcome.
func checkReplicaPages(t *testing.T, pages map[int64][]pageRecord, hooks *hookSink, slack *slacktesting.Server) map[string]int {
	t.Helper()
	outcomes := map[string]int{}
	sent := map[string]bool{}
	for id, ps := range pages {
		per, steps := map[string]int{}, map[int]bool{}
		for _, pg := range ps {
			steps[pg.Step] = true
			per[fmt.Sprintf("round %d step %d %s via %s", pg.Round, pg.Step, pg.Target, pg.Via)]++
			outcomes[pg.Via+" "+pg.Status]++
			switch {
			case pg.Status == "sent" && pg.Via == "webhook":
				sent[fmt.Sprintf("%d:%d", id, pg.ID)] = true
			case pg.Status == "failed" && !strings.HasPrefix(pg.Error, "outcome unknown"):
				t.Errorf("INC-%d: page %+v failed for another reason than a kill", id, pg)
			}
		}
		if len(steps) != 2 {
			t.Errorf("INC-%d: pages %v, want both steps", id, per)
		}
		for k, n := range per {
			if n != 1 {
				t.Errorf("INC-%d: %s recorded %d times, want once", id, k, n)
			}
		}
	}
	bodies, bad := hooks.got()
	seen := map[string]int{}
	for _, b := range bodies {
		// A storm groups the pages due together for one person into one
		// message, which lists them all.
		for _, pg := range b.Pages {
			seen[fmt.Sprintf("%d:%d", pg.Incident.ID, pg.Page)]++
		}
		if len(b.Pages) == 0 {
			seen[fmt.Sprintf("%d:%d", b.Incident.ID, b.Page)]++
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("page %s reached the webhook receiver %d times", k, n)
		}
	}
	for k := range sent {
		if seen[k] == 0 {
			t.Errorf("page %s is recorded sent but never reached the webhook receiver", k)
		}
	}
	if bad != 0 {
		t.Errorf("%d webhook pages failed the signature check", bad)
	}
	// A Slack DM says which incidents and steps it pages for (one, or
	// several grouped).
	dms := map[string]int{}
	for _, m := range slack.IM("U0BOB") {
		found := dmPage.FindAllStringSubmatch(m.Blocks, -1)
		if len(found) == 0 {
			t.Errorf("a DM to U0BOB names no incident and step: %s", m.Blocks)
		}
		for _, f := range found {
			dms["INC-"+f[1]+" step "+f[2]]++
		}
	}
	for k, n := range dms {
		if n > 1 {
			t.Errorf("U0BOB got %d DMs for %s, want at most one a step", n, k)
		}
	}
	return outcomes
}
