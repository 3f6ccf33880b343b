package main

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/incidentbot/incidentbot/bot/pager/webhook"
	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

// smtpSink is a real SMTP server in the test process that keeps every
// message it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs []sunkMail
	addr string
}

type sunkMail struct {
	to   string
	data []byte
}

type sinkSession struct {
	s  *smtpSink
	to string
}

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = to
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err // cut before the final dot (a kill): not accepted, not delivered
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sunkMail{ss.to, b})
	ss.s.mu.Unlock()
	return nil
}
func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }

func startSMTP(t *testing.T) *smtpSink {
	t.Helper()
	s := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *smtpSink) messages() []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMail(nil), s.msgs...)
}

// textPart returns the decoded text/plain part of a message.
func textPart(t *testing.T, data []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p)
			return string(b)
		}
	}
}

// hookSink is an httptest server that accepts webhook pages only with a
// valid signature.
type hookSink struct {
	mu     sync.Mutex
	bodies []webhook.Body
	bad    int
}

func startHook(t *testing.T, secret string) (*hookSink, string) {
	h := &hookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !hmac.Equal([]byte(r.Header.Get(webhook.SignatureHeader)), []byte(webhook.Sign([]byte(secret), body))) {
			h.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var b webhook.Body
		if err := json.Unmarshal(body, &b); err != nil {
			h.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.bodies = append(h.bodies, b)
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *hookSink) got() ([]webhook.Body, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Body(nil), h.bodies...), h.bad
}

// TestOnCallEndToEnd: the real Alertmanager fires MemoryLeak for the
// payment gateway; the on-call person gets a Slack DM, an email and a
// signed webhook; nobody answers, so the secondary is paged at the second
// step; the ack link in the email stops the policy before its third step;
// the pages are in the API, on the timeline and in the draft.
func TestOnCallEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager")
	}
	slack := slacktesting.New()
	defer slack.Close()
	teamChannel := slack.AddChannel("payments", false)
	handOffs := slack.AddChannel("payments-oncall", false)
	mailbox := startSMTP(t)
	const hookSecret = "e2e-page-webhook-secret"
	hooks, hookURL := startHook(t, hookSecret)
	public := "http://public.invalid" // the ack link's base; the test calls the service itself
	cfg := fmt.Sprintf(`
people:
  U0ALICE: {email: alice@example.com, webhook: %s}
teams:
  - name: payments
    match: ['service="payment-gateway"']
    slack_usergroup: S0PAYONCALL
    slack_channel: %s
    schedules:
      - {name: primary, timezone: Europe/Berlin, start: 2024-01-01T09:00, shift: 168h, members: [U0ALICE]}
      - {name: secondary, timezone: America/New_York, start: 2024-01-01T09:00, shift: 24h, members: [U0BOB]}
    escalation:
      - {after: 0s, notify: [schedule:primary]}
      - {after: 4s, notify: [schedule:secondary]}
      - {after: 14s, notify: ['channel:%s']}
`, hookURL, handOffs, teamChannel)
	cfgPath := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "wh-token-oncall"
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token,
		"INCIDENTBOT_LOG_FORMAT": "text", "INCIDENTBOT_CONFIG": cfgPath, "INCIDENTBOT_PUBLIC_URL": public,
		"SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": signingSecret, "SLACK_API_URL": slack.APIURL(),
		"INCIDENTBOT_SMTP_URL": "smtp://" + mailbox.addr, "INCIDENTBOT_SMTP_FROM": "incidentbot@example.com",
		"INCIDENTBOT_PAGE_WEBHOOK_SECRET": hookSecret,
	})
	// At start, the team's user group is set to who is on call, and the
	// team channel hears it.
	waitFor(t, 10*time.Second, "the hand-off at start", func() bool { return len(slack.Messages(handOffs)) == 1 })
	if got := slack.UserGroup("S0PAYONCALL"); strings.Join(got, ",") != "U0ALICE,U0BOB" {
		t.Errorf("user group S0PAYONCALL = %v, want U0ALICE,U0BOB", got)
	}
	if note := slack.Messages(handOffs)[0].Text; note != "Hand-off for payments: primary <@U0ALICE>, secondary <@U0BOB>; no open incidents." {
		t.Errorf("hand-off note = %q", note)
	}
	am := startAlertmanager(t, b.URL, token)
	am.push(t, memoryLeak("pg-1"))

	waitFor(t, 30*time.Second, "U0ALICE's DM, email and webhook", func() bool {
		bodies, _ := hooks.got()
		return len(slack.IM("U0ALICE")) == 1 && len(mailbox.messages()) == 1 && len(bodies) == 1
	})
	paged := time.Now()
	if dm := slack.IM("U0ALICE")[0]; !strings.Contains(dm.Blocks, `"action_id":"page_ack"`) || !strings.Contains(dm.Blocks, "team *payments*, step 1") {
		t.Errorf("DM = %s", dm.Blocks)
	}
	bodies, bad := hooks.got()
	if bad != 0 || bodies[0].Target != "U0ALICE" || bodies[0].Team != "payments" || bodies[0].Step != 1 ||
		bodies[0].Incident.Severity != "SEV1" || !strings.HasPrefix(bodies[0].AckURL, public+"/page/ack/") {
		t.Errorf("webhook pages %+v, %d badly signed", bodies, bad)
	}
	m := mailbox.messages()[0]
	text := textPart(t, m.data)
	ack := regexp.MustCompile(`Acknowledge: ` + regexp.QuoteMeta(public) + `(/page/ack/[A-Za-z0-9_-]{43})`).FindStringSubmatch(text)
	if m.to != "alice@example.com" || ack == nil {
		t.Fatalf("email to %s without an ack link:\n%s", m.to, text)
	}

	// Nobody answers: the secondary is paged at the second step.
	waitFor(t, 20*time.Second, "U0BOB's DM at step 2", func() bool { return len(slack.IM("U0BOB")) == 1 })
	if took := time.Since(paged); took < 3*time.Second {
		t.Errorf("step 2 came %s after step 1, want about 4s", took)
	}
	// U0ALICE opens the link (GET changes nothing), then confirms.
	res, err := http.Get(b.URL + ack[1])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var inc map[string]any
	b.getJSON(t, "/api/v1/incidents/1", "", &inc)
	if res.StatusCode != 200 || !strings.Contains(string(page), "Acknowledge as U0ALICE") || inc["acknowledged_at"] != nil {
		t.Fatalf("GET ack link: %d, acknowledged_at %v\n%s", res.StatusCode, inc["acknowledged_at"], page)
	}
	res, err = http.Post(b.URL+ack[1], "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	b.getJSON(t, "/api/v1/incidents/1", "", &inc)
	if res.StatusCode != 200 || inc["acknowledged_by"] != "U0ALICE" {
		t.Fatalf("POST ack link: %d, acknowledged_by %v", res.StatusCode, inc["acknowledged_by"])
	}
	// The third step (14s) never comes.
	time.Sleep(time.Until(paged.Add(16 * time.Second)))
	if posts := slack.Messages(teamChannel); len(posts) != 0 {
		t.Errorf("the team channel was paged after the ack: %+v", posts)
	}
	if n := len(slack.IM("U0ALICE")) + len(slack.IM("U0BOB")); n != 2 {
		t.Errorf("%d DMs in all, want 2 (nobody paged twice)", n)
	}

	// The people paged were invited into the incident's channel.
	waitFor(t, 10*time.Second, "U0ALICE and U0BOB in the incident channel", func() bool {
		var full map[string]any
		b.getJSON(t, "/api/v1/incidents/1", "", &full)
		id, _ := full["slack_channel_id"].(string)
		ch, ok := slack.Channel(id)
		return ok && containsStr(ch.Members, "U0ALICE") && containsStr(ch.Members, "U0BOB")
	})

	var pages []map[string]any
	b.getJSON(t, "/api/v1/incidents/1/pages", "", &pages)
	var got []string
	for _, p := range pages {
		got = append(got, fmt.Sprintf("%v/%v/%v/%v", p["target"], p["via"], p["step"], p["status"]))
	}
	want := "U0ALICE/slack/1/sent U0ALICE/email/1/acknowledged U0ALICE/webhook/1/sent U0BOB/slack/2/sent"
	if strings.Join(got, " ") != want {
		t.Errorf("pages = %s, want %s", strings.Join(got, " "), want)
	}
	res, err = http.Get(b.URL + "/api/v1/incidents/1/postmortem")
	if err != nil {
		t.Fatal(err)
	}
	draft, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// The draft names people without chat mentions (by ID here: the fake
	// Slack knows no names for them).
	for _, want := range []string{"paged U0ALICE by email (team payments, step 1)", "paged U0BOB by slack (team payments, step 2)",
		"escalation of team payments stopped: answered by U0ALICE"} {
		if !strings.Contains(string(draft), want) {
			t.Errorf("the draft lacks %q:\n%s", want, draft)
		}
	}
	if t.Failed() {
		t.Logf("bot logs:\n%s", b.logs.String())
	}
}
