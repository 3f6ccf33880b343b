package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

var screenshots = flag.Bool("screenshots", false, "write the web view's screenshots into docs/screenshots")

// chromium finds Debian's chromium. Without it the browser test skips,
// except in CI, where .ci/run installs it and a skip would hide a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI must run the browser test (.ci/run installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// browser starts headless Chromium with an empty profile and no traffic of
// its own (no sync, no updates, no QUIC probes), and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, on a context without deadline.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shot saves a full-page screenshot (or, with viewport, the first screen)
// as docs/screenshots/<name>.png with -screenshots, and into the test's
// temp dir otherwise.
func shot(t *testing.T, ctx context.Context, name string, viewport ...bool) {
	t.Helper()
	capture := chromedp.FullScreenshot(100)
	if len(viewport) > 0 && viewport[0] {
		capture = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(ctx, capture)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := t.TempDir()
	if *screenshots {
		dir = filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestWebViewInBrowser signs in to the web view in a real browser and reads
// incidents that the real Alertmanager opened.
func TestWebViewInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Alertmanager and Chromium")
	}
	ctx := browser(t)
	const token, apiToken = "wh-token-web", "api-token-web"
	// A team with two schedules, paged by email through a real SMTP
	// server, so the incident has pages to show.
	mailbox := startSMTP(t)
	cfg := `
people:
  U0ALICE: {email: alice@example.com}
  U0BOB: {email: bob@example.com}
  U0CAROL: {email: carol@example.com}
  U0FRANK: {email: frank@example.com}
  U0GRACE: {email: grace@example.com}
teams:
  - name: payments
    match: ['service=~"payment-.*"']
    schedules:
      - {name: primary, timezone: Europe/Berlin, start: 2024-01-01T09:00, shift: 168h, members: [U0ALICE, U0BOB, U0CAROL]}
      - {name: secondary, timezone: America/New_York, start: 2024-01-01T09:00, shift: 72h, members: [U0DAN, U0ERIN]}
    escalation:
      - {after: 0s, notify: [schedule:primary]}
      - {after: 30m, notify: [schedule:secondary]}
  - name: checkout
    match: ['service="checkout"']
    schedules:
      - {name: primary, timezone: UTC, start: 2024-01-01T08:00, shift: 24h, members: [U0FRANK, U0GRACE]}
    escalation:
      - {after: 0s, notify: [schedule:primary]}
`
	cfgPath := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"INCIDENTBOT_DB": filepath.Join(t.TempDir(), "incidentbot.db"), "INCIDENTBOT_WEBHOOK_TOKEN": token,
		"INCIDENTBOT_API_TOKEN": apiToken, "INCIDENTBOT_LOG_FORMAT": "text", "INCIDENTBOT_CONFIG": cfgPath,
		"INCIDENTBOT_SMTP_URL": "smtp://" + mailbox.addr, "INCIDENTBOT_SMTP_FROM": "incidentbot@example.com"}
	bot := startBot(t, env)
	am := startAlertmanager(t, bot.URL, token)

	now := time.Now().UTC().Truncate(time.Minute)
	leak := func(instance string) amAlert {
		a := memoryLeak(instance)
		a.StartsAt = now.Add(-42 * time.Minute)
		return a
	}
	checkout := amAlert{Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "warning"},
		Annotations: map[string]string{"summary": "5xx ratio above 2% on checkout"}, StartsAt: now.Add(-3 * time.Hour),
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29"}
	am.push(t, leak("pg-1"), leak("pg-2"), checkout)
	var list []incidentJSON
	waitFor(t, 20*time.Second, "two incidents", func() bool {
		bot.getJSON(t, "/api/v1/incidents?include=alerts", apiToken, &list)
		return len(list) == 2 && len(byTitle(list, "MemoryLeak on payment-gateway").Alerts) == 2
	})
	end := now.Add(-2 * time.Hour)
	checkout.EndsAt = &end
	am.push(t, checkout)
	waitFor(t, 20*time.Second, "the checkout incident to resolve", func() bool {
		bot.getJSON(t, "/api/v1/incidents?status=resolved", apiToken, &list)
		return len(list) == 1
	})
	leakID := 1
	if list[0].ID == 1 {
		leakID = 2
	}

	// Signing in: the pages lead to the login form and back.
	do(t, ctx, "open the incidents", chromedp.Navigate(bot.URL+"/incidents"))
	// The on-call person was paged by email: the incident page lists it.
	waitFor(t, 20*time.Second, "the page by email", func() bool { return len(mailbox.messages()) >= 1 })
	if loc := eval(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/login?next=") {
		t.Fatalf("not signed in, /incidents went to %s, want the login form", loc)
	}
	shot(t, ctx, "login")
	do(t, ctx, "sign in", chromedp.SendKeys("#token", apiToken), chromedp.Click(`form.login button[type="submit"]`),
		chromedp.WaitVisible("table.incidents"))
	if loc := eval(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/incidents") {
		t.Errorf("after signing in the browser is at %s, want /incidents", loc)
	}
	main := eval(t, ctx, "read the list", chromedp.Text("main"))
	for _, want := range []string{"MemoryLeak on payment-gateway", "HighErrorRate on checkout", "SEV1", "not acknowledged", "resolved"} {
		if !strings.Contains(main, want) {
			t.Errorf("the incidents page lacks %q:\n%s", want, main)
		}
	}
	shot(t, ctx, "incidents")

	// One incident: alerts with links, the timeline, the rendered draft.
	do(t, ctx, "open the leak", chromedp.Click(fmt.Sprintf(`a[href="/incidents/%d"]`, leakID)), chromedp.WaitVisible("#tl-h"))
	main = eval(t, ctx, "read the incident", chromedp.Text("main"))
	for _, want := range []string{fmt.Sprintf("INC-%d", leakID), "pg-1", "pg-2", "Prometheus expression", "Alertmanager", "Pages sent", "@example.com", "email",
		"Postmortem Report", "Issue Summary", "alert_fired"} {
		if !strings.Contains(main, want) {
			t.Errorf("the incident page lacks %q", want)
		}
	}
	// The script is an external file the CSP allows: it showed the copy
	// button, which stays hidden without it.
	if !eval(t, ctx, "copy button", chromedp.Evaluate[bool](`!document.querySelector("button.copy").hidden`)) {
		t.Error("the Copy button is hidden: app.js did not run under the Content-Security-Policy")
	}
	// The stylesheet applied (a strict CSP would block an inline one).
	if bg := eval(t, ctx, "style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).display`)); bg != "flex" {
		t.Errorf("header display %q: style.css did not apply", bg)
	}
	shot(t, ctx, "incident")

	// Strike the pg-2 alert's entry out: struck on the page, gone from the
	// draft's timeline, kept with its history in the API.
	draftHas := func() bool {
		return eval(t, ctx, "draft", chromedp.Evaluate[bool](`document.querySelector(".draft .rendered").textContent.includes("memory grows 40 MB/min on pg-2")`))
	}
	if !draftHas() {
		t.Fatal("the draft does not list the pg-2 alert before the strike")
	}
	li := eval(t, ctx, "find the entry", chromedp.Evaluate[string](
		`[...document.querySelectorAll("li.entry.k-alert_fired")].find(li => li.textContent.includes("on pg-2")).id`))
	do(t, ctx, "strike it", chromedp.Click("#"+li+` form.strike button`), chromedp.WaitVisible("#"+li+".struck"))
	if draftHas() {
		t.Error("the struck entry is still in the rendered draft")
	}
	if struck := eval(t, ctx, "struck text", chromedp.Evaluate[string]("document.querySelector('#"+li+" s').textContent")); !strings.Contains(struck, "on pg-2") {
		t.Errorf("struck text %q", struck)
	}
	var tl []struct {
		ID      uint64 `json:"id"`
		Struck  bool   `json:"struck"`
		History []struct {
			By string `json:"by"`
		} `json:"history"`
	}
	bot.getJSON(t, fmt.Sprintf("/api/v1/incidents/%d/timeline", leakID), apiToken, &tl)
	struck := 0
	for _, e := range tl {
		if e.Struck {
			struck++
			if fmt.Sprintf("e-%d", e.ID) != li || len(e.History) != 1 || e.History[0].By != "web" {
				t.Errorf("struck entry %+v, want %s with its earlier version, by web", e, li)
			}
		}
	}
	if struck != 1 {
		t.Errorf("%d entries struck, want 1", struck)
	}
	do(t, ctx, "scroll to the timeline", chromedp.ScrollIntoView("#tl-h"))
	shot(t, ctx, "incident-struck", true)

	do(t, ctx, "open on call", chromedp.Click(`nav a[href="/oncall"]`), chromedp.WaitVisible("table.calendar"))
	main = eval(t, ctx, "read on call", chromedp.Text("main"))
	for _, want := range []string{"payments", "checkout", "primary", "secondary", "The next two weeks", "Calendar feed"} {
		if !strings.Contains(main, want) {
			t.Errorf("the on-call page lacks %q", want)
		}
	}
	if n := eval(t, ctx, "calendar rows", chromedp.Evaluate[int](`document.querySelector("table.calendar tbody").rows.length`)); n != 14 {
		t.Errorf("the calendar has %d days, want 14", n)
	}
	// The calendar link works on its own, as a calendar app would use it.
	feed := eval(t, ctx, "feed link", chromedp.Evaluate[string](`document.querySelector("a[href*='.ics']").href`))
	if res, err := http.Get(feed); err != nil {
		t.Errorf("GET %s: %v", feed, err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), "BEGIN:VCALENDAR") {
			t.Errorf("the calendar feed %s answered %d %.200s", feed, res.StatusCode, body)
		}
	}
	shot(t, ctx, "oncall")

	do(t, ctx, "open trends", chromedp.Click(`nav a[href="/trends"]`), chromedp.WaitVisible("svg.chart"))
	if n := eval(t, ctx, "bars", chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect.bar").length`)); n < 8 {
		t.Errorf("trends draws %d bars", n)
	}
	shot(t, ctx, "trends")

	// A phone at 3 a.m.: dark mode, narrow screen, the same incident.
	do(t, ctx, "dark phone",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", bot.URL, leakID)), chromedp.WaitVisible("#tl-h"))
	if bg := eval(t, ctx, "dark background", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); bg != "rgb(13, 17, 23)" {
		t.Errorf("dark mode background %q, want rgb(13, 17, 23)", bg)
	}
	shot(t, ctx, "incident-dark-phone", true)
}

// Without a token or an auth proxy, the web view is open, and the start-up
// log says so; with either, it does not.
func TestWebViewOpenWarning(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		warn bool
	}{
		{"open", map[string]string{}, true},
		{"token", map[string]string{"INCIDENTBOT_API_TOKEN": "api-token-warn"}, false},
		{"proxy", map[string]string{"INCIDENTBOT_AUTH_PROXY_HEADER": "X-Forwarded-User"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["INCIDENTBOT_DB"] = filepath.Join(t.TempDir(), "incidentbot.db")
			b := startBot(t, tt.env)
			warned := strings.Contains(b.logs.String(), "the web view (/incidents) is open to anyone")
			if warned != tt.warn {
				t.Errorf("warned = %v, want %v; logs:\n%s", warned, tt.warn, b.logs.String())
			}
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := noFollow.Get(b.URL + "/incidents")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if open := res.StatusCode == http.StatusOK; open != tt.warn {
				t.Errorf("GET /incidents without credentials: %d, want open = %v", res.StatusCode, tt.warn)
			}
		})
	}
}
