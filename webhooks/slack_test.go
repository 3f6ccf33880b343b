package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// signatureCase is one request to /slack/* and what must come of it.
type signatureCase struct {
	name      string
	path      string
	ts        string
	sig       string // "" means a valid signature of ts and body
	body      string // "" means the test's command body
	noSecret  bool
	want      int
	wantError string
}

// signatureCases are the signed (or not) requests of TestSlackSignature,
// around now, for body.
func signatureCases(now time.Time, body string) []signatureCase {
	stamp := func(d time.Duration) string { return strconv.FormatInt(wallStamp(now.Add(d)), 10) }
	return []signatureCase{
		{name: "valid", ts: stamp(0), want: 200},
		{name: "valid, 4m50s old", ts: stamp(-4*time.Minute - 50*time.Second), want: 200},
		{name: "forged", ts: stamp(0), sig: sign("not-the-secret", stamp(0), body), want: 401, wantError: "does not match"},
		{name: "body changed", ts: stamp(0), sig: sign(testSecret, stamp(0), body+"x"), want: 401, wantError: "does not match"},
		{name: "timestamp changed", ts: stamp(time.Second), sig: sign(testSecret, stamp(0), body), want: 401, wantError: "does not match"},
		{name: "stale by 6 min", ts: stamp(-6 * time.Minute), want: 401, wantError: "more than 5 minutes"},
		{name: "future by 6 min", ts: stamp(6 * time.Minute), want: 401, wantError: "more than 5 minutes"},
		{name: "replayed from yesterday", ts: stamp(-24 * time.Hour), want: 401, wantError: "stale or replayed"},
		{name: "missing timestamp", ts: "-", want: 401, wantError: "signature missing"},
		{name: "missing signature", ts: stamp(0), sig: "-", want: 401, wantError: "signature missing"},
		{name: "timestamp not a number", ts: "noon", want: 401, wantError: "not a unix time"},
		{name: "signature without v0", ts: stamp(0), sig: strings.TrimPrefix(sign(testSecret, stamp(0), body), "v0="), want: 401, wantError: "malformed"},
		{name: "signature not hex", ts: stamp(0), sig: "v0=zz", want: 401, wantError: "malformed"},
		{name: "interactions forged", path: "/slack/interactions", ts: stamp(0), sig: "v0=00", want: 401},
		{name: "events forged", path: "/slack/events", ts: stamp(0), sig: "v0=00", want: 401},
		{name: "no signing secret", ts: stamp(0), noSecret: true, want: 503, wantError: "slack signing secret not configured"},
		{name: "body over 1 MiB", ts: stamp(0), body: body + "&x=" + strings.Repeat("a", 1<<20), want: 413},
	}
}

// request builds the case's request, signed at now unless it says otherwise.
func (tt signatureCase) request(now time.Time, body string) *http.Request {
	path := orDefault(tt.path, "/slack/commands")
	b := orDefault(tt.body, body)
	req := slackRequest(path, "application/x-www-form-urlencoded", b, now)
	setHeader(req, "X-Slack-Request-Timestamp", tt.ts, "")
	setHeader(req, "X-Slack-Signature", tt.sig, sign(testSecret, tt.ts, b))
	if tt.ts == "-" {
		req.Header.Del("X-Slack-Request-Timestamp")
	}
	if tt.sig == "-" {
		req.Header.Del("X-Slack-Signature")
	}
	return req
}

func TestSlackSignature(t *testing.T) {
	now := testNow()
	body := commandForm(testUser, "C0GENERAL", "declare Checkout is down sev2")
	tests := signatureCases(now, body)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				if tt.noSecret {
					c.SigningSecret = ""
				}
			})
			req := tt.request(now, body)
			w := e.serve(req)
			if w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantError) {
				t.Errorf("%s ts=%s sig=%.20s\ngot  %d %s\nwant %d %s", req.URL.Path, tt.ts, tt.sig, w.Code, w.Body, tt.want, tt.wantError)
			}
			if changed := len(e.incidents()) > 0; changed != (tt.want == 200) {
				t.Errorf("incident declared = %v, want %v", changed, tt.want == 200)
			}
			e.noSecrets("answer", w.Body.String())
		})
	}
}

// commandStep is one `/incident` command and what must come of it.
type commandStep struct {
	name     string
	channel  string // "" means the incident's channel
	text     string
	wantType string
	want     []string
	check    func(inc *bot.Incident) bool
}

// commandSteps go through every subcommand, in order, on incident inc.
func commandSteps(inc *bot.Incident, now time.Time) []commandStep {
	before := inc.DetectedAt.Add(-time.Hour).Format(time.RFC3339)
	future := now.Add(time.Hour).Format(time.RFC3339)
	earlier := inc.DetectedAt.Add(2 * time.Minute).Format("15:04")
	return []commandStep{
		{name: "help", text: "help", wantType: Ephemeral, want: []string{"/incident declare", "/incident reopen", "/incident runbook [name]"}},
		{name: "empty is help", text: "  ", wantType: Ephemeral, want: []string{"/incident list"}},
		{name: "unknown", text: "frobnicate now", wantType: Ephemeral, want: []string{`unknown subcommand "frobnicate"`, "/incident help"}},
		{name: "list", channel: "C0GENERAL", text: "list", wantType: Ephemeral, want: []string{"INC-1", "MemoryLeak", "SEV1", "investigating", "<#" + testChannel + ">"}},
		{name: "list with args", text: "list all", wantType: Ephemeral, want: []string{"list takes no arguments", "Usage: `/incident list`"}},
		{name: "declare", channel: "C0GENERAL", text: "declare Payments API slow sev2", wantType: InChannel, want: []string{"<@" + testUser + "> declared INC-2: Payments API slow (SEV2); <@" + testUser + "> leads it"}},
		{name: "declare without title", channel: "C0GENERAL", text: "declare", wantType: Ephemeral, want: []string{"declare needs a title", "Usage: `/incident declare <title>"}},
		{name: "ack outside", channel: "C0GENERAL", text: "ack", wantType: Ephemeral, want: []string{"this channel is not an incident channel; use it in an incident's channel (e.g. #inc-1-memory-leak)", "Usage: `/incident ack [HH:MM]`"}},
		{name: "ack", text: earlier + " ack", wantType: Ephemeral, want: []string{"acknowledged INC-1", "(at 2024-06-20 " + earlier + " UTC)"},
			check: func(i *bot.Incident) bool { return i.AcknowledgedBy == testUser }},
		{name: "ack again", text: "ack", wantType: Ephemeral, want: []string{"INC-1 was already acknowledged by <@" + testUser + ">", "Usage: `/incident ack [HH:MM]`"}},
		{name: "sev", text: "sev 2", wantType: Ephemeral, want: []string{"severity of INC-1 to SEV2"}, check: func(i *bot.Incident) bool { return i.Severity == bot.SEV2 }},
		{name: "sev bad", text: "sev 9", wantType: Ephemeral, want: []string{`"9" is not a severity`, "Usage: `/incident sev"}},
		{name: "status", text: "status identified", wantType: Ephemeral, want: []string{"status of INC-1 to identified"}},
		{name: "status bad", text: "status sleeping", wantType: Ephemeral, want: []string{`"sleeping" is not a status`}},
		{name: "lead", text: "lead <@U0BOB|bob>", wantType: Ephemeral, want: []string{"made <@U0BOB> the lead of INC-1"}, check: func(i *bot.Incident) bool { return i.Lead == "U0BOB" }},
		{name: "lead not a person", text: "lead bob", wantType: Ephemeral, want: []string{"lead needs one person"}},
		{name: "lead missing", text: "lead", wantType: Ephemeral, want: []string{"lead needs text", "Usage: `/incident lead"}},
		{name: "note", text: "note rolled back 1.4.2 <https://ci/1|build>", wantType: Ephemeral, want: []string{"noted on INC-1: rolled back 1.4.2 &lt;https://ci/1|build&gt;"}},
		{name: "note in the future", text: "note " + future + " later", wantType: Ephemeral, want: []string{"is in the future"}},
		{name: "note before start", text: "note " + before + " earlier", wantType: Ephemeral, want: []string{"noted on INC-1: earlier (at 2024-06-20 13:00 UTC, before detection)"}},
		{name: "impact", text: "impact 5% of checkouts failed", wantType: Ephemeral, want: []string{"impact of INC-1: 5% of checkouts failed"}, check: func(i *bot.Incident) bool { return i.Impact == "5% of checkouts failed" }},
		{name: "cause", text: "cause bad config push", wantType: Ephemeral, want: []string{"cause of INC-1: bad config push"}},
		{name: "action", text: "action add a canary", wantType: Ephemeral, want: []string{"action item to INC-1: add a canary"}, check: func(i *bot.Incident) bool { return len(i.ActionItems) == 1 }},
		{name: "action missing", text: "action", wantType: Ephemeral, want: []string{"action needs text"}},
		{name: "timeline", text: "timeline", wantType: Ephemeral, want: []string{"Timeline of INC-1", "MemoryLeak fired", "acknowledged by <@" + testUser + "> — 14:02 UTC (backdated)", "earlier — <@" + testUser + "> · 13:00 UTC (backdated, before detection)"}},
		{name: "timeline with args", text: "timeline please", wantType: Ephemeral, want: []string{"timeline takes no arguments"}},
		{name: "postmortem", text: "postmortem", wantType: Ephemeral, want: []string{"will be posted here as a file shortly", "https://bot.example.com/api/v1/incidents/1/postmortem"}},
		{name: "runbook list", text: "runbook", wantType: Ephemeral, want: []string{"Runbooks for INC-1", "`memory-leak`", "All runbooks: `memory-leak`, `disk-full`"}},
		{name: "runbook", text: "runbook disk-full", wantType: Ephemeral, want: []string{"disk-full will be posted here"}},
		{name: "runbook unknown", text: "runbook nope", wantType: Ephemeral, want: []string{`no runbook named "nope"`, "All runbooks", "Usage: `/incident runbook [name]`"}},
		{name: "runbook two names", text: "runbook a b", wantType: Ephemeral, want: []string{"at most one name"}},
		{name: "reopen while open", text: "reopen", wantType: Ephemeral, want: []string{"INC-1 is not resolved", "Usage: `/incident reopen [HH:MM]`"}},
		{name: "resolve", text: "resolve rolled back", wantType: Ephemeral, want: []string{"resolved INC-1: rolled back"}, check: func(i *bot.Incident) bool { return !i.Open() }},
		{name: "resolve again", text: "resolve", wantType: Ephemeral, want: []string{"INC-1 is already resolved"}},
		{name: "reopen", text: "reopen", wantType: Ephemeral, want: []string{"reopened INC-1"}, check: func(i *bot.Incident) bool { return i.Open() }},
	}
}

// TestSlackCommands runs every subcommand in order on one incident: each
// row's state is what the rows before it left.
func TestSlackCommands(t *testing.T) {
	e := newEnv(t)
	tests := commandSteps(e.openIncident(), e.now)
	for _, tt := range tests {
		r := e.command(orDefault(tt.channel, testChannel), tt.text)
		t.Logf("/incident %s -> %s %q", tt.text, r.ResponseType, r.Text)
		ok := r.ResponseType == tt.wantType
		for _, w := range tt.want {
			ok = ok && strings.Contains(r.Text, w)
		}
		if !ok {
			t.Errorf("%s: /incident %s\ngot  %s %q\nwant %s containing %q", tt.name, tt.text, r.ResponseType, r.Text, tt.wantType, tt.want)
		}
		if tt.check != nil && !tt.check(e.incident(1)) {
			t.Errorf("%s: /incident %s: incident not changed as expected: %+v", tt.name, tt.text, e.incident(1))
		}
	}
	kinds := map[bot.DeliveryKind]string{}
	for _, d := range e.pending() {
		kinds[d.Kind] += d.Ref
	}
	if _, ok := kinds[bot.DeliveryPostmortem]; !ok || kinds[bot.DeliveryRunbook] != "disk-full" {
		t.Errorf("requests enqueued: got %v, want a postmortem and the disk-full runbook", kinds)
	}
}

func TestSlackCommandStoreDown(t *testing.T) {
	e := newEnv(t)
	e.openIncident()
	e.store.fail.Store(true)
	for _, text := range []string{"ack", "declare Outage", "list", "timeline"} {
		r := e.command(testChannel, text)
		if r.ResponseType != Ephemeral || r.Text != "could not save, try again" {
			t.Errorf("/incident %s with the store down: got %s %q, want ephemeral could not save", text, r.ResponseType, r.Text)
		}
	}
	if strings.Contains(e.logs.String(), "level=ERROR") == false {
		t.Errorf("store failure not logged as an error")
	}
}

func TestSlackCommandTimelineIsCapped(t *testing.T) {
	e := newEnv(t)
	inc := e.openIncident()
	for i := range 120 {
		if _, err := e.svc.Apply(t.Context(), inc.ID, bot.Action{Op: bot.OpNote, Actor: "<@U1>", Text: strings.Repeat("word ", 10) + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.command(testChannel, "timeline")
	if len(r.Text) > maxReplyText+500 || !strings.Contains(r.Text, "newest ") || !strings.Contains(r.Text, "of 124 entries (full: https://bot.example.com/api/v1/incidents/1/timeline)") ||
		!strings.Contains(r.Text, "word 119") || strings.Contains(r.Text, "word 0 ") {
		t.Errorf("long timeline: got %d bytes, want at most about %d, the latest entries and a note:\n%s", len(r.Text), maxReplyText, r.Text)
	}
}

func TestSlackCommandNoStatusError(t *testing.T) {
	// Whatever goes wrong, Slack gets a 200 with a reply.
	e := newEnv(t)
	w := e.serve(slackRequest("/slack/commands", "application/x-www-form-urlencoded", "text=ack&channel_id=C1", e.now))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "ephemeral") {
		t.Errorf("command without a user: got %d %s, want 200 ephemeral", w.Code, w.Body)
	}
}

func TestHelpListsEveryVerb(t *testing.T) {
	help := helpText("Europe/Berlin")
	for _, v := range bot.Verbs {
		if !strings.Contains(help, v.Usage()) || !strings.Contains(help, v.Help) {
			t.Errorf("help lacks %q (%s)", v.Usage(), v.Help)
		}
	}
	if !strings.Contains(help, "Europe/Berlin") {
		t.Errorf("help does not name the zone HH:MM is read in:\n%s", help)
	}
}
