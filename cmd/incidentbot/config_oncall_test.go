package main

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

const oncallYAML = `
people:
  U0ALICE: {email: alice@example.com, webhook: https://pager.example.com/alice}
teams:
  - name: payments
    match: ['service=~"payment-.*"', 'team="payments"']
    slack_usergroup: S0PAYONCALL
    slack_channel: C0PAYMENTS
    schedules:
      - name: primary
        timezone: Europe/Berlin
        start: 2026-11-30T09:00
        shift: 168h
        members: [U0ALICE, U0BOB, U0CAROL]
      - name: secondary
        start: 2026-11-30T09:00
        shift: 24h
        members: [U0BOB]
    escalation:
      - after: 0s
        notify: [schedule:primary]
      - after: 5m
        notify: [schedule:secondary, user:U0LEAD]
      - after: 15m
        notify: [channel:C0PAYMENTS]
    repeat: 1
  - name: search
    schedules:
      - {name: day, start: 2026-01-01T00:00, shift: 12h, members: [U0DAN]}
`

func TestLoadOnCallConfig(t *testing.T) {
	c, err := loadConfig(writeFile(t, "c.yml", oncallYAML))
	if err != nil {
		t.Fatal(err)
	}
	oc := c.OnCall
	if got := oc.People["U0ALICE"]; got.Email != "alice@example.com" || got.Webhook != "https://pager.example.com/alice" {
		t.Errorf("people = %+v", oc.People)
	}
	pay, err := oc.Team("payments")
	if err != nil {
		t.Fatal(err)
	}
	if pay.UserGroup != "S0PAYONCALL" || pay.Channel != "C0PAYMENTS" || len(pay.Schedules) != 2 || pay.Escalation.Repeat != 1 || len(pay.Escalation.Steps) != 3 {
		t.Errorf("payments = %+v", pay)
	}
	prim := pay.Schedules[0]
	if prim.Zone.String() != "Europe/Berlin" || prim.Shift != 168*time.Hour || !prim.Start.Equal(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("primary = %+v", prim)
	}
	if pay.Schedules[1].Zone != time.UTC {
		t.Errorf("a schedule without a zone is in %s, want UTC", pay.Schedules[1].Zone)
	}
	if got := pay.Escalation.Steps[1]; got.After != 5*time.Minute || len(got.Notify) != 2 ||
		got.Notify[0] != (bot.Target{Kind: bot.TargetSchedule, Ref: "secondary"}) || got.Notify[1] != (bot.Target{Kind: bot.TargetUser, Ref: "U0LEAD"}) {
		t.Errorf("step 1 = %+v", got)
	}
	if !pay.Match(map[string]string{"service": "payment-api"}) || !pay.Match(map[string]string{"team": "payments"}) || pay.Match(map[string]string{"service": "search"}) {
		t.Error("payments' match lines do not select as written")
	}
	search, _ := oc.Team("search")
	if search.Match != nil {
		t.Error("a team without match is paged by alerts")
	}
	if _, err := oc.Team("nope"); err == nil || !strings.Contains(err.Error(), "payments, search") {
		t.Errorf("unknown team: %v", err)
	}
}

func TestLoadOnCallConfigRefusals(t *testing.T) {
	team := func(body string) string { return "teams:\n  - name: pay\n" + body }
	sched := "    schedules: [{name: primary, start: 2026-11-30T09:00, shift: 24h, members: [U0A]}]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown schedule in a step", team(sched + "    match: ['a=\"b\"']\n    escalation:\n      - notify: [schedule:primary]\n      - after: 5m\n        notify: [schedule:secondary]\n"),
			`config: teams[0].escalation[1]: notify[0]: unknown schedule "secondary"`},
		{"member not a user ID", team("    schedules: [{name: primary, start: 2026-11-30T09:00, shift: 24h, members: [alice]}]\n"),
			`config: teams[0].schedules[0]: members[0]: "alice" is not a Slack user ID`},
		{"zero shift", team("    schedules: [{name: primary, start: 2026-11-30T09:00, shift: 0s, members: [U0A]}]\n"),
			"config: teams[0].schedules[0]: shift:"},
		{"bad zone", team("    schedules: [{name: primary, timezone: Mars/Olympus, start: 2026-11-30T09:00, shift: 24h, members: [U0A]}]\n"),
			"config: teams[0].schedules[0]: timezone:"},
		{"bad start", team("    schedules: [{name: primary, start: 'monday 9am', shift: 24h, members: [U0A]}]\n"),
			"config: teams[0].schedules[0]: start:"},
		{"two schedules, one name", team("    schedules:\n      - {name: primary, start: 2026-11-30T09:00, shift: 24h, members: [U0A]}\n      - {name: primary, start: 2026-11-30T09:00, shift: 24h, members: [U0B]}\n"),
			`config: teams[0].schedules[1].name: "primary" is the name of an earlier schedule`},
		{"two teams, one name", "teams: [{name: pay}, {name: pay}]\n", `config: teams[1].name: "pay" is the name of an earlier team`},
		{"bad team name", "teams: [{name: 'Pay Ments'}]\n", "config: teams[0].name:"},
		{"steps out of order", team(sched + "    escalation:\n      - {after: 10m, notify: [schedule:primary]}\n      - {after: 5m, notify: [schedule:primary]}\n"),
			"config: teams[0].escalation[1].after:"},
		{"bad target", team(sched + "    escalation: [{notify: ['pager:primary']}]\n"), "config: teams[0].escalation[0]: notify[0]:"},
		{"bad channel", team(sched + "    escalation: [{notify: ['channel:#payments']}]\n"), "config: teams[0].escalation[0]: notify[0]:"},
		{"step without targets", team(sched + "    escalation: [{after: 1m}]\n"), "config: teams[0].escalation[0]: notify:"},
		{"negative repeat", team(sched + "    repeat: -1\n"), "config: teams[0].repeat:"},
		{"match without steps", team(sched + "    match: ['a=\"b\"']\n"), "config: teams[0].escalation:"},
		{"bad match", team("    match: ['{{']\n"), "config: teams[0].match[0]:"},
		{"bad user group", team("    slack_usergroup: payments-oncall\n"), "config: teams[0].slack_usergroup:"},
		{"bad team channel", team("    slack_channel: '#payments'\n"), "config: teams[0].slack_channel:"},
		{"person not a user ID", "people: {alice: {email: a@example.com}}\n", "config: people.alice:"},
		{"bad email", "people: {U0A: {email: 'Alice <a@example.com>'}}\n", "config: people.U0A.email:"},
		{"bad webhook", "people: {U0A: {webhook: 'ftp://x'}}\n", "config: people.U0A.webhook:"},
		{"webhook with credentials", "people: {U0A: {webhook: 'https://user:s3cret@x.example'}}\n", "credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeFile(t, "c.yml", tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
