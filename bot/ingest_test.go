package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func firing(fp string, start int) Alert {
	return Alert{Fingerprint: fp, Status: AlertFiring, StartsAt: at(start),
		Labels: map[string]string{"alertname": "MemoryLeak", "service": "payment-gateway", "instance": fp}}
}

func resolved(fp string, start, end int) Alert {
	a := firing(fp, start)
	e := at(end)
	a.Status, a.EndsAt = AlertResolved, &e
	return a
}

func kinds(entries []*TimelineEntry) string {
	var parts []string
	for _, e := range entries {
		parts = append(parts, fmt.Sprintf("%s@%d", e.Kind, int(e.At.Sub(t0)/time.Minute)))
	}
	return strings.Join(parts, " ")
}

func TestMergeAlerts(t *testing.T) {
	tests := []struct {
		name   string
		roster []Alert
		in     []Alert
		want   string // kinds@minute of the entries
		firing int
	}{
		{"new firing alert", nil, []Alert{firing("a1", 0)}, "alert_fired@0", 1},
		{"exact repeat adds nothing", []Alert{firing("a1", 0)}, []Alert{firing("a1", 0)}, "", 1},
		{"resolution dated with endsAt", []Alert{firing("a1", 0)}, []Alert{resolved("a1", 0, 150)}, "alert_resolved@150", 0},
		{"repeat of a resolution adds nothing", []Alert{resolved("a1", 0, 150)}, []Alert{resolved("a1", 0, 150)}, "", 0},
		{"late firing copy after resolution is stale", []Alert{resolved("a1", 0, 150)}, []Alert{firing("a1", 0)}, "", 0},
		{"older episode arriving late is ignored", []Alert{firing("a1", 60)}, []Alert{resolved("a1", 0, 30)}, "", 1},
		{"fires again after resolving", []Alert{resolved("a1", 0, 30)}, []Alert{firing("a1", 45)}, "alert_fired@45", 1},
		{"first seen already resolved", nil, []Alert{resolved("a1", 0, 20)}, "alert_fired@0 alert_resolved@20", 0},
		{"second alert joins", []Alert{firing("a1", 0)}, []Alert{firing("a1", 0), firing("a2", 10)}, "alert_fired@10", 2},
	}
	for _, tt := range tests {
		inc := &Incident{ID: 1, Alerts: append([]Alert(nil), tt.roster...)}
		got := kinds(mergeAlerts(inc, tt.in))
		if got != tt.want || inc.Firing() != tt.firing {
			t.Errorf("%s: roster %v + %v: entries %q firing %d; want %q firing %d", tt.name, tt.roster, tt.in, got, inc.Firing(), tt.want, tt.firing)
		}
	}
}

func TestMergeAlertsDoesNotAlias(t *testing.T) {
	in := firing("a1", 0)
	inc := &Incident{}
	mergeAlerts(inc, []Alert{in})
	in.Labels["service"] = "changed"
	if inc.Alerts[0].Labels["service"] != "payment-gateway" {
		t.Fatal("the roster shares its label map with the caller's alert")
	}
}

func TestNewlyFiring(t *testing.T) {
	critical := func(a Alert) Alert { a.Labels["severity"] = "critical"; return a }
	onlyCritical := Policy{Opens: func(l map[string]string) bool { return l["severity"] == "critical" }}
	tests := []struct {
		name   string
		latest *Incident
		in     []Alert
		p      Policy
		want   bool
	}{
		{"no incident yet", nil, []Alert{firing("a1", 0)}, Policy{}, true},
		{"resolved alerts only", nil, []Alert{resolved("a1", 0, 5)}, Policy{}, false},
		{"filtered out", nil, []Alert{firing("a1", 0)}, onlyCritical, false},
		{"passes filter", nil, []Alert{critical(firing("a1", 0))}, onlyCritical, true},
		{"repeat after manual resolve", &Incident{Alerts: []Alert{firing("a1", 0)}}, []Alert{firing("a1", 0)}, Policy{}, false},
		{"new episode after resolve", &Incident{Alerts: []Alert{resolved("a1", 0, 10)}}, []Alert{firing("a1", 20)}, Policy{}, true},
		{"new alert in group", &Incident{Alerts: []Alert{resolved("a1", 0, 10)}}, []Alert{firing("a2", 20)}, Policy{}, true},
	}
	for _, tt := range tests {
		if got := newlyFiring(tt.latest, tt.in, tt.p); got != tt.want {
			t.Errorf("%s: newlyFiring = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSeverityOf(t *testing.T) {
	custom := Policy{SeverityLabel: "priority", Severities: map[string]Severity{"p1": SEV1}, Unknown: SEV2}
	tests := []struct {
		name   string
		p      Policy
		labels map[string]string
		want   Severity
	}{
		{"critical", Policy{}, map[string]string{"severity": "critical"}, SEV1},
		{"error", Policy{}, map[string]string{"severity": "error"}, SEV2},
		{"major", Policy{}, map[string]string{"severity": "major"}, SEV2},
		{"warning", Policy{}, map[string]string{"severity": "warning"}, SEV3},
		{"info", Policy{}, map[string]string{"severity": "info"}, SEV4},
		{"case and space", Policy{}, map[string]string{"severity": " Critical "}, SEV1},
		{"unknown", Policy{}, map[string]string{"severity": "meh"}, SEV3},
		{"missing", Policy{}, nil, SEV3},
		{"custom label", custom, map[string]string{"priority": "p1"}, SEV1},
		{"custom unknown", custom, map[string]string{"severity": "critical"}, SEV2},
	}
	for _, tt := range tests {
		if got := tt.p.SeverityOf(tt.labels); got != tt.want {
			t.Errorf("%s: SeverityOf(%v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

func TestValidateNotification(t *testing.T) {
	now := at(60)
	good := func() *Notification {
		return &Notification{GroupKey: "{}:{alertname=\"X\"}", Status: AlertFiring, Alerts: []Alert{firing("a1", 0)}}
	}
	tests := []struct {
		name   string
		mutate func(n *Notification)
		want   string
	}{
		{"valid", func(*Notification) {}, ""},
		{"no group key", func(n *Notification) { n.GroupKey = "" }, "groupKey is empty"},
		{"no alerts", func(n *Notification) { n.Alerts = nil }, "alerts is empty"},
		{"bad status", func(n *Notification) { n.Status = "burning" }, `status "burning"`},
		{"bad fingerprint", func(n *Notification) { n.Alerts[0].Fingerprint = "zz" }, "alerts[0].fingerprint"},
		{"no start", func(n *Notification) { n.Alerts[0].StartsAt = time.Time{} }, "alerts[0].startsAt is missing"},
		{"future start", func(n *Notification) { n.Alerts[0].StartsAt = now.Add(time.Hour) }, "alerts[0].startsAt"},
		{"small skew is fine", func(n *Notification) { n.Alerts[0].StartsAt = now.Add(time.Minute) }, ""},
		{"resolved without end", func(n *Notification) { n.Alerts[0].Status = AlertResolved }, "endsAt is missing"},
		{"end before start", func(n *Notification) { n.Alerts[0] = resolved("a1", 10, 5) }, "endsAt is before startsAt"},
		{"duplicate fingerprint", func(n *Notification) { n.Alerts = append(n.Alerts, firing("a1", 1)) }, "appears twice"},
		{"negative truncation", func(n *Notification) { n.TruncatedAlerts = -1 }, "truncatedAlerts"},
	}
	for _, tt := range tests {
		n := good()
		tt.mutate(n)
		err := n.Validate(now)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestTitleOf(t *testing.T) {
	n := &Notification{CommonLabels: map[string]string{"alertname": "MemoryLeak", "service": "payment-gateway"}}
	if got := titleOf(n); got != "MemoryLeak on payment-gateway" {
		t.Errorf("titleOf = %q", got)
	}
	n = &Notification{Alerts: []Alert{{Labels: map[string]string{"alertname": "A"}}}}
	if got := titleOf(n); got != "A" {
		t.Errorf("titleOf without common labels = %q, want A", got)
	}
}
