package web_test

import (
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
