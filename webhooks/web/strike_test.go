package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks"
)

// signIn logs in through the form and returns the session's cookies.
func signIn(t *testing.T, e *env) []*http.Cookie {
	t.Helper()
	form := e.get("/login", nil)
	token, cookies := csrf(t, form)
	w := e.post("/login", url.Values{"csrf": {token}, "token": {testToken}}, cookies)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", w.Code)
	}
	return append(w.Result().Cookies(), cookieNamed(cookies, "incidentbot_csrf"))
}

func entryWith(t *testing.T, e *env, id int64, text string) bot.TimelineEntry {
	t.Helper()
	tl, err := e.svc.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range tl {
		if strings.Contains(en.Text, text) {
			return en
		}
	}
	t.Fatalf("no entry with %q", text)
	return bot.TimelineEntry{}
}

// Striking an entry on the page goes through the same correction as the
// PATCH route: kept with its history, struck on the page, out of the draft.
func TestStrikeTimelineEntry(t *testing.T) {
	e := newEnv(t, withToken)
	id := e.webhook("firing.json")
	e.apply(id, bot.Action{Op: bot.OpNote, Actor: "U0BOB", Text: "restarted the wrong pod"})
	session := signIn(t, e)
	entry := entryWith(t, e, id, "restarted the wrong pod")
	path := fmt.Sprintf("/incidents/%d", id)
	page := e.mustGet(path, session)
	action := fmt.Sprintf(`action="/incidents/%d/timeline/%d/strike"`, id, entry.ID)
	if !strings.Contains(page, action) {
		t.Fatalf("the entry has no strike form")
	}
	token, _ := csrf(t, e.get(path, session))

	// Refused without the CSRF token, and from another site.
	strike := fmt.Sprintf("/incidents/%d/timeline/%d/strike", id, entry.ID)
	if w := e.post(strike, url.Values{"struck": {"true"}}, session); w.Code != http.StatusForbidden {
		t.Errorf("no csrf: %d", w.Code)
	}
	if w := e.post(strike, url.Values{"struck": {"true"}, "csrf": {token}}, session, "Origin", "https://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("cross-origin: %d", w.Code)
	}
	if entryWith(t, e, id, "restarted the wrong pod").Struck {
		t.Fatal("a refused form struck the entry")
	}

	w := e.post(strike, url.Values{"struck": {"true"}, "csrf": {token}}, session)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != fmt.Sprintf("%s#e-%d", path, entry.ID) {
		t.Fatalf("strike: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	got := entryWith(t, e, id, "restarted the wrong pod")
	if !got.Struck || got.EditedAt == nil || len(got.History) != 1 || got.History[0].By != "web" || got.History[0].Struck {
		t.Errorf("struck entry %+v: want struck, edited, the earlier version kept, by web", got)
	}
	page = e.mustGet(path, session)
	if !regexp.MustCompile(`(?s)<li class="entry k-note struck" id="e-\d+">.*?<s>restarted the wrong pod</s>`).MatchString(page) {
		t.Error("the page does not show the entry struck")
	}
	md := e.mustGet(path+"/postmortem.md", session)
	if strings.Contains(md, "restarted the wrong pod") {
		t.Error("the struck entry is still in the draft")
	}
	// Striking twice is a conflict, said so; restoring brings it back.
	if w := e.post(strike, url.Values{"struck": {"true"}, "csrf": {token}}, session); w.Code != http.StatusConflict {
		t.Errorf("strike again: %d", w.Code)
	}
	if w := e.post(strike, url.Values{"struck": {"false"}, "csrf": {token}}, session); w.Code != http.StatusSeeOther {
		t.Errorf("restore: %d", w.Code)
	}
	if md := e.mustGet(path+"/postmortem.md", session); !strings.Contains(md, "restarted the wrong pod") {
		t.Error("the restored entry is not back in the draft")
	}
	for _, tt := range []struct{ path, struck string }{
		{strike, "maybe"}, {fmt.Sprintf("/incidents/%d/timeline/99999/strike", id), "true"}, {fmt.Sprintf("/incidents/%d/timeline/x/strike", id), "true"},
	} {
		if w := e.post(tt.path, url.Values{"struck": {tt.struck}, "csrf": {token}}, session); w.Code/100 != 4 {
			t.Errorf("POST %s struck=%s: %d", tt.path, tt.struck, w.Code)
		}
	}
}

// Behind an auth proxy the correction is recorded as the proxy's user,
// kept to characters that cannot become markup in the chat.
func TestStrikeAsProxyUser(t *testing.T) {
	e := newEnv(t, func(c *webhooks.Config) { c.AuthProxyHeader = "X-Forwarded-User" })
	id := e.webhook("firing.json")
	e.apply(id, bot.Action{Op: bot.OpNote, Actor: "U0BOB", Text: "typo"})
	entry := entryWith(t, e, id, "typo")
	user := "<!channel> alice@example.com"
	w := e.get(fmt.Sprintf("/incidents/%d", id), nil, "X-Forwarded-User", user)
	token, cookies := csrf(t, w)
	w = e.post(fmt.Sprintf("/incidents/%d/timeline/%d/strike", id, entry.ID), url.Values{"struck": {"true"}, "csrf": {token}}, cookies, "X-Forwarded-User", user)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("strike: %d %s", w.Code, w.Body)
	}
	if got := entryWith(t, e, id, "typo"); len(got.History) != 1 || got.History[0].By != "web:channelalice@example.com" {
		t.Errorf("history %+v, want by web:channelalice@example.com", got.History)
	}
	// Another proxy user cannot replay the first one's form.
	w = e.post(fmt.Sprintf("/incidents/%d/timeline/%d/strike", id, entry.ID), url.Values{"struck": {"false"}, "csrf": {token}}, cookies, "X-Forwarded-User", "mallory")
	if w.Code != http.StatusForbidden {
		t.Errorf("another user's CSRF token: %d, want 403", w.Code)
	}
}

// Open pages are for reading: no strike form, and a forged post is refused.
func TestStrikeNeedsSignIn(t *testing.T) {
	e := newEnv(t)
	id := e.webhook("firing.json")
	entry := entryWith(t, e, id, "opened")
	w := e.get(fmt.Sprintf("/incidents/%d", id), nil)
	if strings.Contains(w.Body.String(), "/strike") {
		t.Error("open pages offer a strike form")
	}
	w = e.post(fmt.Sprintf("/incidents/%d/timeline/%d/strike", id, entry.ID), url.Values{"struck": {"true"}}, w.Result().Cookies())
	if w.Code != http.StatusForbidden || entryWith(t, e, id, "opened").Struck {
		t.Errorf("strike on open pages: %d", w.Code)
	}
}

// directory names people as the chat would.
type directory map[string]string

func (d directory) DisplayName(_ context.Context, id string) (string, error) {
	if n, ok := d[id]; ok {
		return n, nil
	}
	return "", bot.ErrNotFound
}

func TestPagesNamePeople(t *testing.T) {
	e := newEnvWith(t, func(o *bot.Options) {
		payments(o)
		o.Directory = directory{"U0ALICE": "Alice Example (@alice)", "U0BOB": "Bob <b>Builder</b>"}
	})
	id := e.webhook("firing.json")
	e.apply(id, bot.Action{Op: bot.OpAck, Actor: "U0ALICE"})
	// An unknown person stays an ID (the note keeps mentions as IDs).
	e.apply(id, bot.Action{Op: bot.OpNote, Actor: "U0ALICE", Text: "handing over to <@U0BOB>, ask <@U0ZED|zed>"})
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	for _, want := range []string{"Alice Example (@alice)", "handing over to @Bob &lt;b&gt;Builder&lt;/b&gt;, ask @U0ZED"} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident page lacks %q", want)
		}
	}
	if strings.Contains(page, "&lt;@U0BOB&gt;") || strings.Contains(page, "<b>Builder") {
		t.Error("a mention or a name is shown raw")
	}
	if oc := e.mustGet("/oncall", nil); !strings.Contains(oc, "Alice Example (@alice)") {
		t.Error("the on-call page does not name who is on call")
	}
}

// slowDirectory answers only when its context ends.
type slowDirectory struct{}

func (slowDirectory) DisplayName(ctx context.Context, id string) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

// A chat that does not answer costs a page its names, not its speed.
func TestPagesDoNotWaitForNames(t *testing.T) {
	e := newEnvWith(t, func(o *bot.Options) { o.Directory = slowDirectory{} })
	id := e.webhook("firing.json")
	e.apply(id, bot.Action{Op: bot.OpAck, Actor: "U0ALICE"})
	start := time.Now()
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the page waited %s for the directory", d)
	}
	if !strings.Contains(page, "U0ALICE") {
		t.Error("an unnamed person is not shown by ID")
	}
}
