package main

import (
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

const profilesYAML = `
silences:
  expire_on_resolve: false
profiles:
  - match: ['alertname=~"HighMemoryUsage|MemoryLeak"']
    url: 'http://{{ .Labels.instance }}/debug/pprof/heap'
    allow: ['10.0.0.0/8', 'payments.svc.cluster.local']
    after: 10m
  - allow: ['debug.example.com']
`

func TestProfilesConfig(t *testing.T) {
	c, err := loadConfig(writeFile(t, "c.yml", profilesYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Loop.KeepSilences || !c.Loop.Profiling() {
		t.Errorf("loop config %+v", c.Loop)
	}
	alert := func(labels map[string]string, ann map[string]string) bot.Alert {
		return bot.Alert{Labels: labels, Annotations: ann}
	}
	tests := []struct {
		name string
		a    bot.Alert
		want []string
	}{
		{"template on an allowed network", alert(map[string]string{"alertname": "MemoryLeak", "instance": "10.1.2.3:6060"}, nil),
			[]string{"http://10.1.2.3:6060/debug/pprof/heap 10m0s"}},
		{"allowed name", alert(map[string]string{"alertname": "HighMemoryUsage", "instance": "payments.svc.cluster.local:6060"}, nil),
			[]string{"http://payments.svc.cluster.local:6060/debug/pprof/heap 10m0s"}},
		{"host outside the allow-list", alert(map[string]string{"alertname": "MemoryLeak", "instance": "192.168.1.1:6060"}, nil), nil},
		{"label missing", alert(map[string]string{"alertname": "MemoryLeak"}, nil), nil},
		{"other alerts", alert(map[string]string{"alertname": "DiskFull", "instance": "10.1.2.3:6060"}, nil), nil},
		{"a label that injects a host", alert(map[string]string{"alertname": "MemoryLeak", "instance": "evil.com/x?@10.0.0.1"}, nil), nil},
		{"pprof_url on an allowed host", alert(map[string]string{"alertname": "DiskFull"}, map[string]string{"pprof_url": "https://debug.example.com/debug/pprof/heap"}),
			[]string{"https://debug.example.com/debug/pprof/heap 0s"}},
		{"pprof_url elsewhere", alert(map[string]string{"alertname": "DiskFull"}, map[string]string{"pprof_url": "http://169.254.169.254/latest"}), nil},
	}
	for _, tc := range tests {
		var got []string
		for _, tg := range c.Loop.ProfileTargets(tc.a) {
			got = append(got, tg.URL+" "+tg.After.String())
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: targets %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestProfilesConfigRefusals(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"no allow", "profiles:\n  - match: ['a=\"b\"']\n    url: http://x/\n", "profiles[0].allow"},
		{"bad allow", "profiles:\n  - allow: ['*.example.com']\n", "allow entry"},
		{"url without match", "profiles:\n  - url: 'http://x/'\n    allow: [x]\n", "needs matchers"},
		{"bad template", "profiles:\n  - match: ['a=\"b\"']\n    url: 'http://{{ .Labels.x'\n    allow: [x]\n", "profiles[0].url"},
		{"bad matcher", "profiles:\n  - match: ['a=~\"(\"']\n    allow: [x]\n", "profiles[0].match"},
		{"bad after", "profiles:\n  - allow: [x]\n    after: 2 days\n", "after"},
		{"long after", "profiles:\n  - allow: [x]\n    after: 2d\n", "at most 24h"},
	}
	for _, tc := range tests {
		if _, err := loadConfig(writeFile(t, "c.yml", tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
	}
}
