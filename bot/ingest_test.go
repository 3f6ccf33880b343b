package bot

import (
	"context"
	"fmt"
	"slices"
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
		r := RosterOf(tt.roster)
		m := mergeRoster(&r, tt.roster, tt.in)
		got := kinds(m.entries)
		if got != tt.want || r.Firing != tt.firing {
			t.Errorf("%s: roster %v + %v: entries %q firing %d; want %q firing %d", tt.name, tt.roster, tt.in, got, r.Firing, tt.want, tt.firing)
		}
		// LastEnd may keep an end the alert has since left behind (it
		// fired again): it matters only once nothing fires, and then
		// every alert's end is at least the one it replaced.
		if want := RosterOf(applied(tt.roster, m.alerts)); r.Alerts != want.Alerts || r.Firing != want.Firing ||
			(want.Firing == 0 && !r.LastEnd.Equal(want.LastEnd)) {
			t.Errorf("%s: roster kept as %+v, counted afresh %+v", tt.name, r, want)
		}
	}
}

// mergeRoster merges in into roster the way ingest does, through the
// digests: only alerts whose digest differs reach merge.
func mergeRoster(r *Roster, roster, in []Alert) merged {
	s := &Service{}
	inc := s.prepare(&Notification{Alerts: in})
	p := plan{olds: map[string]Alert{}}
	stored := map[string]Digest{}
	for _, a := range roster {
		c := cloneAlert(a)
		p.olds[a.Fingerprint] = c
		stored[a.Fingerprint] = AlertDigest(&c)
	}
	for i := range inc.alerts {
		if stored[inc.fingerprints[i]] != inc.digests[i] {
			p.changed = append(p.changed, i)
		}
	}
	return merge(r, inc, p.changed, p.olds)
}

// applied is roster after storing put.
func applied(roster, put []Alert) []Alert {
	out := append([]Alert(nil), roster...)
	for _, a := range put {
		i := slices.IndexFunc(out, func(o Alert) bool { return o.Fingerprint == a.Fingerprint })
		if i < 0 {
			out = append(out, a)
		} else {
			out[i] = a
		}
	}
	return out
}

func TestMergeAlertsDoesNotAlias(t *testing.T) {
	in := firing("a1", 0)
	var r Roster
	m := mergeRoster(&r, nil, []Alert{in})
	in.Labels["service"] = "changed"
	if m.alerts[0].Labels["service"] != "payment-gateway" {
		t.Fatal("the roster shares its label map with the caller's alert")
	}
}

func TestMergeKeepsNewLabelsQuietly(t *testing.T) {
	old := firing("a1", 0)
	in := firing("a1", 0)
	in.Labels["severity"] = "critical"
	var r Roster
	m := mergeRoster(&r, []Alert{old}, []Alert{in})
	if len(m.entries) != 0 || len(m.alerts) != 1 || m.alerts[0].Labels["severity"] != "critical" {
		t.Fatalf("new labels on the same episode: entries %q, stored %v; want no entry and the new labels stored", kinds(m.entries), m.alerts)
	}
	if m.digests[0] != AlertDigest(&m.alerts[0]) {
		t.Errorf("stored digest is not the stored alert's")
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
		{"same alert, new labels", &Incident{Alerts: []Alert{firing("a1", 0)}}, []Alert{critical(firing("a1", 0))}, Policy{}, false},
	}
	for _, tt := range tests {
		s := &Service{}
		in := s.prepare(&Notification{Alerts: tt.in})
		p := plan{olds: map[string]Alert{}}
		for i := range in.alerts {
			p.changed = append(p.changed, i)
		}
		if tt.latest != nil {
			for _, a := range tt.latest.Alerts {
				p.olds[a.Fingerprint] = cloneAlert(a)
			}
		}
		if got := newlyFiring(tt.latest != nil, in, &p, tt.p); got != tt.want {
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

// TestIngestReadsAgainWhenTheGroupMovedOn: a plan read before another
// notification of the group was applied is not used: a2 joined meanwhile,
// and must not fire twice.
func TestIngestReadsAgainWhenTheGroupMovedOn(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), Options{Now: func() time.Time { return at(60) }})
	note := func(alerts ...Alert) *Notification {
		return &Notification{Receiver: "r", GroupKey: "g", Status: AlertFiring, Alerts: alerts}
	}
	first, err := s.Ingest(ctx, note(firing("a1", 0)))
	if err != nil {
		t.Fatal(err)
	}
	late := s.prepare(note(firing("a1", 0), firing("a2", 10)))
	var stale plan
	if err := s.store.View(ctx, func(tx Tx) error { return stale.read(tx, late) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(ctx, note(resolved("a1", 0, 30), firing("a2", 10))); err != nil {
		t.Fatal(err)
	}
	res, err := s.commit(ctx, late, &stale, at(60))
	if err != nil {
		t.Fatal(err)
	}
	if res.Changes != 0 {
		t.Errorf("late notification: %+v, want no change (a2 is known, a1's firing copy is stale)", res)
	}
	entries, err := s.Timeline(ctx, first.Incident)
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	for _, e := range entries {
		if e.Kind == KindAlertFired {
			fired++
		}
	}
	if fired != 2 {
		t.Errorf("alert_fired entries: got %d, want 2 (a1 and a2 once each)", fired)
	}
}

// TestIngestRepeatAfterStatusChange: a repeat is answered from its digest
// only while the incident is as open as it was; after a manual resolve the
// same notification goes the whole way, and opens nothing.
func TestIngestRepeatAfterStatusChange(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	s := NewService(st, Options{Now: func() time.Time { return at(60) }})
	n := &Notification{Receiver: "r", GroupKey: "g", Status: AlertFiring, Alerts: []Alert{firing("a1", 0)}}
	res, err := s.Ingest(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.Ingest(ctx, n); err != nil || again != (IngestResult{Incident: res.Incident}) {
		t.Fatalf("repeat: %+v, %v; want incident %d, no change", again, err, res.Incident)
	}
	if _, err := s.Apply(ctx, res.Incident, Action{Op: OpResolve, Actor: "U1"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		again, err := s.Ingest(ctx, n)
		if err != nil || again.Opened || again.Incident != res.Incident || again.Ignored == "" {
			t.Fatalf("repeat after resolve: %+v, %v; want incident %d ignored", again, err, res.Incident)
		}
	}
}

// TestIngestLargeGroup: a notification above readAhead is read beside the
// writer; its exact repeat never reaches the writer, and a change of one
// alert writes that alert alone.
func TestIngestLargeGroup(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	s := NewService(st, Options{Now: func() time.Time { return at(600) }})
	alerts := make([]Alert, readAhead+50)
	for i := range alerts {
		alerts[i] = firing(fmt.Sprintf("%04x", i), 0)
	}
	note := func() *Notification {
		return &Notification{Receiver: "r", GroupKey: "g", Status: AlertFiring, Alerts: slices.Clone(alerts)}
	}
	res, err := s.Ingest(ctx, note())
	if err != nil || !res.Opened || res.Changes != len(alerts)+1 {
		t.Fatalf("first: %+v, %v; want opened with %d changes", res, err, len(alerts)+1)
	}
	before := st.updates
	if again, err := s.Ingest(ctx, note()); err != nil || again != (IngestResult{Incident: res.Incident}) {
		t.Fatalf("repeat: %+v, %v; want incident %d, no change", again, err, res.Incident)
	}
	if st.updates != before {
		t.Errorf("the repeat took the writer %d times, want 0", st.updates-before)
	}
	alerts[7] = resolved(alerts[7].Fingerprint, 0, 30)
	changed, err := s.Ingest(ctx, note())
	if err != nil || changed.Changes != 1 {
		t.Fatalf("one alert resolved: %+v, %v; want 1 change", changed, err)
	}
	inc, err := s.Incident(ctx, res.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Roster != (Roster{Alerts: len(alerts), Firing: len(alerts) - 1, LastEnd: at(30)}) || len(inc.Alerts) != len(alerts) ||
		inc.Alerts[7].Status != AlertResolved || inc.Alerts[0].Fingerprint != "0000" {
		t.Errorf("incident after the change: roster %+v, %d alerts, alert 7 %s; want %d alerts, one resolved, in order",
			inc.Roster, len(inc.Alerts), inc.Alerts[7].Status, len(alerts))
	}
}
