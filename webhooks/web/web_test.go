package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks"
)

// Every page answers with the security headers, whatever its status.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	id := e.webhook("firing.json")
	for _, path := range []string{"/incidents", fmt.Sprintf("/incidents/%d", id), "/trends", "/static/style.css",
		"/static/app.js", "/incidents/999", "/incidents/nope"} {
		w := e.get(path, nil)
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP allows inline code: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", path, h)
		}
		if strings.Contains(w.Body.String(), "<script>") {
			t.Errorf("GET %s: inline script in the page", path)
		}
	}
}

func TestPagesOpenWithoutToken(t *testing.T) {
	e := newEnv(t)
	id := e.webhook("firing.json")
	tests := []struct {
		name, path string
		status     int
		want       []string
	}{
		{"root redirects", "/", http.StatusSeeOther, nil},
		{"list", "/incidents", http.StatusOK, []string{"INC-1", "MemoryLeak", "SEV1", "not acknowledged", `href="/incidents/1"`}},
		{"incident", fmt.Sprintf("/incidents/%d", id), http.StatusOK, []string{"INC-1", "payment-gateway", "Postmortem draft", "Download .md", "<table>"}},
		{"incident as INC-n", "/incidents/INC-1", http.StatusOK, []string{"INC-1"}},
		{"missing incident", "/incidents/42", http.StatusNotFound, []string{"incident 42 does not exist"}},
		{"bad number", "/incidents/x1", http.StatusBadRequest, []string{"want a number"}},
		{"trends", "/trends", http.StatusOK, []string{"<svg", "Incidents per week", "MTTA"}},
		{"bad filter", "/incidents?status=maybe", http.StatusBadRequest, []string{"status"}},
		{"bad severity", "/incidents?sev=9", http.StatusBadRequest, []string{"severity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.get(tt.path, nil)
			if w.Code != tt.status {
				t.Fatalf("GET %s: got %d, want %d; body:\n%s", tt.path, w.Code, tt.status, w.Body)
			}
			for _, s := range tt.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("GET %s: body lacks %q", tt.path, s)
				}
			}
			if w.Code != http.StatusSeeOther && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: Cache-Control %q, want no-store", tt.path, w.Header().Get("Cache-Control"))
			}
		})
	}
	if !strings.Contains(e.get("/", nil).Header().Get("Location"), "/incidents") {
		t.Error("/ does not lead to /incidents")
	}
}

func TestPostmortemDownload(t *testing.T) {
	e := newEnv(t)
	id := e.webhook("firing.json")
	w := e.get(fmt.Sprintf("/incidents/%d/postmortem.md", id), nil)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/markdown") {
		t.Fatalf("got %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="postmortem-INC-1.md"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	pm, err := e.svc.Postmortem(t.Context(), id, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	pm.URL = "https://bot.example.com/incidents/1"
	if !strings.Contains(w.Body.String(), "<https://bot.example.com/incidents/1>") || w.Body.String() != pm.Markdown() {
		t.Errorf("download differs from the draft:\n%s\nwant:\n%s", w.Body, pm.Markdown())
	}
}

func TestLoginWithToken(t *testing.T) {
	e := newEnv(t, withToken)
	e.webhook("firing.json")

	// Not signed in: pages lead to the login form, which comes back after.
	w := e.get("/incidents/1?x=1", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next="+url.QueryEscape("/incidents/1?x=1") {
		t.Fatalf("unauthenticated GET: %d %q", w.Code, w.Header().Get("Location"))
	}
	form := e.get("/login?next=/incidents/1", nil)
	if form.Code != http.StatusOK || !strings.Contains(form.Body.String(), `type="password"`) {
		t.Fatalf("login form: %d\n%s", form.Code, form.Body)
	}
	token, cookies := csrf(t, form)
	cc := cookieNamed(cookies, "incidentbot_csrf")
	if cc == nil || !cc.HttpOnly || cc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("csrf cookie %+v", cc)
	}

	// A wrong token, no CSRF token, a forged CSRF token: no session.
	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"wrong token", url.Values{"csrf": {token}, "token": {"guess"}}, http.StatusUnauthorized},
		{"no csrf", url.Values{"token": {testToken}}, http.StatusForbidden},
		{"forged csrf", url.Values{"csrf": {strings.Repeat("0", 64)}, "token": {testToken}}, http.StatusForbidden},
	} {
		w := e.post("/login", tt.form, cookies)
		if w.Code != tt.status || cookieNamed(w.Result().Cookies(), "incidentbot_session") != nil {
			t.Errorf("%s: got %d, want %d and no session", tt.name, w.Code, tt.status)
		}
		if strings.Contains(w.Body.String(), testToken) || strings.Contains(e.logs.String(), testToken) {
			t.Errorf("%s: the token leaked", tt.name)
		}
	}
	// Another site posting the right form is refused too.
	if w := e.post("/login", url.Values{"csrf": {token}, "token": {testToken}}, cookies, "Origin", "https://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("cross-origin login: got %d, want 403", w.Code)
	}

	w = e.post("/login", url.Values{"csrf": {token}, "token": {testToken}, "next": {"/incidents/1"}}, cookies)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/incidents/1" {
		t.Fatalf("login: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	sc := cookieNamed(w.Result().Cookies(), "incidentbot_session")
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || !sc.Secure || sc.MaxAge <= 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Secure (public URL is https)", sc)
	}
	if strings.Contains(sc.Value, testToken) {
		t.Fatal("the session cookie holds the token")
	}
	session := []*http.Cookie{sc, cc}
	e.mustGet("/incidents/1", session)
	e.mustGet("/trends", session)

	// A tampered cookie is no session.
	bad := *sc
	bad.Value = sc.Value[:len(sc.Value)-1] + "0"
	if bad.Value == sc.Value {
		bad.Value = sc.Value[:len(sc.Value)-1] + "1"
	}
	if w := e.get("/incidents", []*http.Cookie{&bad}); w.Code != http.StatusSeeOther {
		t.Errorf("tampered session: got %d, want 303 to login", w.Code)
	}
	// A session from a bot with another token is no session either.
	other := newEnv(t, func(c *webhooks.Config) { c.APIToken = "another-token" })
	if w := other.get("/incidents", session); w.Code != http.StatusSeeOther {
		t.Errorf("session under another token: got %d, want 303", w.Code)
	}
	// The API token works as a bearer, for scripts.
	e.mustGet("/incidents", nil, "Authorization", "Bearer "+testToken)
	if w := e.get("/incidents", nil, "Authorization", "Bearer nope"); w.Code != http.StatusSeeOther {
		t.Errorf("wrong bearer: got %d", w.Code)
	}

	// Sign out: CSRF required, then the cookie is cleared.
	page := e.get("/incidents", session)
	ptoken, _ := csrf(t, page)
	if w := e.post("/logout", url.Values{}, session); w.Code != http.StatusForbidden {
		t.Errorf("logout without csrf: got %d, want 403", w.Code)
	}
	w = e.post("/logout", url.Values{"csrf": {ptoken}}, session)
	if gone := cookieNamed(w.Result().Cookies(), "incidentbot_session"); w.Code != http.StatusSeeOther || gone == nil || gone.MaxAge >= 0 {
		t.Errorf("logout: %d, cookie %+v", w.Code, gone)
	}

	// Sessions end after a day.
	e.clock.Add(25 * time.Hour)
	if w := e.get("/incidents", session); w.Code != http.StatusSeeOther {
		t.Errorf("expired session: got %d, want 303", w.Code)
	}
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	e := newEnv(t, withToken)
	form := e.get("/login", nil)
	token, cookies := csrf(t, form)
	for _, next := range []string{"https://evil.example/", "//evil.example/x", `/\evil.example`, "javascript:alert(1)", "", "/incidents\n"} {
		w := e.post("/login", url.Values{"csrf": {token}, "token": {testToken}, "next": {next}}, cookies)
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/incidents" {
			t.Errorf("next=%q: %d to %q, want /incidents", next, w.Code, loc)
		}
	}
}

func TestAuthProxyHeader(t *testing.T) {
	e := newEnv(t, func(c *webhooks.Config) { c.AuthProxyHeader = "X-Forwarded-User" })
	e.webhook("firing.json")
	body := e.mustGet("/incidents", nil, "X-Forwarded-User", `<b>alice@example.com</b>`)
	if !strings.Contains(body, "&lt;b&gt;alice@example.com&lt;/b&gt;") || strings.Contains(body, "<b>alice") {
		t.Errorf("the proxy's user is not shown escaped:\n%s", body)
	}
	for _, v := range []string{"", "   ", "bob\x00", strings.Repeat("x", 300)} {
		if w := e.get("/incidents", nil, "X-Forwarded-User", v); w.Code != http.StatusUnauthorized {
			t.Errorf("proxy header %q: got %d, want 401", v, w.Code)
		}
	}
	// With a token as well, the login form is the way in without the proxy.
	e2 := newEnv(t, withToken, func(c *webhooks.Config) { c.AuthProxyHeader = "X-Forwarded-User" })
	if w := e2.get("/incidents", nil); w.Code != http.StatusSeeOther {
		t.Errorf("no header, token set: got %d, want 303 to login", w.Code)
	}
	e2.mustGet("/incidents", nil, "X-Forwarded-User", "alice")
}

func TestCSRFRefusals(t *testing.T) {
	e := newEnv(t, withToken)
	form := e.get("/login", nil)
	token, cookies := csrf(t, form)
	w := e.post("/login", url.Values{"csrf": {token}, "token": {testToken}}, cookies)
	session := append(w.Result().Cookies(), cookieNamed(cookies, "incidentbot_csrf"))
	page := e.get("/incidents", session)
	ptoken, _ := csrf(t, page)
	csrfCookie := cookieNamed(session, "incidentbot_csrf")
	sessionOnly := []*http.Cookie{cookieNamed(session, "incidentbot_session")}
	tests := []struct {
		name    string
		form    url.Values
		cookies []*http.Cookie
		header  []string
	}{
		{"no token", url.Values{}, session, nil},
		{"token of another browser", url.Values{"csrf": {ptoken}}, append(sessionOnly, &http.Cookie{Name: "incidentbot_csrf", Value: "another-browser-value-123"}), nil},
		{"no csrf cookie", url.Values{"csrf": {ptoken}}, sessionOnly, nil},
		{"cross-site fetch", url.Values{"csrf": {ptoken}}, session, []string{"Sec-Fetch-Site", "cross-site"}},
		{"other origin", url.Values{"csrf": {ptoken}}, session, []string{"Origin", "https://evil.example"}},
	}
	for _, tt := range tests {
		w := e.post("/logout", tt.form, tt.cookies, tt.header...)
		if w.Code != http.StatusForbidden || cookieNamed(w.Result().Cookies(), "incidentbot_session") != nil {
			t.Errorf("%s: got %d, want 403 and the session untouched", tt.name, w.Code)
		}
	}
	_ = csrfCookie
	if w := e.post("/logout", url.Values{"csrf": {ptoken}}, session, "Origin", "http://example.com"); w.Code != http.StatusSeeOther {
		t.Errorf("same origin: got %d, want 303", w.Code)
	}
}

// Hostile alert labels, annotations, titles and notes render as text, and
// only http(s) URLs become links.
func TestHostileInputRendersAsText(t *testing.T) {
	e := newEnv(t)
	body := `{"version":"4","groupKey":"{}:{alertname=\"x\"}","status":"firing","receiver":"r","externalURL":"javascript:alert(1)",
	"groupLabels":{"alertname":"<script>alert(1)</script>"},"commonLabels":{},"commonAnnotations":{},
	"alerts":[{"status":"firing","fingerprint":"abc1",
	"labels":{"alertname":"<script>alert(1)</script>","severity":"critical","team":"\"><img src=x onerror=alert(2)>","md":"[click](javascript:alert(3)) **bold** <b>b</b>"},
	"annotations":{"runbook_url":"javascript:alert(4)","dashboard":"https://grafana.example/d/1?a=1&b=2","summary":"<iframe src=//evil>"},
	"startsAt":"2024-06-20T15:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"javascript:alert(5)"}]}`
	id := e.webhookBody([]byte(body))
	e.apply(id, bot.Action{Op: bot.OpNote, Actor: "U0ALICE", Text: "<script>alert(6)</script> [x](javascript:alert(7)) <img src=x onerror=alert(8)>"})
	e.apply(id, bot.Action{Op: bot.OpImpact, Actor: "U0ALICE", Text: "</textarea><script>alert(9)</script>"})
	for _, path := range []string{"/incidents", fmt.Sprintf("/incidents/%d", id), "/incidents?q=%3Cscript%3E"} {
		page := e.mustGet(path, nil)
		for _, bad := range []string{"<script>alert", "<img src=x", "<iframe", `href="javascript:`, "</textarea><script>", "<b>b</b>"} {
			if strings.Contains(page, bad) {
				t.Errorf("GET %s: the page holds %q unescaped", path, bad)
			}
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s: the hostile alert name is not shown as text", path)
		}
	}
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	if !strings.Contains(page, `href="https://grafana.example/d/1?a=1&amp;b=2"`) {
		t.Error("an https annotation is not a link")
	}
	if strings.Contains(page, "Alertmanager</a>") {
		t.Error("a javascript: externalURL became an Alertmanager link")
	}
	// The draft, rendered from Markdown, drops raw HTML and the javascript: link.
	if !strings.Contains(page, "Postmortem draft") || strings.Contains(page, `<a href="javascript`) {
		t.Error("the rendered draft holds a javascript: link")
	}
}

func TestIncidentPageShowsWhatHappened(t *testing.T) {
	e := newEnv(t, func(c *webhooks.Config) {
		c.Runbooks = runbookSet{{Name: "memory-leak", Title: "MemoryLeak", Steps: []bot.RunbookStep{{N: 1, Text: "Check the dashboard"}, {N: 2, Text: "Roll back"}}}}
	})
	id := e.webhook("firing.json")
	e.clock.Add(10 * time.Minute)
	e.apply(id, bot.Action{Op: bot.OpAck, Actor: "U0ALICE"})
	// The chat adapter posted the checklist; Bob ticks step 1.
	err := e.store.Update(t.Context(), func(tx bot.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		inc.Chat.Runbooks = append(inc.Chat.Runbooks, bot.RunbookMessage{Name: "memory-leak", TS: "1.2", Steps: 2})
		return tx.UpdateIncident(inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.apply(id, bot.Action{Op: bot.OpRunbookStep, Actor: "U0BOB", Runbook: "memory-leak", Step: 1, Text: "Check the dashboard"})
	e.apply(id, bot.Action{Op: bot.OpNote, Actor: "U0BOB", Text: "heap grows in the cache"})
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	pm, err := e.svc.Postmortem(t.Context(), id, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1 of 2 done", "done by U0BOB", "heap grows in the cache", "Roll back",
		pm.Metrics.TimeToAcknowledge.Text, // the draft's TTA, not a number of our own
		`href="http://prometheus:9090/graph?g0.expr=`, "Alertmanager</a>", "instance", "pg-1",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	list := e.mustGet("/incidents", nil)
	if !strings.Contains(list, pm.Metrics.TimeToAcknowledge.Text) || strings.Contains(list, "not acknowledged") {
		t.Errorf("the list does not show the TTA %q:\n%s", pm.Metrics.TimeToAcknowledge.Text, list)
	}
}

type runbookSet []bot.Runbook

func (r runbookSet) Match(alerts []bot.Alert) []bot.Runbook {
	var out []bot.Runbook
	for _, b := range r {
		for _, a := range alerts {
			if a.Name() == b.Title {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

func (r runbookSet) Get(name string) (bot.Runbook, bool) {
	for _, b := range r {
		if b.Name == name {
			return b, true
		}
	}
	return bot.Runbook{}, false
}

func (r runbookSet) All() []bot.Runbook { return r }

func TestIncidentPageListsPages(t *testing.T) {
	e := newEnvWith(t, payments)
	id := e.webhook("firing.json")
	sent := testNow.Add(-time.Minute)
	err := e.store.Update(t.Context(), func(tx bot.Tx) error {
		for _, p := range []*bot.Page{
			{IncidentID: id, Team: "payments", N: 1, Step: 1, Target: "U0ALICE", Via: bot.ViaSlack, At: sent, Status: bot.PageAcknowledged, AckedAt: &testNow},
			{IncidentID: id, Team: "payments", N: 1, Step: 1, Target: "U0ALICE", Via: bot.ViaEmail, Address: "alice@example.com", At: sent,
				Status: bot.PageFailed, Error: "smtp: 550 <script>alert(1)</script>"},
		} {
			if _, err := tx.ClaimPage(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	for _, want := range []string{"Pages sent", "alice@example.com", `class="pg-failed">failed`, `class="pg-acknowledged">acknowledged`,
		"smtp: 550 &lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the pages section lacks %q", want)
		}
	}
}

// The API's draft links to the incident's page when the public URL is set,
// and leaves the line out without one.
func TestDraftLinksToIncidentPage(t *testing.T) {
	for _, pub := range []string{"https://bot.example.com/", ""} {
		e := newEnv(t, func(c *webhooks.Config) { c.PublicURL = pub })
		id := e.webhook("firing.json")
		md := e.mustGet(fmt.Sprintf("/api/v1/incidents/%d/postmortem", id), nil)
		if has := strings.Contains(md, "<https://bot.example.com/incidents/1>"); has != (pub != "") {
			t.Errorf("public URL %q: link in the draft = %v\n%s", pub, has, md)
		}
		page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
		if has := strings.Contains(page, `href="https://bot.example.com/incidents/1"`); has != (pub != "") {
			t.Errorf("public URL %q: link in the rendered draft = %v", pub, has)
		}
	}
}

// fakeGrapher draws a fixed picture, or fails.
type fakeGrapher struct{ err error }

func (f fakeGrapher) Graph(context.Context, bot.Graph) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []byte("\x89PNG\r\n\x1a\nfake"), nil
}

func TestIncidentGraph(t *testing.T) {
	for _, tt := range []struct {
		name    string
		grapher bot.Grapher
		status  int
		img     bool
	}{
		{"drawn", fakeGrapher{}, http.StatusOK, true},
		{"prometheus down", fakeGrapher{err: errors.New("dial tcp: connection refused")}, http.StatusBadGateway, true},
		{"no graphs set up", nil, http.StatusNotFound, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(o *bot.Options) { o.Grapher = tt.grapher }, withToken)
			id := e.webhook("firing.json")
			page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil, "Authorization", "Bearer "+testToken)
			if has := strings.Contains(page, fmt.Sprintf(`<img src="/incidents/%d/graph.png"`, id)); has != tt.img {
				t.Errorf("graph on the page = %v, want %v", has, tt.img)
			}
			w := e.get(fmt.Sprintf("/incidents/%d/graph.png", id), nil, "Authorization", "Bearer "+testToken)
			if w.Code != tt.status || (w.Code == 200) != (w.Header().Get("Content-Type") == "image/png") {
				t.Errorf("graph.png: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			// Not signed in: no picture.
			if w := e.get(fmt.Sprintf("/incidents/%d/graph.png", id), nil); w.Code != http.StatusSeeOther {
				t.Errorf("graph.png without a session: %d", w.Code)
			}
		})
	}
}

// The login form shows no navigation and no Sign out to a stranger.
func TestLoginPageShowsNoNavigation(t *testing.T) {
	e := newEnv(t, withToken)
	page := e.mustGet("/login", nil)
	if strings.Contains(page, "Sign out") || strings.Contains(page, `href="/oncall"`) {
		t.Errorf("the login page shows the signed-in header:\n%s", page)
	}
	in := e.mustGet("/incidents", nil, "Authorization", "Bearer "+testToken)
	if !strings.Contains(in, "Sign out") || !strings.Contains(in, `href="/oncall"`) {
		t.Error("a signed-in page lacks the navigation or Sign out")
	}
}
