package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

func TestSettingsFlagsWinOverEnv(t *testing.T) {
	env := map[string]string{"INCIDENTBOT_ADDR": ":9000", "INCIDENTBOT_DB": "/env.db", "SLACK_BOT_TOKEN": "xoxb-env",
		"INCIDENTBOT_SLACK_RESPONDERS": " U1, U2 ,,", "SLACK_API_URL": "http://127.0.0.1:1/api"}
	var stderr bytes.Buffer
	st, err := parseSettings("t", []string{"--db", "/flag.db"}, func(k string) string { return env[k] }, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if st.Addr != ":9000" || st.DB != "/flag.db" || st.SlackBotToken != "xoxb-env" || strings.Join(st.SlackResponders, "|") != "U1|U2" ||
		st.SlackAPIURL != "http://127.0.0.1:1/api/" || st.MaxWebhookBody != 32<<20 {
		t.Errorf("settings = %+v", st)
	}
}

func TestSettingsRefusals(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad bot token", map[string]string{"SLACK_BOT_TOKEN": "xoxp-user"}, nil, "xoxb-"},
		{"app token alone", map[string]string{"SLACK_APP_TOKEN": "xapp-1"}, nil, "needs slack-bot-token"},
		{"tiny body limit", nil, []string{"--webhook-max-body", "10"}, "at least 1024"},
		{"bad grace", nil, []string{"--shutdown-grace", "soon"}, "shutdown-grace"},
		{"bad log format", nil, []string{"--log-format", "xml"}, "log-format"},
		{"stray argument", nil, []string{"extra"}, `unexpected argument "extra"`},
		{"unknown flag", nil, []string{"--nope"}, "not defined"},
	}
	for _, tt := range tests {
		_, err := parseSettings("t", tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestSecretsStayOutOfHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseSettings("t", []string{"-help"}, func(k string) string {
		return map[string]string{"SLACK_SIGNING_SECRET": "s3cr3t-value", "INCIDENTBOT_WEBHOOK_TOKEN": "tok-value"}[k]
	}, &stderr)
	if err == nil || strings.Contains(stderr.String(), "s3cr3t-value") || strings.Contains(stderr.String(), "tok-value") {
		t.Errorf("-help printed a secret or did not stop (err %v):\n%s", err, stderr.String())
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	p := writeFile(t, "c.yml", `timezone: Europe/Berlin
channel_prefix: outage
open_incidents_for: ['severity=~"critical|warning"']
keep_open_when_alerts_resolve: true
severity: {label: priority, default: SEV2, map: {P1: SEV1}}
responders:
  - match: 'service="payment-gateway"'
    slack_users: [U1, U2]
  - match: 'team="payments"'
    slack_users: [U2, U3]
`)
	c, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	pol := c.Policy
	if c.Zone.String() != "Europe/Berlin" || c.ChannelPrefix != "outage" || !pol.KeepOpenWhenAlertsResolve {
		t.Errorf("config = %+v", c)
	}
	if got := pol.SeverityOf(map[string]string{"priority": "p1"}); got != bot.SEV1 {
		t.Errorf("priority=p1 -> %v, want SEV1", got)
	}
	if got := pol.SeverityOf(map[string]string{"priority": "zzz"}); got != bot.SEV2 {
		t.Errorf("unknown priority -> %v, want the default SEV2", got)
	}
	if pol.Opens(map[string]string{"severity": "info"}) || !pol.Opens(map[string]string{"severity": "warning"}) {
		t.Error("open_incidents_for does not select by severity")
	}
	got := c.RespondersFor(map[string]string{"service": "payment-gateway", "team": "payments"})
	if strings.Join(got, ",") != "U1,U2,U3" {
		t.Errorf("RespondersFor = %v, want U1,U2,U3 without duplicates", got)
	}
	if got := c.RespondersFor(map[string]string{"service": "search"}); len(got) != 0 {
		t.Errorf("RespondersFor(search) = %v, want none", got)
	}
}

func TestLoadConfigRefusals(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "timezon: UTC\n", "timezon"},
		{"bad zone", "timezone: Mars/Olympus\n", "timezone"},
		{"bad prefix", "channel_prefix: 'Inc #1'\n", "channel_prefix"},
		{"bad matcher", "open_incidents_for: ['severity=~\"(']\n", "open_incidents_for[0]"},
		{"bad severity", "severity: {map: {critical: SEV9}}\n", "severity.map[critical]"},
		{"bad responder matcher", "responders: [{match: '{{', slack_users: [U1]}]\n", "responders[0].match"},
		{"not yaml", "::: [\n", "config"},
	}
	for _, tt := range tests {
		_, err := loadConfig(writeFile(t, "c.yml", tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one naming %q", tt.name, err, tt.want)
		}
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "missing.yml")); err == nil {
		t.Error("a missing config file was accepted")
	}
	if c, err := loadConfig(""); err != nil || c.ChannelPrefix != "inc" || c.Zone.String() != "UTC" {
		t.Errorf("no config = %+v, %v; want the defaults", c, err)
	}
}

func TestSubcommands(t *testing.T) {
	ctx := context.Background()
	none := func(string) string { return "" }
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"version"}, none, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "incidentbot ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"runbooks", "lint"}, none, &out, &errb); err != nil || out.String() != "ok: 3 runbooks in builtin\n" {
		t.Errorf("lint of the built-ins: %v, printed %q; want success saying how many", err, out.String())
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.md"), []byte("---\nname: broken\ntitle: Broken\nmatch: 'alertname=~\"('\n---\nno steps\n"), 0o644)
	out.Reset()
	err := run(ctx, []string{"runbooks", "lint", dir}, none, &out, &errb)
	var ec exitCode
	if !errors.As(err, &ec) || ec != 1 || !strings.Contains(out.String(), "broken.md:4:") {
		t.Errorf("lint of a broken runbook: %v, printed %q; want exit 1 and broken.md:4: ...", err, out.String())
	}
	if err := run(ctx, []string{"frobnicate"}, none, &out, &errb); !errors.As(err, &ec) || ec != 2 {
		t.Errorf("unknown command: %v, want exit 2", err)
	}
}

func TestServeRefusesALockedStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	startBot(t, map[string]string{"INCIDENTBOT_DB": db, "INCIDENTBOT_LOG_FORMAT": "text"})
	env := map[string]string{"INCIDENTBOT_DB": db, "INCIDENTBOT_ADDR": "127.0.0.1:0"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("a second service on the same file: %v, want an error saying it is locked", err)
	}
}
