package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
	"github.com/incidentbot/incidentbot/webhooks"
)

const testToken = "api-0123456789-web-token"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is the real router (webhooks.New, which mounts the web view) over a
// bbolt file.
type env struct {
	t     testing.TB
	srv   *webhooks.Server
	svc   *bot.Service
	store *bolt.Store
	clock *clock
	logs  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *lockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.Buffer.String() }

// The tests' now: after every time in testdata/firing.json.
var testNow = time.Date(2024, 6, 20, 16, 0, 0, 0, time.UTC)

func newEnv(t testing.TB, edit ...func(*webhooks.Config)) *env {
	return newEnvWith(t, nil, edit...)
}

// newEnvWith is newEnv with the service's options edited too (teams).
func newEnvWith(t testing.TB, opts func(*bot.Options), edit ...func(*webhooks.Config)) *env {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "incidentbot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ck := &clock{t: testNow}
	o := bot.Options{Now: ck.Now}
	if opts != nil {
		opts(&o)
	}
	svc := bot.NewService(st, o)
	logs := &lockedBuffer{}
	cfg := webhooks.Config{Service: svc, Now: ck.Now, PublicURL: "https://bot.example.com",
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, e := range edit {
		e(&cfg)
	}
	srv := webhooks.New(cfg)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, store: st, clock: ck, logs: logs}
}

func withToken(c *webhooks.Config) { c.APIToken = testToken }

func (e *env) do(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w
}

// get fetches path with the given cookies and header pairs.
func (e *env) get(path string, cookies []*http.Cookie, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(req)
}

// post sends a form as a browser on this site would.
func (e *env) post(path string, form url.Values, cookies []*http.Cookie, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(req)
}

// mustGet fetches a page that must answer 200 and returns its body.
func (e *env) mustGet(path string, cookies []*http.Cookie, header ...string) string {
	e.t.Helper()
	w := e.get(path, cookies, header...)
	if w.Code != http.StatusOK {
		e.t.Fatalf("GET %s: got %d, want 200; body:\n%s", path, w.Code, w.Body)
	}
	return w.Body.String()
}

// webhook posts a captured Alertmanager body through the real route.
func (e *env) webhook(name string) int64 {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.webhookBody(b)
}

func (e *env) webhookBody(b []byte) int64 {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	w := e.do(req)
	if w.Code != http.StatusOK {
		e.t.Fatalf("webhook: got %d %s", w.Code, w.Body)
	}
	m := regexp.MustCompile(`"incident":\s*(\d+)`).FindStringSubmatch(w.Body.String())
	if m == nil {
		e.t.Fatalf("webhook answer %s names no incident", w.Body)
	}
	var id int64
	for _, c := range m[1] {
		id = id*10 + int64(c-'0')
	}
	return id
}

func (e *env) apply(id int64, a bot.Action) {
	e.t.Helper()
	if _, err := e.svc.Apply(context.Background(), id, a); err != nil {
		e.t.Fatalf("apply %s: %v", a.Op, err)
	}
}

func (e *env) declare(title string, sev bot.Severity, at time.Time) *bot.Incident {
	e.t.Helper()
	inc, err := e.svc.Declare(context.Background(), title, sev, "U0ALICE", at)
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

// csrf reads the CSRF field and cookie a page gave.
func csrf(t testing.TB, w *httptest.ResponseRecorder) (string, []*http.Cookie) {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no csrf field in:\n%s", w.Body)
	}
	return m[1], w.Result().Cookies()
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}
