package web_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// payments is a team whose weekly shift hands off on Mondays at 09:00 in
// Berlin (07:00 UTC in summer).
func payments(o *bot.Options) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	o.OnCall = &bot.OnCall{Teams: []bot.Team{{
		Name:  "payments",
		Match: func(l map[string]string) bool { return l["service"] == "payment-gateway" },
		Schedules: []bot.Rotation{{Name: "primary", Zone: berlin, Start: time.Date(2024, 6, 17, 9, 0, 0, 0, berlin),
			Shift: 7 * 24 * time.Hour, Members: []string{"U0ALICE", "U0BOB", "U0CAROL"}}},
		Escalation: bot.Escalation{Steps: []bot.EscalationStep{{Notify: []bot.Target{{Kind: bot.TargetSchedule, Ref: "primary"}}}}},
	}, {Name: "storage"}}}
}

func TestOnCallPage(t *testing.T) {
	e := newEnvWith(t, payments)
	_, err := e.svc.AddOverride(t.Context(), "payments", "primary", "U0DAVE",
		time.Date(2024, 6, 21, 10, 0, 0, 0, time.UTC), time.Date(2024, 6, 21, 14, 0, 0, 0, time.UTC), "U0ALICE")
	if err != nil {
		t.Fatal(err)
	}
	page := e.mustGet("/oncall", nil)
	// Now (Thursday June 20, 16:00 UTC) Alice holds the week; Dave is next,
	// for his override on Friday.
	now := regexp.MustCompile(`(?s)<th scope="row">primary</th>\s*<td><strong>(\w+)</strong>.*?<td>(\w+)</td>\s*</tr>`).FindStringSubmatch(page)
	if now == nil || now[1] != "U0ALICE" || now[2] != "U0DAVE" || !strings.Contains(now[0], "2024-06-21 10:00 UTC") {
		t.Fatalf("on call now/next = %q, want U0ALICE until 10:00 tomorrow, then U0DAVE", now)
	}
	rows := regexp.MustCompile(`(?s)<tr( class="today" aria-current="date")?>\s*<th scope="row"><time[^>]*>([^<]+)</time>.*?</th>\s*(.*?)</tr>`).FindAllStringSubmatch(strings.Split(page, `class="team-storage"`)[0], -1)
	if len(rows) != 14 {
		t.Fatalf("calendar has %d days, want 14", len(rows))
	}
	text := func(i int) string { return regexp.MustCompile(`<[^>]+>`).ReplaceAllString(rows[i][3], " ") }
	if rows[0][1] == "" || rows[0][2] != "Thu Jun 20" {
		t.Errorf("first day %q (today marked: %v), want today Thu Jun 20", rows[0][2], rows[0][1] != "")
	}
	if got := strings.Join(strings.Fields(text(1)), " "); got != "U0ALICE until 10:00 from 10:00 U0DAVE until 14:00 (override) from 14:00 U0ALICE" {
		t.Errorf("Friday with the override: %q", got)
	}
	if got := strings.Join(strings.Fields(text(4)), " "); got != "U0ALICE until 07:00 from 07:00 U0BOB" {
		t.Errorf("Monday hand-off: %q", got)
	}
	if got := strings.Join(strings.Fields(text(12)), " "); got != "U0CAROL" {
		t.Errorf("Tuesday July 2, Carol's week: %q", got)
	}
	if !strings.Contains(page, `<span class="override">U0DAVE</span> from 2024-06-21 10:00 UTC to 2024-06-21 14:00 UTC, set by U0ALICE`) {
		t.Error("the override is not listed")
	}
	// A team without schedules is listed, empty.
	if !strings.Contains(page, `<h2 id="team-1">storage</h2>`) {
		t.Error("team storage is missing")
	}
}

func TestOnCallPageWithoutTeams(t *testing.T) {
	e := newEnv(t)
	if page := e.mustGet("/oncall", nil); !strings.Contains(page, "No teams are configured") {
		t.Errorf("no teams: %s", page)
	}
}

func TestIncidentListTeamFilter(t *testing.T) {
	e := newEnvWith(t, payments)
	e.webhook("firing.json")
	e.declare("by hand", bot.SEV2, testNow.Add(-time.Hour))
	if got := keys(e.mustGet("/incidents?team=payments", nil)); strings.Join(got, ",") != "INC-1" {
		t.Errorf("team=payments: %v, want INC-1", got)
	}
	if got := keys(e.mustGet("/incidents?team=storage", nil)); len(got) != 0 {
		t.Errorf("team=storage: %v, want none", got)
	}
	if w := e.get("/incidents?team=nope", nil); w.Code != 400 {
		t.Errorf("unknown team: %d", w.Code)
	}
	page := e.mustGet("/incidents?team=payments", nil)
	if !strings.Contains(page, `<span class="team">payments</span>`) || !strings.Contains(page, `<option selected>payments</option>`) {
		t.Errorf("the list filtered by team does not show it")
	}
}

// The feed link carries the team's read-only token, and opens the feed
// without a session, as a calendar app uses it.
func TestOnCallFeedLink(t *testing.T) {
	e := newEnvWith(t, payments, withToken)
	page := e.mustGet("/oncall", nil, "Authorization", "Bearer "+testToken)
	m := regexp.MustCompile(`href="(/api/v1/oncall/payments\.ics\?token=[0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no feed link with a token")
	}
	if strings.Contains(m[1], testToken) {
		t.Fatal("the feed link holds the API token")
	}
	cal := e.mustGet(m[1], nil)
	if !strings.Contains(cal, "BEGIN:VCALENDAR") {
		t.Errorf("the feed: %.200s", cal)
	}
}

// paymentsIndexed is payments with its match spec, as config files give
// it: incidents then keep a team list on their header.
func paymentsIndexed(o *bot.Options) {
	payments(o)
	o.OnCall.Teams[0].MatchSpec = `service="payment-gateway"`
}

// TestIncidentListTeamFilterReadsTheHeader checks that the team filter
// trusts the team list an incident's header keeps under this team config
// (and reads no alerts for it), and matches the alerts of an incident whose
// list was kept under another config. The store is written directly, so
// that list and alerts disagree and show which one was read.
func TestIncidentListTeamFilterReadsTheHeader(t *testing.T) {
	e := newEnvWith(t, paymentsIndexed)
	e.webhook("firing.json") // INC-1: a payment-gateway alert; ingest keeps [payments]
	oc := e.svc.OnCallConfig()
	if got, ok := oc.KnownTeams(mustIncident(t, e, 1)); !ok || strings.Join(got, ",") != "payments" {
		t.Fatalf("INC-1 teams %v (known %v), want [payments]", got, ok)
	}
	other := bot.Alert{Fingerprint: "0000000000000001", Status: bot.AlertFiring, StartsAt: testNow.Add(-time.Hour),
		Labels: map[string]string{"alertname": "Other", "service": "search"}}
	paying := other
	paying.Fingerprint, paying.Labels = "0000000000000002", map[string]string{"alertname": "Pay", "service": "payment-gateway"}
	for _, inc := range []*bot.Incident{
		// INC-2: listed as payments under this config, though no alert says so.
		{Title: "listed", Alerts: []bot.Alert{other}, Teams: []string{"payments"}, TeamsOf: oc.TeamIndex()},
		// INC-3: a list from another config: its alerts decide (payments).
		{Title: "stale list", Alerts: []bot.Alert{paying}, Teams: []string{"storage"}, TeamsOf: "another-config"},
		// INC-4: no list (an incident from before it): its alerts decide (none).
		{Title: "no list", Alerts: []bot.Alert{other}},
	} {
		inc.Status, inc.Severity, inc.CreatedAt, inc.DetectedAt = bot.StatusInvestigating, bot.SEV2, testNow, testNow.Add(-time.Hour)
		if err := e.store.Update(t.Context(), func(tx bot.Tx) error { return tx.CreateIncident(inc) }); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(keys(e.mustGet("/incidents?team=payments", nil)), ","); got != "INC-3,INC-2,INC-1" {
		t.Errorf("team=payments: %s, want INC-3,INC-2,INC-1", got)
	}
}

func mustIncident(t *testing.T, e *env, id int64) *bot.Incident {
	t.Helper()
	inc, err := e.svc.Incident(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}
