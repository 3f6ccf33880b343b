package deploy

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The two compose files: the embedded default (bbolt) and PostgreSQL mode.
const (
	boltCompose     = "compose/compose.yaml"
	postgresCompose = "compose/compose.postgres.yaml"
)

var composeFiles = []string{boltCompose, postgresCompose}

type composeService struct {
	Image       string   `yaml:"image"`
	Build       any      `yaml:"build"`
	Environment []string `yaml:"environment"`
	Volumes     []string `yaml:"volumes"`
	Ports       []string `yaml:"ports"`
	Secrets     []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"secrets"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
	DependsOn   any `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type composeFile struct {
	Services map[string]composeService    `yaml:"services"`
	Secrets  map[string]map[string]string `yaml:"secrets"`
}

func readCompose(t *testing.T, path string) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, path, &c)
	for _, want := range []string{"incidentbot", "alertmanager", "prometheus"} {
		if _, ok := c.Services[want]; !ok {
			t.Fatalf("%s has no %s service", path, want)
		}
	}
	return c
}

// forEachCompose runs check as a subtest on each compose file.
func forEachCompose(t *testing.T, check func(t *testing.T, path string, c composeFile)) {
	for _, path := range composeFiles {
		t.Run(path, func(t *testing.T) { check(t, path, readCompose(t, path)) })
	}
}

// env returns the value a service's environment gives name.
func (s composeService) env(name string) (string, bool) {
	for _, e := range s.Environment {
		if k, v, _ := strings.Cut(e, "="); k == name {
			return v, true
		}
	}
	return "", false
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
	forEachCompose(t, checkComposeServices)
}

func checkComposeServices(t *testing.T, path string, c composeFile) {
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
	if path == boltCompose && mounts(c.Services["incidentbot"].Volumes)["/data"] == "" {
		t.Errorf("incidentbot keeps its database in /data; mount a volume there")
	}
}

// Alertmanager must find the token where alertmanager.yml says it is.
func TestComposeWebhookToken(t *testing.T) {
	forEachCompose(t, checkComposeWebhookToken)
}

func checkComposeWebhookToken(t *testing.T, _ string, c composeFile) {
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
	forEachCompose(t, checkComposePrometheus)
}

func checkComposePrometheus(t *testing.T, _ string, c composeFile) {
	m := mounts(c.Services["prometheus"].Volumes)
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
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
	// Every replica: DNS gives one address a replica.
	scraped := false
	for _, sc := range cfg.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			if sc.JobName == "incidentbot" && slices.Contains(d.Names, "incidentbot") && d.Type == "A" && d.Port == 8080 {
				scraped = true
			}
		}
	}
	if !scraped {
		t.Errorf(`prometheus.yml must find every incidentbot replica (dns_sd_configs, A records of incidentbot, port 8080) as job_name "incidentbot" (incidentbot.rules.yml selects job="incidentbot")`)
	}
}

// PostgreSQL mode in compose: the database is healthy before the
// replicas start, they reach it by its service name with the password
// from the shell, and there are at least two of them, each on a host
// port of its own, with no volume of their own.
func TestComposePostgres(t *testing.T) {
	c := readCompose(t, postgresCompose)
	pg, ok := c.Services["postgres"]
	if !ok {
		t.Fatalf("%s has no postgres service", postgresCompose)
	}
	if pg.Healthcheck == nil || !slices.Contains(pg.Healthcheck.Test, "pg_isready") {
		t.Errorf("postgres: want a pg_isready healthcheck, so the replicas start once it takes connections")
	}
	if v, _ := pg.env("POSTGRES_PASSWORD"); !strings.HasPrefix(v, "${") {
		t.Errorf("postgres: POSTGRES_PASSWORD %q, want it from the shell", v)
	}
	bot := c.Services["incidentbot"]
	db, _ := bot.env("INCIDENTBOT_DB")
	u, err := url.Parse(strings.ReplaceAll(db, "${INCIDENTBOT_PG_PASSWORD:?export INCIDENTBOT_PG_PASSWORD first}", "x"))
	if err != nil || u.Scheme != "postgres" || u.Hostname() != "postgres" || !strings.Contains(db, "${INCIDENTBOT_PG_PASSWORD") {
		t.Errorf("incidentbot: INCIDENTBOT_DB %q, want postgres://...@postgres:5432/... with the password from the shell (%v)", db, err)
	}
	if deps, _ := bot.DependsOn.(map[string]any); fmt.Sprint(deps["postgres"]) != "map[condition:service_healthy]" {
		t.Errorf("incidentbot: depends_on %v, want postgres with condition service_healthy", bot.DependsOn)
	}
	if bot.Deploy.Replicas < 2 {
		t.Errorf("incidentbot: deploy.replicas %d, want 2 or more", bot.Deploy.Replicas)
	}
	if mounts(bot.Volumes)["/data"] != "" {
		t.Errorf("incidentbot: a volume at /data; on PostgreSQL the replicas keep no state of their own")
	}
	for _, p := range bot.Ports {
		host, _, _ := strings.Cut(strings.TrimPrefix(p, "127.0.0.1:"), ":")
		lo, hi, isRange := strings.Cut(host, "-")
		n1, _ := strconv.Atoi(lo)
		n2, _ := strconv.Atoi(hi)
		if !isRange || n2-n1+1 < bot.Deploy.Replicas {
			t.Errorf("incidentbot publishes %s: %d replicas need a host port range of as many ports", p, bot.Deploy.Replicas)
		}
	}
}
