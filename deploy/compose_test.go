package deploy

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type composeFile struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		Build       any      `yaml:"build"`
		Environment []string `yaml:"environment"`
		Volumes     []string `yaml:"volumes"`
		Ports       []string `yaml:"ports"`
		Secrets     []struct {
			Source string `yaml:"source"`
			Target string `yaml:"target"`
		} `yaml:"secrets"`
	} `yaml:"services"`
	Secrets map[string]map[string]string `yaml:"secrets"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, "compose/compose.yaml", &c)
	for _, want := range []string{"incidentbot", "alertmanager", "prometheus"} {
		if _, ok := c.Services[want]; !ok {
			t.Fatalf("compose.yaml has no %s service", want)
		}
	}
	return c
}

// mounts maps a service's container paths to their host sources.
func mounts(volumes []string) map[string]string {
	m := map[string]string{}
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			m[parts[1]] = parts[0]
		}
	}
	return m
}

func TestComposeServices(t *testing.T) {
	c := readCompose(t)
	for svc, s := range c.Services {
		img := s.Image
		if !pinned(img) {
			t.Errorf("service %s: image %q, want a pinned tag", svc, img)
		}
		for dst, src := range mounts(s.Volumes) {
			if !strings.HasPrefix(src, ".") {
				continue // a named volume
			}
			if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
				t.Errorf("service %s mounts %s at %s: %v", svc, src, dst, err)
			}
		}
		for _, e := range s.Environment {
			name, value, _ := strings.Cut(e, "=")
			secret := strings.Contains(name, "TOKEN") || strings.Contains(name, "SECRET")
			if secret && value != "" && !strings.HasPrefix(value, "${") {
				t.Errorf("service %s: %s has a literal value; take it from the shell", svc, name)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s on every interface; a trial should listen on 127.0.0.1", svc, p)
			}
		}
	}
	if mounts(c.Services["incidentbot"].Volumes)["/data"] == "" {
		t.Errorf("incidentbot keeps its database in /data; mount a volume there")
	}
}

// Alertmanager must find the token where alertmanager.yml says it is.
func TestComposeWebhookToken(t *testing.T) {
	c := readCompose(t)
	var am amConfig
	readYAML(t, alertmanagerConfig, &am)
	var targets []string
	for _, s := range c.Services["alertmanager"].Secrets {
		if _, ok := c.Secrets[s.Source]; !ok {
			t.Errorf("alertmanager uses secret %s, which compose.yaml does not define", s.Source)
		}
		targets = append(targets, s.Target)
	}
	for _, r := range am.Receivers {
		for _, w := range r.WebhookConfigs {
			if a := w.HTTPConfig.Authorization; a != nil && !slices.Contains(targets, a.CredentialsFile) {
				t.Errorf("receiver %s reads %s, but compose.yaml puts alertmanager's secrets at %v", r.Name, a.CredentialsFile, targets)
			}
		}
	}
	if src := mounts(c.Services["alertmanager"].Volumes)["/etc/alertmanager/alertmanager.yml"]; src != "../"+alertmanagerConfig {
		t.Errorf("alertmanager's config comes from %q, want ../%s", src, alertmanagerConfig)
	}
}

// Prometheus must load the rules from deploy/prometheus/rules and scrape
// incidentbot as the job the rules name.
func TestComposePrometheus(t *testing.T) {
	c := readCompose(t)
	m := mounts(c.Services["prometheus"].Volumes)
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "compose/prometheus.yml", &cfg)
	if m["/etc/prometheus/prometheus.yml"] != "./prometheus.yml" {
		t.Errorf("prometheus does not mount ./prometheus.yml at /etc/prometheus/prometheus.yml (mounts %v)", m)
	}
	for _, rf := range cfg.RuleFiles {
		if src := m[path.Dir(rf)]; src != "../prometheus/rules" {
			t.Errorf("prometheus.yml loads %s, but %s is mounted from %q, want ../prometheus/rules", rf, path.Dir(rf), src)
		}
	}
	if len(cfg.RuleFiles) == 0 {
		t.Errorf("prometheus.yml loads no rule files")
	}
	scraped := false
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			if sc.JobName == "incidentbot" && slices.Contains(st.Targets, "incidentbot:8080") {
				scraped = true
			}
		}
	}
	if !scraped {
		t.Errorf(`prometheus.yml must scrape incidentbot:8080 as job_name "incidentbot" (incidentbot.rules.yml selects job="incidentbot")`)
	}
}
