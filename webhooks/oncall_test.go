package webhooks

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// recordingPager keeps what the engine sends.
type recordingPager struct {
	via  string
	mu   sync.Mutex
	sent []bot.PageMessage
}

func (p *recordingPager) Via() string { return p.via }

func (p *recordingPager) Send(_ context.Context, m bot.PageMessage) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, m)
	return nil
}

func (p *recordingPager) messages() []bot.PageMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bot.PageMessage(nil), p.sent...)
}

func testTeams() *bot.OnCall {
	start := time.Date(2024, 6, 17, 9, 0, 0, 0, time.UTC) // a Monday
	return &bot.OnCall{
		People: map[string]bot.Contact{"U0ALICE": {Email: "alice@example.com"}},
		Teams: []bot.Team{{
			Name:  "payments",
			Match: func(l map[string]string) bool { return l["service"] == "payment-gateway" },
			Schedules: []bot.Rotation{{Name: "primary", Zone: time.UTC, Start: start, Shift: 168 * time.Hour, Members: []string{"U0ALICE", "U0BOB"}},
				{Name: "secondary", Zone: time.UTC, Start: start, Shift: 24 * time.Hour, Members: []string{"U0CAROL"}}},
			Escalation: bot.Escalation{Steps: []bot.EscalationStep{{Notify: []bot.Target{{Kind: bot.TargetSchedule, Ref: "primary"}}},
				{After: time.Hour, Notify: []bot.Target{{Kind: bot.TargetSchedule, Ref: "secondary"}}}}},
		}, {Name: "search", Schedules: []bot.Rotation{{Name: "day", Zone: time.UTC, Start: start, Shift: 24 * time.Hour, Members: []string{"U0DAN"}}}}},
	}
}

type oncallEnv struct {
	*env
	email *recordingPager
}

// newOnCallEnv is newEnv with teams, and a running timer engine paging
// by a recording "email" pager.
func newOnCallEnv(t *testing.T, apiToken string, chat ...bool) *oncallEnv {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "incidentbot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := testNow()
	clock := func() time.Time { return now }
	flaky := &flakyStore{Store: st}
	var eng *bot.Engine
	svc := bot.NewService(flaky, bot.Options{Now: clock, OnCall: testTeams(), Chat: len(chat) > 0 && chat[0], OnTimers: func() {
		if eng != nil {
			eng.Wake()
		}
	}})
	email := &recordingPager{via: bot.ViaEmail}
	eng = bot.NewEngine(svc, bot.EngineOptions{Now: clock, Pagers: []bot.Pager{email}, PublicURL: "https://bot.example.com", Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	logs := &lockedBuffer{}
	srv := New(Config{Service: svc, SigningSecret: testSecret, APIToken: apiToken, Now: clock, PublicURL: "https://bot.example.com",
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(srv.Close)
	return &oncallEnv{env: &env{t: t, srv: srv, svc: svc, store: flaky, logs: logs, now: now}, email: email}
}

func (e *oncallEnv) waitPages(n int) []bot.PageMessage {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := e.email.messages(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("%d pages sent, want %d", len(e.email.messages()), n)
	return nil
}

func (e *env) slashCommand(command, channel, text string) Reply {
	e.t.Helper()
	form := url.Values{"command": {command}, "text": {text}, "user_id": {testUser}, "user_name": {"alice"},
		"channel_id": {channel}, "team_id": {"T0TEAM"}, "response_url": {"https://hooks.slack.com/commands/T0TEAM/1/abc"}}.Encode()
	w := e.serve(slackRequest("/slack/commands", "application/x-www-form-urlencoded", form, e.now))
	var r Reply
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &r) != nil {
		e.t.Fatalf("%s %s: %d %s", command, text, w.Code, w.Body)
	}
	return r
}

func TestOnCallCommand(t *testing.T) {
	e := newOnCallEnv(t, testAPIKey)
	// 2024-06-20 17:00 UTC: week 0 of primary (U0ALICE), since Monday 09:00.
	r := e.slashCommand("/oncall", "C0ANY", "")
	for _, want := range []string{"*payments*", "• primary: <@U0ALICE> since Mon Jun 17 09:00 UTC, until Mon Jun 24 09:00 UTC; next <@U0BOB>",
		"• secondary: <@U0CAROL>\n", "*search*", "• day: <@U0DAN>"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("/oncall lacks %q:\n%s", want, r.Text)
		}
	}
	r = e.slashCommand("/oncall", "C0ANY", "payments")
	if strings.Contains(r.Text, "search") || !strings.Contains(r.Text, "https://bot.example.com/api/v1/oncall/payments.ics?token=") {
		t.Errorf("/oncall payments:\n%s", r.Text)
	}
	e.noSecrets("/oncall payments", r.Text)
	r = e.slashCommand("/oncall", "C0ANY", "override <@U0DAN|dan> payments for 2h")
	if r.ResponseType != InChannel || r.Text != "<@U0ALICE> made <@U0DAN> on call for payments/primary until Thu Jun 20 19:00 UTC" {
		t.Errorf("override reply = %+v", r)
	}
	r = e.slashCommand("/oncall", "C0ANY", "payments")
	if !strings.Contains(r.Text, "• primary: <@U0DAN> since Thu Jun 20 17:00 UTC, until Thu Jun 20 19:00 UTC (override); next <@U0ALICE>") {
		t.Errorf("after the override:\n%s", r.Text)
	}
	for _, tc := range []struct{ text, want string }{
		{"nope", `no team named "nope"`},
		{"override <@U0DAN> for 2h", "name the team"},
		{"override <@U0DAN> payments/tertiary for 2h", `no schedule named "tertiary"`},
		{"override dan for 2h", "is not a person"},
	} {
		if r := e.slashCommand("/oncall", "C0ANY", tc.text); r.ResponseType != Ephemeral || !strings.Contains(r.Text, tc.want) {
			t.Errorf("/oncall %s = %+v, want an ephemeral naming %q", tc.text, r, tc.want)
		}
	}

	// The API says the same.
	w := e.get("/api/v1/oncall", "Authorization", "Bearer "+testAPIKey)
	var teams []bot.TeamNow
	if err := json.Unmarshal(w.Body.Bytes(), &teams); w.Code != 200 || err != nil || len(teams) != 2 || teams[0].Schedules[0].OnCall != "U0DAN" {
		t.Errorf("GET /api/v1/oncall: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(w.Body.String(), `"on_call":"U0DAN","since":"2024-06-20T17:00:00Z","until":"2024-06-20T19:00:00Z","next":"U0ALICE"`) {
		t.Errorf("JSON shape: %s", w.Body)
	}
	if w := e.get("/api/v1/oncall"); w.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/oncall without a token: %d", w.Code)
	}
}

func TestCalendarFeedAuth(t *testing.T) {
	e := newOnCallEnv(t, testAPIKey)
	r := e.slashCommand("/oncall", "C0ANY", "payments")
	feed := r.Text[strings.Index(r.Text, "https://bot.example.com")+len("https://bot.example.com"):]
	feed = strings.Fields(feed)[0]
	w := e.get(feed)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/calendar") || !strings.Contains(w.Body.String(), "SUMMARY:U0ALICE on call (payments/primary)") {
		t.Fatalf("GET %s: %d %s %.300s", feed, w.Code, w.Header(), w.Body)
	}
	for _, tc := range []struct {
		name, path string
		header     []string
		want       int
	}{
		{"bearer API token", "/api/v1/oncall/payments.ics", []string{"Authorization", "Bearer " + testAPIKey}, 200},
		{"no credential", "/api/v1/oncall/payments.ics", nil, 401},
		{"API token in the query", "/api/v1/oncall/payments.ics?token=" + testAPIKey, nil, 401},
		{"another team's feed token", strings.Replace(feed, "payments", "search", 1), nil, 401},
		{"unknown team", "/api/v1/oncall/nope.ics", []string{"Authorization", "Bearer " + testAPIKey}, 404},
		{"not .ics", "/api/v1/oncall/payments.txt", []string{"Authorization", "Bearer " + testAPIKey}, 404},
	} {
		if w := e.get(tc.path, tc.header...); w.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
	}
	e.noSecrets("calendar", "")
}

func TestPageCommandAckLinkAndPages(t *testing.T) {
	e := newOnCallEnv(t, "")
	// The alerts match payments: its policy starts and pages U0ALICE.
	inc := e.openIncident()
	pages := e.waitPages(1)
	if pages[0].Page.Target != "U0ALICE" || pages[0].Page.Team != "payments" {
		t.Fatalf("first page = %+v", pages[0].Page)
	}
	ack := pages[0].AckURL
	path := strings.TrimPrefix(ack, "https://bot.example.com")
	if !strings.HasPrefix(path, "/page/ack/") {
		t.Fatalf("ack URL %q", ack)
	}
	// GET only shows a confirm button: a mail scanner acknowledges nothing.
	w := e.get(path)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<form method="post"><button type="submit">Acknowledge as U0ALICE</button>`) ||
		w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("GET ack link: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if e.incident(inc.ID).AcknowledgedAt != nil {
		t.Fatal("GET acknowledged the incident")
	}
	if w := e.get("/page/ack/not-a-token"); w.Code != 404 || !strings.Contains(w.Body.String(), "unknown or has expired") {
		t.Errorf("GET unknown token: %d %s", w.Code, w.Body)
	}
	post := func(p string) *httptest.ResponseRecorder {
		return e.serve(httptest.NewRequest(http.MethodPost, p, nil))
	}
	if w := post(path); w.Code != 200 || !strings.Contains(w.Body.String(), "INC-1 acknowledged") {
		t.Fatalf("POST ack link: %d %s", w.Code, w.Body)
	}
	if got := e.incident(inc.ID); got.AcknowledgedBy != "U0ALICE" {
		t.Errorf("acknowledged by %q, want the person paged", got.AcknowledgedBy)
	}
	if w := post(path); w.Code != http.StatusConflict {
		t.Errorf("POST twice: %d %s", w.Code, w.Body)
	}
	// The token acknowledges as U0ALICE for a day: like any credential,
	// it never reaches a log line (request logs are shipped and kept).
	if token := strings.TrimPrefix(path, "/page/ack/"); strings.Contains(e.logs.String(), token) {
		t.Errorf("the log holds the ack token:\n%s", e.logs.String())
	}

	// /incident page by hand: a person, then a team.
	if r := e.command(testChannel, "page <@U0ERIN|erin> the DB is on fire"); r.ResponseType != InChannel || r.Text != "<@U0ALICE> is paging <@U0ERIN> for INC-1" {
		t.Errorf("/incident page @erin = %+v", r)
	}
	if r := e.command(testChannel, "page nope"); r.ResponseType != Ephemeral || !strings.Contains(r.Text, `no team named "nope"`) {
		t.Errorf("/incident page nope = %+v", r)
	}
	if r := e.command(testChannel, "page"); !strings.Contains(r.Text, "Usage: `/incident page <team|@user> [message]`") {
		t.Errorf("/incident page = %+v", r)
	}
	// U0ERIN has no email: only the timeline shows the step. Pages via
	// the API: the email page, acknowledged.
	w = e.get("/api/v1/incidents/1/pages")
	var got []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil || len(got) != 1 {
		t.Fatalf("GET pages: %d %s", w.Code, w.Body)
	}
	for k, want := range map[string]any{"team": "payments", "step": 1.0, "target": "U0ALICE", "via": "email", "status": "acknowledged"} {
		if got[0][k] != want {
			t.Errorf("page %s = %v, want %v", k, got[0][k], want)
		}
	}
	if w := e.get("/api/v1/incidents/99/pages"); w.Code != 404 {
		t.Errorf("pages of a missing incident: %d", w.Code)
	}
	var texts []string
	for _, en := range e.timeline(inc.ID) {
		if en.Kind == bot.KindEscalation || en.Kind == bot.KindPaged {
			texts = append(texts, en.Text)
		}
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"escalation of team payments started: its alerts match the team",
		"escalation of team payments, step 1: paging <@U0ALICE> (on call for primary)", "paged <@U0ALICE> by email (team payments, step 1)",
		"escalation of team payments stopped: answered by <@U0ALICE>", "escalation of <@U0ERIN> started by <@U0ALICE>: the DB is on fire"} {
		if !strings.Contains(joined, want) {
			t.Errorf("timeline lacks %q:\n%s", want, joined)
		}
	}
}

func TestPageAckButton(t *testing.T) {
	e := newOnCallEnv(t, "")
	inc := e.openIncident()
	p := e.waitPages(1)[0].Page
	form := interactionForm("block_actions", bot.ActionPageAck, bot.PageValue(inc.ID, p.ID), "http://127.0.0.1:1/r")
	w := e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now))
	if w.Code != 200 {
		t.Fatalf("interaction: %d %s", w.Code, w.Body)
	}
	// interactionForm clicks as U0BOB: the DM is only seen by the person paged.
	if got := e.incident(inc.ID); got.AcknowledgedBy != "U0BOB" {
		t.Errorf("acknowledged by %q\n%s", got.AcknowledgedBy, e.logs.String())
	}
}

func TestPageCommandWithChat(t *testing.T) {
	e := newOnCallEnv(t, "", true)
	inc := e.openIncident()
	// The bot posts the escalation's start into the channel: the typist
	// alone gets the confirmation.
	if r := e.command(testChannel, "page <@U0ERIN|erin> look"); r.ResponseType != Ephemeral || !strings.Contains(r.Text, "is paging <@U0ERIN> for INC-1") {
		t.Errorf("/incident page @erin = %+v", r)
	}
	// A team without steps cannot be paged, and says so.
	if r := e.command(testChannel, "page search"); r.ResponseType != Ephemeral || !strings.Contains(r.Text, "team search has no escalation steps") {
		t.Errorf("/incident page search = %+v", r)
	}
	var posted bool
	for _, d := range e.pending() {
		if d.IncidentID == inc.ID && d.Kind == bot.DeliveryPost && strings.Contains(d.Text, "escalation of <@U0ERIN> started by") {
			posted = true
		}
	}
	if !posted {
		t.Errorf("no channel post announces the page: %+v", e.pending())
	}
}

// Under access.act: members, an override may be made only by a member of
// one of the team's schedules, the person put on call, or an admin; a
// refusal is ephemeral and stores nothing. Under anyone, anyone may.
func TestOverrideAccess(t *testing.T) {
	e := newOnCallEnv(t, testAPIKey)
	e.srv.cfg.Access = Access{Act: ActMembers, Admins: []string{"U0ADMIN"}}
	override := func(user, text string) Reply {
		t.Helper()
		form := url.Values{"command": {"/oncall"}, "text": {text}, "user_id": {user}, "user_name": {"x"}, "channel_id": {"C0ANY"},
			"team_id": {"T0TEAM"}, "response_url": {"https://hooks.slack.com/commands/T0TEAM/1/abc"}}.Encode()
		w := e.serve(slackRequest("/slack/commands", "application/x-www-form-urlencoded", form, e.now))
		var r Reply
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &r) != nil {
			t.Fatalf("/oncall %s: %d %s", text, w.Code, w.Body)
		}
		return r
	}
	onCall := func() string {
		t.Helper()
		teams, err := e.svc.WhoIsOnCall(context.Background(), "payments")
		if err != nil {
			t.Fatal(err)
		}
		return teams[0].Schedules[0].OnCall
	}
	// U0DAN is in search's schedule, not payments': he may not put
	// U0MALLORY on call for payments, nor himself (the team's pages would
	// go to an outsider), nor may U0MALLORY.
	for _, tc := range [][2]string{{"U0DAN", "override <@U0MALLORY> payments for 2h"}, {"U0DAN", "override <@U0DAN> payments for 2h"}, {"U0MALLORY", "override <@U0BOB> payments for 2h"}, {"U0MALLORY", "override <@U0MALLORY> payments for 2h"}} {
		if r := override(tc[0], tc[1]); r.ResponseType != Ephemeral || !strings.Contains(r.Text, "only members of payments's schedules") || onCall() != "U0ALICE" {
			t.Errorf("%s: /oncall %s = %+v; on call %s, want a refusal and U0ALICE still on call", tc[0], tc[1], r, onCall())
		}
	}
	for _, tc := range []struct{ user, text, want string }{
		{"U0ALICE", "override <@U0DAN> payments for 2h", "U0DAN"},         // a member, for a colleague
		{"U0CAROL", "override <@U0BOB> payments for 2h", "U0BOB"},         // a member of secondary
		{"U0ADMIN", "override <@U0MALLORY> payments for 2h", "U0MALLORY"}, // an admin
	} {
		if r := override(tc.user, tc.text); r.ResponseType != InChannel || onCall() != tc.want {
			t.Errorf("%s: /oncall %s = %+v; on call %s, want %s", tc.user, tc.text, r, onCall(), tc.want)
		}
	}
	e.srv.cfg.Access = Access{Act: ActAnyone}
	if r := override("U0NOBODY", "override <@U0EVE> payments for 2h"); r.ResponseType != InChannel || onCall() != "U0EVE" {
		t.Errorf("under anyone: %+v; on call %s", r, onCall())
	}
}
