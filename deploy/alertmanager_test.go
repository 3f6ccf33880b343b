package deploy

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const alertmanagerConfig = "alertmanager/alertmanager.yml"

// amtoolPath resolves the amtool binary of the module's tool directive once
// (go tool -n builds it the first time and prints where it is).
var amtoolPath = sync.OnceValues(func() (string, error) {
	var stderr strings.Builder
	cmd := exec.Command("go", "tool", "-n", "amtool")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
})

func amtool(t *testing.T) string {
	t.Helper()
	path, err := amtoolPath()
	if err != nil {
		t.Fatalf("go tool -n amtool (the tool directive in go.mod): %v", err)
	}
	return path
}

func TestAlertmanagerConfigIsValid(t *testing.T) {
	// check-config does not need the credentials_file to exist (it is only
	// read when a notification is sent), so the file is checked as shipped.
	out, err := runIn(t, ".", amtool(t), "check-config", alertmanagerConfig)
	if err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", alertmanagerConfig, err, out)
	}
}

// The check above is only worth something if amtool fails on a bad config.
func TestAmtoolRejectsBrokenConfig(t *testing.T) {
	b, err := os.ReadFile(alertmanagerConfig)
	if err != nil {
		t.Fatal(err)
	}
	const good, bad = "\n  receiver: incidentbot\n", "\n  receiver: no-such-receiver\n"
	if !strings.Contains(string(b), good) {
		t.Fatalf("%s: the top-level route no longer reads %q; update this test", alertmanagerConfig, strings.TrimSpace(good))
	}
	broken := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(b), good, bad, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runIn(t, ".", amtool(t), "check-config", broken)
	if err == nil {
		t.Fatalf("amtool check-config accepted a route to an undefined receiver:\n%s", out)
	}
}

func TestAlertmanagerRoutes(t *testing.T) {
	tests := []struct {
		name   string
		labels []string
		want   string
	}{
		{"application alert", []string{"alertname=MemoryLeak", "service=checkout", "severity=warning"}, "incidentbot"},
		{"alert without service", []string{"alertname=HostDown", "severity=critical"}, "incidentbot"},
		{"incidentbot about itself", []string{"alertname=IncidentbotDown", "service=incidentbot", "severity=critical"}, "incidentbot-self"},
		{"heartbeat", []string{"alertname=Watchdog", "severity=none"}, "blackhole"},
		{"inhibitor helper", []string{"alertname=InfoInhibitor", "severity=none"}, "blackhole"},
	}
	am := amtool(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=" + alertmanagerConfig, "--verify.receivers=" + tt.want}, tt.labels...)
			out, err := runIn(t, ".", am, args...)
			if err != nil {
				t.Errorf("labels %v: want receiver %s, amtool says: %s (%v)", tt.labels, tt.want, strings.TrimSpace(out), err)
			}
		})
	}
}

// amConfig is the part of alertmanager.yml that incidentbot depends on.
type amConfig struct {
	Route struct {
		Receiver       string   `yaml:"receiver"`
		GroupBy        []string `yaml:"group_by"`
		GroupWait      string   `yaml:"group_wait"`
		GroupInterval  string   `yaml:"group_interval"`
		RepeatInterval string   `yaml:"repeat_interval"`
	} `yaml:"route"`
	Receivers []struct {
		Name           string `yaml:"name"`
		WebhookConfigs []struct {
			URL          string  `yaml:"url"`
			SendResolved *bool   `yaml:"send_resolved"`
			MaxAlerts    *uint64 `yaml:"max_alerts"`
			HTTPConfig   struct {
				Authorization *struct {
					Type            string `yaml:"type"`
					Credentials     string `yaml:"credentials"`
					CredentialsFile string `yaml:"credentials_file"`
				} `yaml:"authorization"`
			} `yaml:"http_config"`
		} `yaml:"webhook_configs"`
	} `yaml:"receivers"`
}

// What amtool cannot know: the settings incidentbot's incident semantics
// rely on.
func TestAlertmanagerIncidentbotReceivers(t *testing.T) {
	var c amConfig
	readYAML(t, alertmanagerConfig, &c)

	timing := []struct{ name, got, want string }{
		{"group_wait", c.Route.GroupWait, "30s"},
		{"group_interval", c.Route.GroupInterval, "5m"},
		{"repeat_interval", c.Route.RepeatInterval, "4h"},
	}
	for _, tm := range timing {
		if tm.got != tm.want {
			t.Errorf("route.%s = %q, want %q", tm.name, tm.got, tm.want)
		}
	}
	for _, l := range []string{"alertname", "service"} {
		if !slices.Contains(c.Route.GroupBy, l) {
			t.Errorf("route.group_by = %v, missing %q", c.Route.GroupBy, l)
		}
	}
	for _, l := range []string{"...", "instance", "pod"} {
		if slices.Contains(c.Route.GroupBy, l) {
			t.Errorf("route.group_by = %v: grouping by %q opens an incident per target", c.Route.GroupBy, l)
		}
	}

	webhooks := 0
	for _, r := range c.Receivers {
		for i, w := range r.WebhookConfigs {
			webhooks++
			where := fmt.Sprintf("%s.webhook_configs[%d]", r.Name, i)
			u, err := url.Parse(w.URL)
			if err != nil || u.Path != "/webhooks/alertmanager" {
				t.Errorf("%s: url %q, want path /webhooks/alertmanager", where, w.URL)
			}
			if w.SendResolved == nil || !*w.SendResolved {
				t.Errorf("%s: send_resolved must be true (resolved alerts close the timeline)", where)
			}
			if w.MaxAlerts == nil || *w.MaxAlerts != 0 {
				t.Errorf("%s: max_alerts must be set to 0 (truncated alerts never reach the incident)", where)
			}
			a := w.HTTPConfig.Authorization
			switch {
			case a == nil:
				t.Errorf("%s: http_config.authorization missing (INCIDENTBOT_WEBHOOK_TOKEN)", where)
			case a.Credentials != "":
				t.Errorf("%s: inline credentials; use credentials_file", where)
			case a.CredentialsFile == "":
				t.Errorf("%s: authorization.credentials_file missing", where)
			case a.Type != "" && !strings.EqualFold(a.Type, "Bearer"):
				t.Errorf("%s: authorization.type %q, want Bearer", where, a.Type)
			}
		}
	}
	if webhooks == 0 {
		t.Errorf("%s: no webhook_configs at all", alertmanagerConfig)
	}
}
