package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/internal/loadgen"
)

// The escalation crash load: oncallCrashIncidents incidents, each paging
// two people at 0s, 2s, 4s and 6s, repeated once (8 firings over 14s).
const (
	oncallCrashIncidents = 50
	oncallCrashFirings   = 8
)

// TestEscalationCrash kills the service with SIGKILL at random moments
// while 50 incidents escalate on a fast schedule, restarting it each time.
// Then: every firing of every policy happened (its pages are recorded),
// and nobody got a page twice, counted from what the fakes received
// (webhook bodies and emails, by page ID). A page whose send was cut by a
// kill is recorded as failed ("outcome unknown") and not resent; the test
// counts those. Slack is off: its real limit of a DM a second per person
// would stretch 200 DMs to one person over minutes (the engine waits
// rate limits out; TestEngineWaitsOutRateLimits), and escalation must not
// need Slack anyway.
func TestEscalationCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary; takes about a minute")
	}
	bin := incidentbotBinary(t)
	mailbox := startSMTP(t)
	const hookSecret = "crash-hook-secret"
	hooks, hookURL := startHook(t, hookSecret)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
people:
  U0ALICE: {email: alice@example.com, webhook: %s}
  U0BOB: {webhook: %s}
teams:
  - name: checkout
    match: ['namespace="checkout"']
    schedules:
      - {name: primary, start: 2024-01-01T00:00, shift: 24h, members: [U0ALICE]}
    escalation:
      - {after: 0s, notify: [schedule:primary]}
      - {after: 2s, notify: [user:U0BOB]}
      - {after: 4s, notify: [schedule:primary]}
      - {after: 6s, notify: [user:U0BOB]}
    repeat: 1
`, hookURL, hookURL)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	db, logPath := filepath.Join(dir, "incidentbot.db"), filepath.Join(dir, "incidentbot.log")
	const token = "wh-token-oncall-crash"
	env := []string{"INCIDENTBOT_ADDR=127.0.0.1:" + freePort(t), "INCIDENTBOT_DB=" + db, "INCIDENTBOT_WEBHOOK_TOKEN=" + token,
		"INCIDENTBOT_LOG_LEVEL=warn", "INCIDENTBOT_CONFIG=" + cfgPath, "INCIDENTBOT_PUBLIC_URL=http://public.invalid",
		"INCIDENTBOT_SMTP_URL=smtp://" + mailbox.addr, "INCIDENTBOT_SMTP_FROM=incidentbot@example.com",
		"INCIDENTBOT_PAGE_WEBHOOK_SECRET=" + hookSecret}
	p := startProc(t, bin, env, logPath)
	defer func() {
		if t.Failed() {
			t.Logf("service logs:\n%s", tail(logPath))
		}
	}()

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	// The incidents open over the first 3 s; each notification is sent
	// until it is answered 200 (kills come meanwhile).
	opened := make(chan struct{})
	base := p.URL // the same address after every restart; p itself is replaced
	go func() {
		defer close(opened)
		client := &http.Client{Timeout: 2 * time.Second}
		for g := 1; g <= oncallCrashIncidents; g++ {
			body := loadgen.AppendBody(nil, &loadgen.Group{ID: g, Alerts: []loadgen.Alert{{N: 0, Firing: true, StartsAt: time.Now().Add(-time.Minute)}}})
			for {
				req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/alertmanager", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err == nil {
					res.Body.Close()
					if res.StatusCode == 200 {
						break
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(60 * time.Millisecond)
		}
	}()
	kills := 12
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < kills && time.Now().Before(deadline); i++ {
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		p.kill()
		p = startProc(t, bin, env, logPath)
	}
	<-opened

	// Wait for every policy to finish: 8 firings of 50 incidents.
	type pageJSON struct {
		Target, Via, Status, Error string
		Step, Round                int
	}
	pagesOf := func(id int) []pageJSON {
		var out []pageJSON
		res, err := http.Get(fmt.Sprintf("%s/api/v1/incidents/%d/pages", p.URL, id))
		if err != nil {
			return nil
		}
		defer res.Body.Close()
		_ = json.NewDecoder(res.Body).Decode(&out)
		return out
	}
	firings := func(ps []pageJSON) map[string]bool {
		out := map[string]bool{}
		for _, pg := range ps {
			out[fmt.Sprintf("%d/%d", pg.Round, pg.Step)] = true
		}
		return out
	}
	waitFor(t, 90*time.Second, "every firing of every policy", func() bool {
		for id := 1; id <= oncallCrashIncidents; id++ {
			if len(firings(pagesOf(id))) != oncallCrashFirings {
				return false
			}
		}
		return true
	})
	var unsettled []string
	waitFor(t, 60*time.Second, "every page to be sent or given up", func() bool {
		unsettled = nil
		for id := 1; id <= oncallCrashIncidents; id++ {
			for _, pg := range pagesOf(id) {
				if pg.Status != "sent" && pg.Status != "failed" {
					unsettled = append(unsettled, fmt.Sprintf("INC-%d %+v", id, pg))
				}
			}
		}
		return len(unsettled) == 0
	})
	if len(unsettled) > 0 {
		t.Logf("unsettled pages: %q", unsettled)
	}
	statuses := map[string]int{}
	total, sentHooks := 0, 0
	for id := 1; id <= oncallCrashIncidents; id++ {
		for _, pg := range pagesOf(id) {
			total++
			if pg.Via == "webhook" && pg.Status == "sent" {
				sentHooks++
			}
			key := pg.Status
			if pg.Status == "failed" {
				key += ": " + pg.Error
				if !strings.HasPrefix(pg.Error, "outcome unknown") {
					t.Errorf("INC-%d: page %+v failed for another reason than a kill", id, pg)
				}
			}
			statuses[key]++
		}
	}
	// Per firing: U0ALICE by email and webhook, or U0BOB by webhook.
	if want := oncallCrashIncidents * (oncallCrashFirings / 2) * 3; total != want {
		t.Errorf("%d pages recorded, want %d", total, want)
	}

	// What the fakes received: each page at most once. Pages to one
	// person that fall due together go in one message: a webhook body
	// lists every page it carries; an email is counted by its Message-ID
	// (its first page's).
	seen := map[string]int{}
	bodies, bad := hooks.got()
	hookPages, messages := 0, map[string]int{}
	for _, b := range bodies {
		messages["webhook"]++
		for _, pg := range b.Pages {
			seen[fmt.Sprintf("webhook %d:%d", pg.Incident.ID, pg.Page)]++
			hookPages++
		}
	}
	for _, m := range mailbox.messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.data))
		if err != nil {
			t.Fatal(err)
		}
		seen["email "+msg.Header.Get("Message-ID")]++
		messages["email"]++
	}
	twice := 0
	for k, n := range seen {
		if n > 1 {
			twice++
			t.Errorf("%s received %d times", k, n)
		}
	}
	t.Logf("seed %d: %d kills; %d pages recorded: %v; %d webhook pages in %d bodies, %d emails; %d delivered twice; %d badly signed webhooks",
		seed, kills, total, statuses, hookPages, messages["webhook"], messages["email"], twice, bad)
	if bad != 0 {
		t.Errorf("%d webhook pages failed the signature check", bad)
	}
	if hookPages < sentHooks {
		t.Errorf("%d webhook pages recorded sent but only %d reached the gateway", sentHooks, hookPages)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("shutdown after the test: %v", err)
	}
}
