package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promtoolInstall is how CI gets promtool: Debian's prometheus package.
const promtoolInstall = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus"

// promtool finds promtool on PATH. Without it the test is skipped on a
// developer's machine, but fails in CI (CI=true), where a skip would hide
// that the rules were never checked.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("promtool is not on PATH and CI=true: the Prometheus rules cannot be checked. Install it first: %s", promtoolInstall)
	}
	t.Skipf("promtool is not on PATH; the Prometheus rules are not checked. Install it with: %s", promtoolInstall)
	return ""
}

func TestPrometheusRulesAreValid(t *testing.T) {
	pt := promtool(t)
	files := globFiles(t, "prometheus/rules/*.yml")
	out, err := runIn(t, ".", pt, append([]string{"check", "rules"}, files...)...)
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}

func TestPrometheusRuleUnitTests(t *testing.T) {
	pt := promtool(t)
	files := globFiles(t, "prometheus/tests/*.test.yml")
	out, err := runIn(t, ".", pt, append([]string{"test", "rules"}, files...)...)
	if err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}

func TestComposePrometheusConfigIsValid(t *testing.T) {
	pt := promtool(t)
	// --syntax-only: the rule files it names are paths inside the container.
	const cfg = "compose/prometheus.yml"
	out, err := runIn(t, ".", pt, "check", "config", "--syntax-only", cfg)
	if err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", cfg, err, out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// alertRule is one alerting rule and the file it is in.
type alertRule struct {
	file        string
	name        string
	labels      map[string]string
	annotations map[string]string
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	var rules []alertRule
	for _, f := range globFiles(t, "prometheus/rules/*.yml") {
		var rf ruleFile
		readYAML(t, f, &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					rules = append(rules, alertRule{file: f, name: r.Alert, labels: r.Labels, annotations: r.Annotations})
				}
			}
		}
	}
	return rules
}

// Every alert has a unit test that sees it fire and one that sees it not
// fire; a test with only the happy case proves little about a threshold.
func TestEveryAlertIsUnitTested(t *testing.T) {
	firing := map[string]bool{}
	quiet := map[string]bool{}
	for _, f := range globFiles(t, "prometheus/tests/*.test.yml") {
		var tf ruleTestFile
		readYAML(t, f, &tf)
		for _, rf := range tf.RuleFiles {
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), rf)); err != nil {
				t.Errorf("%s: rule_files entry %s: %v", f, rf, err)
			}
		}
		for _, tc := range tf.Tests {
			for _, at := range tc.AlertRuleTest {
				if len(at.ExpAlerts) > 0 {
					firing[at.Alertname] = true
				} else {
					quiet[at.Alertname] = true
				}
			}
		}
	}
	known := map[string]bool{}
	for _, r := range alertRules(t) {
		known[r.name] = true
		if !firing[r.name] {
			t.Errorf("%s: alert %s has no unit test in which it fires", r.file, r.name)
		}
		if !quiet[r.name] {
			t.Errorf("%s: alert %s has no unit test in which it does not fire (exp_alerts: [])", r.file, r.name)
		}
	}
	for name := range firing {
		if !known[name] {
			t.Errorf("unit tests expect alert %s, which no rule file defines", name)
		}
	}
}

// The labels and annotations incidentbot and Alertmanager rely on.
func TestAlertLabelsAndAnnotations(t *testing.T) {
	severities := map[string]bool{"critical": true, "error": true, "warning": true, "info": true}
	for _, r := range alertRules(t) {
		where := r.file + ": " + r.name
		if !severities[r.labels["severity"]] {
			t.Errorf("%s: severity label %q, want critical, error, warning or info (incidentbot maps it to SEV1-4)", where, r.labels["severity"])
		}
		if r.labels["service"] == "" {
			t.Errorf("%s: no service label (Alertmanager groups incidents by it)", where)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", where, a)
			}
		}
		memory := filepath.Base(r.file) == "memory.rules.yml" || strings.Contains(r.name, "Memory")
		if memory && !strings.HasSuffix(r.annotations["runbook_url"], "/memory-leak") {
			t.Errorf("%s: runbook_url %q must end in /memory-leak so incidentbot attaches its memory-leak runbook", where, r.annotations["runbook_url"])
		}
		self := filepath.Base(r.file) == "incidentbot.rules.yml"
		if self && r.labels["service"] != "incidentbot" {
			t.Errorf("%s: service label %q, want incidentbot (Alertmanager routes incidentbot's own alerts on it)", where, r.labels["service"])
		}
	}
}
