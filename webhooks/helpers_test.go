package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// Secrets of the tests. They must never show up in a response or a log.
const (
	testSecret  = "8f742231b10e8888abcd99yyyzzz85a5"
	testToken   = "wh-0123456789-webhook-token"
	testAPIKey  = "api-9876543210-api-token"
	testChannel = "C0INCIDENT1"
	testUser    = "U0ALICE"
)

// testNow is the clock of every test: half an hour after the latest time in
// testdata, so that the payloads (captures, later) are all in the past.
var testNow = sync.OnceValue(func() time.Time {
	latest := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	for _, f := range []string{"firing.json", "resolved.json", "storm.json"} {
		var p amPayload
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil || json.Unmarshal(b, &p) != nil {
			panic("testdata/" + f + " does not decode")
		}
		for _, a := range p.Alerts {
			for _, s := range []string{a.StartsAt, a.EndsAt} {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.After(latest) {
					latest = t
				}
			}
		}
	}
	return latest.Add(30 * time.Minute).Truncate(time.Second)
})

// flakyStore is a real store that fails on demand, the way a broken disk
// does: every call wraps bot.ErrUnavailable.
type flakyStore struct {
	bot.Store
	fail atomic.Bool
}

func (f *flakyStore) Update(ctx context.Context, fn func(tx bot.Tx) error) error {
	if f.fail.Load() {
		return fmt.Errorf("%w: disk on fire", bot.ErrUnavailable)
	}
	return f.Store.Update(ctx, fn)
}

func (f *flakyStore) View(ctx context.Context, fn func(tx bot.Tx) error) error {
	if f.fail.Load() {
		return fmt.Errorf("%w: disk on fire", bot.ErrUnavailable)
	}
	return f.Store.View(ctx, fn)
}

// fakeRunbooks matches a runbook to alerts by alert name.
type fakeRunbooks []bot.Runbook

func (f fakeRunbooks) Match(alerts []bot.Alert) []bot.Runbook {
	var out []bot.Runbook
	for _, r := range f {
		for _, a := range alerts {
			if strings.EqualFold(a.Name(), r.Title) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func (f fakeRunbooks) Get(name string) (bot.Runbook, bool) {
	for _, r := range f {
		if r.Name == name {
			return r, true
		}
	}
	return bot.Runbook{}, false
}

func (f fakeRunbooks) All() []bot.Runbook { return f }

var testRunbooks = fakeRunbooks{
	{Name: "memory-leak", Title: "MemoryLeak", Steps: []bot.RunbookStep{{N: 1, Text: "Check the dashboard"}, {N: 2, Text: "Roll back"}}},
	{Name: "disk-full", Title: "DiskFull", Steps: []bot.RunbookStep{{N: 1, Text: "Free space"}}},
}

// env is one server over a fresh bbolt file.
type env struct {
	t     testing.TB
	srv   *Server
	svc   *bot.Service
	store *flakyStore
	logs  *lockedBuffer
	now   time.Time
}

func newEnv(t testing.TB, edit ...func(*Config)) *env {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "incidentbot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := testNow()
	clock := func() time.Time { return now }
	flaky := &flakyStore{Store: st}
	svc := bot.NewService(flaky, bot.Options{Now: clock, Chat: true})
	logs := &lockedBuffer{}
	cfg := Config{
		Service: svc, SigningSecret: testSecret, Runbooks: testRunbooks, Now: clock,
		PublicURL: "https://bot.example.com",
		Log:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, e := range edit {
		e(&cfg)
	}
	srv := New(cfg)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, store: flaky, logs: logs, now: now}
}

// lockedBuffer is a log sink safe for the reply workers.
type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

// serve sends one request through the real router.
func (e *env) serve(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w
}

func (e *env) get(path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.serve(req)
}

// webhook posts an Alertmanager body as Alertmanager does.
func (e *env) webhook(body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.31.1")
	return e.serve(req)
}

func (e *env) webhookOK(body []byte) bot.IngestResult {
	e.t.Helper()
	w := e.webhook(body)
	if w.Code != http.StatusOK {
		e.t.Fatalf("webhook: got %d %s, want 200", w.Code, w.Body)
	}
	var res bot.IngestResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		e.t.Fatalf("webhook answer %q: %v", w.Body, err)
	}
	return res
}

func readTestdata(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// slackRequest signs body with the test secret at ts, as Slack does.
// slackRequest signs a request as Slack does, at ts on the tests' clock
// (testNow): slack-go's verifier compares the signature's timestamp with
// the wall clock, so ts is moved by the same amount from the real now.
func slackRequest(path, contentType, body string, ts time.Time) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	stamp := strconv.FormatInt(wallStamp(ts), 10)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sign(testSecret, stamp, body))
	return req
}

// wallStamp is ts moved from the tests' clock to the wall clock, in unix
// seconds.
func wallStamp(ts time.Time) int64 { return time.Now().Add(ts.Sub(testNow())).Unix() }

func sign(secret, stamp, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":" + body))
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func commandForm(user, channel, text string) string {
	return url.Values{
		"command": {"/incident"}, "text": {text}, "user_id": {user}, "user_name": {"alice"},
		"channel_id": {channel}, "channel_name": {"inc-1-memory-leak"}, "team_id": {"T0TEAM"},
		"response_url": {"https://hooks.slack.com/commands/T0TEAM/1/abc"}, "trigger_id": {"1.2.3"},
		"api_app_id": {"A0APP"},
	}.Encode()
}

// command runs `/incident <text>` in channel through the router.
func (e *env) command(channel, text string) Reply {
	e.t.Helper()
	w := e.serve(slackRequest("/slack/commands", "application/x-www-form-urlencoded", commandForm(testUser, channel, text), e.now))
	if w.Code != http.StatusOK {
		e.t.Fatalf("/incident %s: got %d %s, want 200", text, w.Code, w.Body)
	}
	var r Reply
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		e.t.Fatalf("/incident %s: reply %q: %v", text, w.Body, err)
	}
	return r
}

// openIncident opens an incident from testdata/firing.json and gives it a
// Slack channel, as the chat adapter would.
func (e *env) openIncident() *bot.Incident {
	e.t.Helper()
	res := e.webhookOK(readTestdata(e.t, "firing.json"))
	return e.giveChannel(res.Incident, testChannel)
}

func (e *env) giveChannel(id int64, channel string) *bot.Incident {
	e.t.Helper()
	var inc *bot.Incident
	err := e.store.Update(context.Background(), func(tx bot.Tx) error {
		var err error
		if inc, err = tx.Incident(id); err != nil {
			return err
		}
		return tx.PutChatRecord(id, botslack.Adapter, bot.ChatRecord{Room: channel, RoomName: fmt.Sprintf("inc-%d-memory-leak", id)})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

func (e *env) incidents() []*bot.Incident {
	e.t.Helper()
	list, err := e.svc.Incidents(context.Background(), bot.IncidentFilter{WithAlerts: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

func (e *env) incident(id int64) *bot.Incident {
	e.t.Helper()
	inc, err := e.svc.Incident(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

func (e *env) timeline(id int64) []bot.TimelineEntry {
	e.t.Helper()
	tl, err := e.svc.Timeline(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tl
}

func (e *env) pending() []bot.Delivery {
	e.t.Helper()
	var ds []bot.Delivery
	err := e.store.View(context.Background(), func(tx bot.Tx) (err error) {
		ds, err = tx.Pending(1000)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// noSecrets fails when a secret shows in a response or the log.
func (e *env) noSecrets(where string, text string) {
	e.t.Helper()
	for _, s := range []string{testSecret, testToken, testAPIKey} {
		if strings.Contains(text, s) {
			e.t.Errorf("%s contains a secret: %q", where, text)
		}
		if strings.Contains(e.logs.String(), s) {
			e.t.Errorf("the log contains a secret")
		}
	}
}
