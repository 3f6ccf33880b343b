package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/internal/hostallow"
)

// settings are the service's settings: each is an environment variable and
// also a flag, and a flag given on the command line wins.
type settings struct {
	Addr           string
	AdminAddr      string
	DB             string
	Config         string
	WebhookToken   string
	APIToken       string
	Runbooks       string
	PublicURL      string
	AuthProxy      string
	MaxWebhookBody int64
	LogFormat      string
	LogLevel       string
	ShutdownGrace  time.Duration
	Retention      time.Duration

	SlackBotToken      string
	SlackSigningSecret string
	SlackAPIURL        string
	SlackAppToken      string
	SlackChannel       string
	SlackResponders    []string

	// Alertmanager and Prometheus in the loop (silences, graphs).
	AlertmanagerURLs []string
	PrometheusURL    string
	// DerivedHosts admits the hosts that URLs taken from notifications
	// (externalURL, generatorURL) may name; empty admits none.
	DerivedHosts hostallow.List

	SMTPURL           string // on-call pages: oncall.go
	SMTPFrom          string
	PageWebhookSecret string
}

// setting ties one env var to one flag.
type setting struct {
	env, flag, def, usage string
	secret                bool
}

var settingList = []setting{
	{"INCIDENTBOT_ADDR", "addr", ":8080", "listen address", false},
	{"INCIDENTBOT_ADMIN_ADDR", "admin-addr", "", "admin listener with /debug/pprof (off when empty; keep it on loopback)", false},
	{"INCIDENTBOT_DB", "db", "incidentbot.db", "bbolt file (the embedded default store), or a postgres:// URL (the PostgreSQL store: many replicas)", false},
	{"INCIDENTBOT_CONFIG", "config", "", "optional YAML file: severity mapping, which alerts open incidents, responders, channel prefix, timezone", false},
	{"INCIDENTBOT_WEBHOOK_TOKEN", "webhook-token", "", "when set, /webhooks/* require it as bearer token or basic-auth password", true},
	{"INCIDENTBOT_API_TOKEN", "api-token", "", "when set, /api/* require it as bearer token", true},
	{"INCIDENTBOT_RUNBOOKS", "runbooks", "", "directory of extra runbooks, added to the built-in ones", false},
	{"INCIDENTBOT_PUBLIC_URL", "public-url", "", "base URL used in links the bot posts", false},
	{"INCIDENTBOT_AUTH_PROXY_HEADER", "auth-proxy-header", "", "header an auth proxy sets with the user's name (X-Forwarded-User): the web view trusts it", false},
	{"INCIDENTBOT_WEBHOOK_MAX_BODY", "webhook-max-body", "33554432", "largest accepted webhook body in bytes (Alertmanager never retries a 413)", false},
	{"INCIDENTBOT_LOG_FORMAT", "log-format", "json", "log format: json or text", false},
	{"INCIDENTBOT_LOG_LEVEL", "log-level", "info", "log level: debug, info, warn or error", false},
	{"INCIDENTBOT_SHUTDOWN_GRACE", "shutdown-grace", "20s", "how long shutdown waits for requests and deliveries in flight", false},
	{"INCIDENTBOT_RETENTION", "retention", "", "delete resolved incidents (alerts, timeline and all) resolved longer ago than this, like 400d; empty keeps everything", false},
	{"SLACK_BOT_TOKEN", "slack-bot-token", "", "xoxb- token; without it Slack is off", true},
	{"SLACK_SIGNING_SECRET", "slack-signing-secret", "", "verifies requests to /slack/*", true},
	{"SLACK_API_URL", "slack-api-url", "https://slack.com/api/", "Slack Web API base URL", false},
	{"SLACK_APP_TOKEN", "slack-app-token", "", "xapp- token: receive Slack requests over Socket Mode", true},
	{"INCIDENTBOT_SLACK_CHANNEL", "slack-channel", "", "channel ID for the headline post of every incident", false},
	{"INCIDENTBOT_SLACK_RESPONDERS", "slack-responders", "", "comma-separated Slack user IDs invited to every incident channel", false},
	{"INCIDENTBOT_ALERTMANAGER_URL", "alertmanager-url", "", "Alertmanager API base(s) for silences, comma-separated for HA peers (default: the notification's externalURL, if derived-hosts admits it)", false},
	{"INCIDENTBOT_PROMETHEUS_URL", "prometheus-url", "", "Prometheus API base for graphs (default: the host of the alert's generatorURL, if derived-hosts admits it; off: no graphs)", false},
	{"INCIDENTBOT_DERIVED_HOSTS", "derived-hosts", "", "comma-separated hosts, addresses and CIDR networks that a notification's externalURL and generatorURL may name; empty: such URLs are never contacted", false},
	{"INCIDENTBOT_SMTP_URL", "smtp-url", "", "smtp://user:pass@host:587 (STARTTLS) or smtps://...: pages by email", true},
	{"INCIDENTBOT_SMTP_FROM", "smtp-from", "", "sender address of email pages", false},
	{"INCIDENTBOT_PAGE_WEBHOOK_SECRET", "page-webhook-secret", "", "HMAC key of webhook pages (X-Incidentbot-Signature)", true},
}

// parseSettings reads env, then flags over it. Secrets given as flags are
// accepted but discouraged: they show in the process list.
func parseSettings(name string, args []string, getenv func(string) string, stderr io.Writer) (*settings, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := make(map[string]*string, len(settingList))
	for _, s := range settingList {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		shown := def
		if s.secret {
			shown = ""
		}
		vals[s.flag] = fs.String(s.flag, shown, usage)
		if s.secret && def != "" {
			// Keep the env value without printing it in -help.
			*vals[s.flag] = def
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(f string) string { return strings.TrimSpace(*vals[f]) }
	st := &settings{
		Addr: get("addr"), AdminAddr: get("admin-addr"), DB: get("db"), Config: get("config"),
		WebhookToken: get("webhook-token"), APIToken: get("api-token"), Runbooks: get("runbooks"),
		PublicURL: strings.TrimRight(get("public-url"), "/"), AuthProxy: get("auth-proxy-header"), LogFormat: get("log-format"), LogLevel: get("log-level"),
		SlackBotToken: get("slack-bot-token"), SlackSigningSecret: get("slack-signing-secret"),
		SlackAPIURL: get("slack-api-url"), SlackAppToken: get("slack-app-token"), SlackChannel: get("slack-channel"),
		SMTPURL: get("smtp-url"), SMTPFrom: get("smtp-from"), PageWebhookSecret: get("page-webhook-secret"),
	}
	for u := range strings.SplitSeq(get("slack-responders"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			st.SlackResponders = append(st.SlackResponders, u)
		}
	}
	for u := range strings.SplitSeq(get("alertmanager-url"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			st.AlertmanagerURLs = append(st.AlertmanagerURLs, u)
		}
	}
	st.PrometheusURL = get("prometheus-url")
	var err error
	if st.DerivedHosts, err = hostallow.Parse(splitList(get("derived-hosts"))); err != nil {
		return nil, fmt.Errorf("derived-hosts: %w", err)
	}
	if st.MaxWebhookBody, err = strconv.ParseInt(get("webhook-max-body"), 10, 64); err != nil || st.MaxWebhookBody < 1024 {
		return nil, errors.New("webhook-max-body: want a number of bytes, at least 1024")
	}
	if st.ShutdownGrace, err = time.ParseDuration(get("shutdown-grace")); err != nil || st.ShutdownGrace <= 0 {
		return nil, errors.New("shutdown-grace: want a positive duration like 20s")
	}
	if st.Retention, err = parseRetention(get("retention")); err != nil {
		return nil, err
	}
	return st, st.check()
}

// splitList reads a comma-separated list, leaving out empty items.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (st *settings) check() error {
	switch {
	case st.DB == "":
		return errors.New("db: the bbolt file path is empty")
	case st.LogFormat != "json" && st.LogFormat != "text":
		return fmt.Errorf("log-format %q: want json or text", st.LogFormat)
	case st.SlackBotToken != "" && !strings.HasPrefix(st.SlackBotToken, "xoxb-"):
		return errors.New("slack-bot-token: want an xoxb- bot token")
	case st.SlackAppToken != "" && !strings.HasPrefix(st.SlackAppToken, "xapp-"):
		return errors.New("slack-app-token: want an xapp- app-level token")
	case st.SlackAppToken != "" && st.SlackBotToken == "":
		return errors.New("slack-app-token needs slack-bot-token as well")
	case st.SlackAPIURL != "" && !strings.HasSuffix(st.SlackAPIURL, "/"):
		st.SlackAPIURL += "/"
	}
	return nil
}
