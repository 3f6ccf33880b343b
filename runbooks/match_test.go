package runbooks

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/incidentbot/incidentbot/bot"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		front  string // what selects the runbook, named "memory-leak"
		labels map[string]string
		url    string // the alert's runbook_url annotation
		want   bool
	}{
		{name: "equal", front: `match: alertname="MemoryLeak"`, labels: map[string]string{"alertname": "MemoryLeak"}, want: true},
		{name: "equal, other value", front: `match: alertname="MemoryLeak"`, labels: map[string]string{"alertname": "DiskFull"}},
		{name: "regex", front: `match: alertname=~"MemoryLeak|HighMemoryUsage"`, labels: map[string]string{"alertname": "HighMemoryUsage"}, want: true},
		{name: "regex is anchored", front: `match: alertname=~"Memory"`, labels: map[string]string{"alertname": "MemoryLeak"}},
		{name: "not equal", front: `match: alertname="MemoryLeak", env!="staging"`, labels: map[string]string{"alertname": "MemoryLeak", "env": "prod"}, want: true},
		{name: "not equal, excluded", front: `match: alertname="MemoryLeak", env!="staging"`, labels: map[string]string{"alertname": "MemoryLeak", "env": "staging"}},
		{name: "not equal, label missing", front: `match: alertname="MemoryLeak", env!="staging"`, labels: map[string]string{"alertname": "MemoryLeak"}, want: true},
		{name: "negative regex", front: `match: alertname="MemoryLeak", namespace!~"dev-.*"`, labels: map[string]string{"alertname": "MemoryLeak", "namespace": "dev-42"}},
		{name: "negative regex, other value", front: `match: alertname="MemoryLeak", namespace!~"dev-.*"`, labels: map[string]string{"alertname": "MemoryLeak", "namespace": "payments"}, want: true},
		{name: "equal empty means label missing", front: `match: alertname="MemoryLeak", team=""`, labels: map[string]string{"alertname": "MemoryLeak"}, want: true},
		{name: "matchers in a set are ANDed", front: `match: alertname="MemoryLeak", service="payment-gateway"`, labels: map[string]string{"alertname": "MemoryLeak", "service": "search"}},
		{name: "list items are ORed", front: "match:\n  - alertname=\"MemoryLeak\"\n  - alertname=\"OOMKilled\"", labels: map[string]string{"alertname": "OOMKilled"}, want: true},
		{name: "braces accepted", front: `match: '{alertname="MemoryLeak"}'`, labels: map[string]string{"alertname": "MemoryLeak"}, want: true},
		{name: "runbook_url last element", front: `match: alertname="Nope"`, labels: map[string]string{"alertname": "X"}, url: "https://wiki.example/runbooks/memory-leak", want: true},
		{name: "runbook_url with .md and trailing slash", front: `match: alertname="Nope"`, url: "https://github.com/org/ops/blob/main/runbooks/memory-leak.md/", want: true},
		{name: "runbook_url with query and case", front: `match: alertname="Nope"`, url: "https://wiki.example/runbooks/Memory-Leak?version=3", want: true},
		{name: "runbook_url fragment", front: `match: alertname="Nope"`, url: "https://wiki.example/runbooks.md#memory-leak", want: true},
		{name: "runbook_url of another runbook", front: `match: alertname="Nope"`, url: "https://wiki.example/runbooks/memory-leak-jvm"},
		{name: "runbook_url naming it in the middle only", front: `match: alertname="Nope"`, url: "https://wiki.example/memory-leak/disk-full"},
		{name: "runbook_urls substring", front: "runbook_urls: [confluence.example/x/AbC123]", url: "https://confluence.example/x/AbC123?src=alert", want: true},
		{name: "runbook_urls other page", front: "runbook_urls: [confluence.example/x/AbC123]", url: "https://confluence.example/x/Zzz"},
		{name: "no runbook_url", front: "runbook_urls: [confluence.example/x/AbC123]", labels: map[string]string{"alertname": "MemoryLeak"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "---\nname: memory-leak\ntitle: Memory leak\n" + tt.front + "\n---\n1. Profile.\n"
			rb, probs := parse("memory-leak.md", []byte(in))
			if len(probs) > 0 {
				t.Fatalf("parse(%q): %v", in, probs)
			}
			a := bot.Alert{Status: bot.AlertFiring, Labels: tt.labels}
			if tt.url != "" {
				a.Annotations = map[string]string{"runbook_url": tt.url}
			}
			if got := rb.matches(a); got != tt.want {
				t.Errorf("runbook %q, alert labels %v runbook_url %q: matches = %v, want %v", tt.front, tt.labels, tt.url, got, tt.want)
			}
		})
	}
}

func TestSetMatch(t *testing.T) {
	fsys := fstest.MapFS{
		"rb/b.md": {Data: []byte("---\nname: b\ntitle: B\nmatch: severity=\"critical\"\n---\n1. x\n")},
		"rb/a.md": {Data: []byte("---\nname: a\ntitle: A\nmatch: alertname=\"Leak\"\n---\n1. x\n")},
		"rb/c.md": {Data: []byte("---\nname: c\ntitle: C\nmatch: alertname=\"Other\"\n---\n1. x\n")},
	}
	set, err := Load(fsys, "rb")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		alerts []bot.Alert
		want   []string
	}{
		{name: "no alerts", want: nil},
		{name: "one alert, two runbooks, sorted by name", alerts: []bot.Alert{alert("Leak", "severity", "critical")}, want: []string{"a", "b"}},
		{name: "any alert of the incident", alerts: []bot.Alert{alert("Nothing"), alert("Other")}, want: []string{"c"}},
		{name: "each runbook once", alerts: []bot.Alert{alert("Leak"), alert("Leak")}, want: []string{"a"}},
		{name: "resolved alerts count", alerts: []bot.Alert{{Status: bot.AlertResolved, Labels: map[string]string{"alertname": "Leak"}}}, want: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(set.Match(tt.alerts)); !slices.Equal(got, tt.want) {
				t.Errorf("Match(%v) = %v, want %v", tt.alerts, got, tt.want)
			}
		})
	}
}

func TestBuiltinMatch(t *testing.T) {
	tests := []struct {
		name  string
		alert bot.Alert
		want  []string
	}{
		{name: "MemoryLeak for payment-gateway", alert: alert("MemoryLeak", "service", "payment-gateway", "severity", "critical"), want: []string{"memory-leak"}},
		{name: "OOM kill", alert: alert("KubePodOOMKilled", "namespace", "payments"), want: []string{"memory-leak"}},
		{name: "predicted growth", alert: alert("MemoryGrowth"), want: []string{"memory-leak"}},
		{name: "predicted exhaustion", alert: alert("MemoryExhaustionPredicted"), want: []string{"memory-leak"}},
		{name: "deploy/ rules name it by runbook_url", alert: bot.Alert{Labels: map[string]string{"alertname": "IncidentbotMemoryGrowth"}, Annotations: map[string]string{"runbook_url": "https://runbooks.example.com/memory-leak"}}, want: []string{"memory-leak"}},
		{name: "error rate", alert: alert("HighErrorRate", "service", "payment-gateway"), want: []string{"high-error-rate"}},
		{name: "burn rate", alert: alert("CheckoutErrorBudgetBurn"), want: []string{"high-error-rate"}},
		{name: "nginx 5xx", alert: alert("NginxHighHttp5xxErrorRate"), want: []string{"high-error-rate"}},
		{name: "latency", alert: alert("HighLatency"), want: []string{"high-latency"}},
		{name: "p99", alert: alert("APIP99LatencyHigh"), want: []string{"high-latency"}},
		{name: "unrelated", alert: alert("DiskFull")},
		{name: "by runbook_url", alert: bot.Alert{Labels: map[string]string{"alertname": "PaymentsSlowCheckout2"}, Annotations: map[string]string{"runbook_url": "https://github.com/incidentbot/incidentbot/blob/main/runbooks/builtin/memory-leak.md"}}, want: []string{"memory-leak"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(Builtin().Match([]bot.Alert{tt.alert})); !slices.Equal(got, tt.want) {
				t.Errorf("Builtin().Match(labels %v, annotations %v) = %v, want %v", tt.alert.Labels, tt.alert.Annotations, got, tt.want)
			}
		})
	}
}

// alert builds a firing alert from its name and label pairs.
func alert(name string, kv ...string) bot.Alert {
	a := bot.Alert{Status: bot.AlertFiring, Labels: map[string]string{"alertname": name}}
	for i := 0; i+1 < len(kv); i += 2 {
		a.Labels[kv[i]] = kv[i+1]
	}
	return a
}

func names(rbs []bot.Runbook) []string {
	var out []string
	for _, rb := range rbs {
		out = append(out, rb.Name)
	}
	return out
}

// TestMatchSaysWhy checks that a matched runbook names the alert and the
// matcher set (or the runbook_url) that chose it, for the channel's note.
func TestMatchSaysWhy(t *testing.T) {
	set := Builtin()
	tests := []struct {
		name  string
		alert bot.Alert
		want  string
	}{
		{name: "matcher", alert: bot.Alert{Labels: map[string]string{"alertname": "KubePodOOMKilled"}},
			want: `alert KubePodOOMKilled matches {alertname=~"KubePodOOMKilled|KubernetesContainerOomKiller|ContainerOOMKilled|OOMKilled"}`},
		{name: "runbook_url", alert: bot.Alert{Labels: map[string]string{"alertname": "Odd"}, Annotations: map[string]string{"runbook_url": "https://wiki.example/runbooks/memory-leak"}},
			want: "alert Odd has runbook_url https://wiki.example/runbooks/memory-leak"},
	}
	for _, tt := range tests {
		got := set.Match([]bot.Alert{tt.alert})
		if len(got) != 1 || got[0].Name != "memory-leak" || got[0].Reason != tt.want {
			t.Errorf("%s: Match = %+v, want memory-leak with reason %q", tt.name, got, tt.want)
		}
	}
	if rb, _ := set.Get("memory-leak"); rb.Reason != "" {
		t.Errorf("Get gives reason %q, want none", rb.Reason)
	}
}
