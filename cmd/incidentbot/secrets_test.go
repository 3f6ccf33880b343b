package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot/slack/slacktesting"
)

// TestNoSecretsInLogsOrResponses runs the service with every secret set,
// sends it requests with wrong and right credentials, has Slack fail in
// the ways it does, and checks that no secret, and no credential anyone
// sent, shows up in a log line or in an answer. It also checks the logs
// are JSON, with a request ID on request lines and the incident on lines
// about one.
func TestNoSecretsInLogsOrResponses(t *testing.T) {
	const (
		webhookToken = "wh-SECRET-6f1c2a"
		apiToken     = "api-SECRET-93b7d0"
		botToken     = "xoxb-SECRET-51e8aa"
		signing      = "signing-SECRET-c04d19"
	)
	// Credentials a caller got wrong are as private as right ones: they
	// are often a near miss or another system's secret.
	guesses := []string{"guess-SECRET-1", "guess-SECRET-2", "guess-SECRET-3", "guess-SECRET-4"}

	slack := slacktesting.New()
	defer slack.Close()
	slack.Fail("conversations.create", 1, slacktesting.RateLimited(time.Second))
	slack.Fail("conversations.invite", 1, slacktesting.APIError("invalid_auth"))
	slack.Fail("chat.postMessage", 1, slacktesting.ServerError())
	b := startBot(t, map[string]string{
		"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_LOG_LEVEL": "debug",
		"INCIDENTBOT_WEBHOOK_TOKEN": webhookToken, "INCIDENTBOT_API_TOKEN": apiToken,
		"SLACK_BOT_TOKEN": botToken, "SLACK_SIGNING_SECRET": signing, "SLACK_API_URL": slack.APIURL(),
		"INCIDENTBOT_SLACK_RESPONDERS": "U0CAPTAIN",
	})
	var x exchanges
	firing := readWebhookTestdata(t, "firing.json")
	webhook := func(auth func(*http.Request)) *http.Request {
		req, _ := http.NewRequest("POST", b.URL+"/webhooks/alertmanager", strings.NewReader(string(firing)))
		req.Header.Set("Content-Type", "application/json")
		auth(req)
		return req
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth("alertmanager", pass) }
	}
	x.expect(t, webhook(func(*http.Request) {}), 401)
	x.expect(t, webhook(bearer(guesses[0])), 401)
	x.expect(t, webhook(basic(guesses[1])), 401)
	x.expect(t, webhook(bearer(webhookToken)), 200)
	x.expect(t, webhook(basic(webhookToken)), 200)

	api := func(path, tok string) *http.Request {
		req, _ := http.NewRequest("GET", b.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return req
	}
	x.expect(t, api("/api/v1/incidents", ""), 401)
	x.expect(t, api("/api/v1/incidents", guesses[2]), 401)
	x.expect(t, api("/api/v1/incidents", apiToken), 200)

	// The channel comes after Slack's failures are waited out.
	var channel string
	waitFor(t, 30*time.Second, "the incident's channel", func() bool {
		var inc struct {
			Channel string `json:"slack_channel_id"`
		}
		b.getJSON(t, "/api/v1/incidents/1", apiToken, &inc)
		channel = inc.Channel
		return channel != ""
	})

	command := func(text, secret string, age time.Duration) *http.Request {
		form := url.Values{"command": {"/incident"}, "text": {text}, "user_id": {"U0ALICE"}, "user_name": {"alice"},
			"channel_id": {channel}, "team_id": {"T0"}, "response_url": {"http://127.0.0.1:1/unused"}}
		return signedSlack(b.URL+"/slack/commands", form.Encode(), secret, age)
	}
	x.expect(t, command("ack", guesses[3], 0), 401)
	x.expect(t, command("ack", signing, 10*time.Minute), 401)
	x.expect(t, command("ack", signing, 0), 200)
	x.expect(t, command("note the token is not here", signing, 0), 200)
	x.expect(t, signedSlack(b.URL+"/slack/events", `{"type":"url_verification","challenge":"abc"}`, signing, 0), 200)
	x.expect(t, api("/api/v1/incidents/1/postmortem", apiToken), 200)
	x.expect(t, api("/metrics", ""), 200)
	x.expect(t, api("/readyz", ""), 200)
	waitFor(t, 10*time.Second, "the incident message posted", func() bool { return len(slack.OK("chat.postMessage")) > 0 })
	b.stop(t)

	logs := b.logs.String()
	secrets := append([]string{webhookToken, apiToken, botToken, signing}, guesses...)
	secrets = append(secrets, x.credentials()...)
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs show %q", s)
		}
		if i := x.find(s); i >= 0 {
			t.Errorf("answer %d shows %q:\n%s", i, s, x.answer(i))
		}
	}
	checkLogShape(t, logs)
}

// checkLogShape checks every log line is a JSON object, that request lines
// carry their request ID, and that the service's lines about an incident
// name it and, when a request caused them, carry its request ID too.
func checkLogShape(t *testing.T, logs string) {
	t.Helper()
	seen := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		msg, _ := l["msg"].(string)
		seen[msg] = true
		switch msg {
		case "http request", "unauthorized request", "slack request refused":
			if l["request_id"] == nil {
				t.Errorf("%q without request_id: %s", msg, line)
			}
		case "incident opened", "incident changed":
			if l["incident"] != float64(1) || l["request_id"] == nil {
				t.Errorf("%q without incident 1 and a request_id: %s", msg, line)
			}
		case "delivery worker: channel recorded", "delivery worker: rate limited", "delivery worker: will retry":
			if l["incident"] != float64(1) {
				t.Errorf("%q without incident 1: %s", msg, line)
			}
		}
	}
	for _, msg := range []string{"incident opened", "incident changed", "delivery worker: channel recorded",
		"delivery worker: rate limited", "unauthorized request", "slack request refused"} {
		if !seen[msg] {
			t.Errorf("no %q line in the logs:\n%s", msg, logs)
		}
	}
}

// signedSlack is a POST signed as Slack signs it, with secret, age ago.
func signedSlack(rawURL, body, secret string, age time.Duration) *http.Request {
	ts := strconv.FormatInt(time.Now().Add(-age).Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req, _ := http.NewRequest("POST", rawURL, strings.NewReader(body))
	ct := "application/x-www-form-urlencoded"
	if strings.HasPrefix(body, "{") {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

// exchanges keeps the requests a test sent and every answer, headers and
// body, to search them for what must not be there.
type exchanges struct {
	mu      sync.Mutex
	sent    []*http.Request
	answers []string
}

// expect sends req and fails the test unless it is answered with status.
func (x *exchanges) expect(t *testing.T, req *http.Request, status int) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var a strings.Builder
	fmt.Fprintf(&a, "%s %s -> %d\n", req.Method, req.URL.Path, res.StatusCode)
	_ = res.Header.Write(&a)
	a.Write(body)
	x.mu.Lock()
	x.sent = append(x.sent, req)
	x.answers = append(x.answers, a.String())
	x.mu.Unlock()
	if res.StatusCode != status {
		t.Errorf("%s %s: got %d %s, want %d", req.Method, req.URL.Path, res.StatusCode, body, status)
	}
}

// credentials are the Authorization headers (basic auth is only base64)
// and Slack signatures sent.
func (x *exchanges) credentials() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []string
	for _, r := range x.sent {
		if _, v, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
			out = append(out, v)
		}
		if s := r.Header.Get("X-Slack-Signature"); s != "" {
			out = append(out, strings.TrimPrefix(s, "v0="))
		}
	}
	return out
}

// find returns the index of the first answer containing s, or -1.
func (x *exchanges) find(s string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, a := range x.answers {
		if strings.Contains(a, s) {
			return i
		}
	}
	return -1
}

func (x *exchanges) answer(i int) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.answers[i]
}
