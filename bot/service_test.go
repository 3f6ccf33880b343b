package bot_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

var t0 = time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)

// newService builds a service over a real bbolt file with a settable clock.
func newService(t *testing.T, p bot.Policy) (*bot.Service, *time.Time) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := t0.Add(3 * time.Hour)
	return bot.NewService(st, bot.Options{Policy: p, Now: func() time.Time { return now }}), &now
}

func leakAlert(instance string, startMin int, endMin int) bot.Alert {
	a := bot.Alert{
		Fingerprint: map[string]string{"pg-1": "a1b2c3d4e5f60001", "pg-2": "a1b2c3d4e5f60002"}[instance],
		Status:      bot.AlertFiring,
		Labels:      map[string]string{"alertname": "MemoryLeak", "service": "payment-gateway", "severity": "critical", "instance": instance},
		Annotations: map[string]string{"summary": "payment-gateway RSS grows 40 MB/min on " + instance},
		StartsAt:    t0.Add(time.Duration(startMin) * time.Minute),
	}
	if endMin >= 0 {
		e := t0.Add(time.Duration(endMin) * time.Minute)
		a.Status, a.EndsAt = bot.AlertResolved, &e
	}
	return a
}

func notification(alerts ...bot.Alert) *bot.Notification {
	n := &bot.Notification{Receiver: "incidentbot", GroupKey: `{}:{alertname="MemoryLeak", service="payment-gateway"}`,
		Status: bot.AlertResolved, ExternalURL: "http://alertmanager:9093",
		GroupLabels:  map[string]string{"alertname": "MemoryLeak", "service": "payment-gateway"},
		CommonLabels: map[string]string{"alertname": "MemoryLeak", "service": "payment-gateway", "severity": "critical"},
		Alerts:       alerts}
	for _, a := range alerts {
		if a.Status == bot.AlertFiring {
			n.Status = bot.AlertFiring
		}
	}
	return n
}

func mustIngest(t *testing.T, s *bot.Service, n *bot.Notification) bot.IngestResult {
	t.Helper()
	res, err := s.Ingest(context.Background(), n)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return res
}

func TestIngestOneIncidentPerGroupAndNoDuplicates(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	ctx := context.Background()
	first := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	if !first.Opened || first.Incident != 1 || first.Changes != 2 {
		t.Fatalf("first notification = %+v, want incident 1 opened with 2 entries", first)
	}
	for i := range 3 { // repeat_interval, retries, HA peers
		if res := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1))); res.Changes != 0 || res.Opened || res.Incident != 1 {
			t.Fatalf("repeat %d = %+v, want no change to incident 1", i, res)
		}
	}
	if res := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1), leakAlert("pg-2", 5, -1))); res.Changes != 1 || res.Incident != 1 {
		t.Fatalf("second alert = %+v, want one change to incident 1", res)
	}
	other := notification(leakAlert("pg-1", 0, -1))
	other.Receiver = "team.ops"
	if res := mustIngest(t, s, other); !res.Opened || res.Incident != 2 {
		t.Fatalf("same group key, other receiver = %+v, want incident 2 opened", res)
	}
	tl, err := s.Timeline(ctx, 1)
	if err != nil || len(tl) != 3 {
		t.Fatalf("timeline of 1 = %d entries, %v; want 3", len(tl), err)
	}
}

func TestIngestResolvesAndReopensAsNewIncident(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	ctx := context.Background()
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1), leakAlert("pg-2", 0, -1)))
	if res := mustIngest(t, s, notification(leakAlert("pg-1", 0, 60), leakAlert("pg-2", 0, -1))); res.Changes != 1 {
		t.Fatalf("one alert resolved = %+v, want 1 change", res)
	}
	inc, _ := s.Incident(ctx, 1)
	if !inc.Open() {
		t.Fatal("incident resolved while an alert still fires")
	}
	mustIngest(t, s, notification(leakAlert("pg-1", 0, 60), leakAlert("pg-2", 0, 90)))
	inc, _ = s.Incident(ctx, 1)
	if inc.Open() || inc.ResolvedAt == nil || !inc.ResolvedAt.Equal(t0.Add(90*time.Minute)) || inc.ResolvedBy != bot.ActorAlertmanager {
		t.Fatalf("after every alert resolved: status %s resolved_at %v by %q; want resolved at 15:30 by alertmanager", inc.Status, inc.ResolvedAt, inc.ResolvedBy)
	}
	// The resolved notification again: nothing.
	if res := mustIngest(t, s, notification(leakAlert("pg-1", 0, 60), leakAlert("pg-2", 0, 90))); res.Changes != 0 || res.Opened {
		t.Fatalf("repeat of resolution = %+v, want nothing", res)
	}
	// The group fires again: a new incident.
	if res := mustIngest(t, s, notification(leakAlert("pg-1", 120, -1))); !res.Opened || res.Incident != 2 {
		t.Fatalf("fires again = %+v, want incident 2 opened", res)
	}
}

func TestIngestKeepOpenPolicyAndFilter(t *testing.T) {
	s, _ := newService(t, bot.Policy{KeepOpenWhenAlertsResolve: true,
		Opens: func(l map[string]string) bool { return l["severity"] == "critical" }})
	ctx := context.Background()
	warn := leakAlert("pg-1", 0, -1)
	warn.Labels["severity"] = "warning"
	if res := mustIngest(t, s, notification(warn)); res.Opened || res.Incident != 0 || res.Ignored == "" {
		t.Fatalf("warning under a critical-only filter = %+v, want ignored", res)
	}
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	mustIngest(t, s, notification(leakAlert("pg-1", 0, 30)))
	inc, _ := s.Incident(ctx, 1)
	tl, _ := s.Timeline(ctx, 1)
	if !inc.Open() || tl[len(tl)-1].Kind != bot.KindAlertsCleared {
		t.Fatalf("keep-open policy: status %s, last entry %s; want open with alerts_cleared last", inc.Status, tl[len(tl)-1].Kind)
	}
}

func TestIngestNotesTruncationOnce(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	ctx := context.Background()
	n := notification(leakAlert("pg-1", 0, -1))
	n.TruncatedAlerts = 40
	mustIngest(t, s, n)
	if res := mustIngest(t, s, n); res.Changes != 0 {
		t.Errorf("the same truncated notification again = %+v, want no change", res)
	}
	n.TruncatedAlerts = 55
	mustIngest(t, s, n)
	tl, _ := s.Timeline(ctx, 1)
	var notes []string
	for _, e := range tl {
		if e.Kind == bot.KindAlertsTruncated {
			notes = append(notes, e.Text)
		}
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "left 40 alerts") || !strings.Contains(notes[1], "left 55 alerts") {
		t.Errorf("truncation entries = %q, want one for 40 then one for 55", notes)
	}
}

func TestApplyRules(t *testing.T) {
	s, now := newService(t, bot.Policy{})
	ctx := context.Background()
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	tests := []struct {
		name string
		a    bot.Action
		want error
	}{
		{"ack", bot.Action{Op: bot.OpAck, Actor: "<@U1>", When: "14:05"}, nil},
		{"ack twice", bot.Action{Op: bot.OpAck, Actor: "<@U2>"}, bot.ErrConflict},
		{"before detection is kept", bot.Action{Op: bot.OpNote, Actor: "<@U1>", When: "2024-06-20T13:00:00Z", Text: "deploy 4411"}, nil},
		{"lead must be a person", bot.Action{Op: bot.OpLead, Actor: "<@U1>", Text: "bob"}, bot.ErrInvalid},
		{"in the future", bot.Action{Op: bot.OpNote, Actor: "<@U1>", When: "2024-06-20T18:00:00Z", Text: "x"}, bot.ErrInvalid},
		{"note without text", bot.Action{Op: bot.OpNote, Actor: "<@U1>"}, bot.ErrInvalid},
		{"no actor", bot.Action{Op: bot.OpAck}, bot.ErrInvalid},
		{"same severity", bot.Action{Op: bot.OpSeverity, Actor: "<@U1>", Severity: bot.SEV1}, bot.ErrConflict},
		{"severity", bot.Action{Op: bot.OpSeverity, Actor: "<@U1>", Severity: bot.SEV2}, nil},
		{"monitoring", bot.Action{Op: bot.OpStatus, Actor: "<@U1>", When: "16:00", Status: bot.StatusMonitoring}, nil},
		{"reopen while open", bot.Action{Op: bot.OpReopen, Actor: "<@U1>"}, bot.ErrConflict},
		{"resolve", bot.Action{Op: bot.OpResolve, Actor: "<@U1>", When: "16:30", Text: "patched"}, nil},
		{"resolve twice", bot.Action{Op: bot.OpResolve, Actor: "<@U1>"}, bot.ErrConflict},
		{"status on resolved", bot.Action{Op: bot.OpStatus, Actor: "<@U1>", Status: bot.StatusIdentified}, bot.ErrConflict},
		{"note after resolve is fine", bot.Action{Op: bot.OpNote, Actor: "<@U1>", Text: "for the postmortem"}, nil},
		{"reopen", bot.Action{Op: bot.OpReopen, Actor: "<@U1>"}, nil},
		{"unknown op", bot.Action{Op: "explode", Actor: "<@U1>"}, bot.ErrInvalid},
	}
	for _, tt := range tests {
		before, _ := s.Timeline(ctx, 1)
		_, err := s.Apply(ctx, 1, tt.a)
		after, _ := s.Timeline(ctx, 1)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Apply(%+v) = %v, want %v", tt.name, tt.a, err, tt.want)
		}
		if grew := len(after) - len(before); (err == nil && grew != 1) || (err != nil && grew != 0) {
			t.Errorf("%s: the timeline grew by %d entries (err %v)", tt.name, grew, err)
		}
	}
	inc, _ := s.Incident(ctx, 1)
	if inc.AcknowledgedBy != "U1" || !inc.AcknowledgedAt.Equal(t0.Add(5*time.Minute)) || !inc.MitigatedAt.Equal(t0.Add(2*time.Hour)) ||
		inc.ResolvedAt != nil || inc.Status != bot.StatusInvestigating || !inc.SeverityByHand {
		t.Errorf("incident after the sequence = %+v", inc)
	}
	if _, err := s.Apply(ctx, 99, bot.Action{Op: bot.OpAck, Actor: "x"}); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("Apply on a missing incident = %v, want ErrNotFound", err)
	}
	_ = now
}

func TestDeclare(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	ctx := context.Background()
	inc, err := s.Declare(ctx, "  Checkout is slow ", 0, "<@U9>", time.Time{})
	if err != nil || inc.ID != 1 || inc.Title != "Checkout is slow" || inc.Severity != bot.SEV3 || inc.GroupKey != "" {
		t.Fatalf("Declare = %+v, %v", inc, err)
	}
	for _, title := range []string{"", "   ", strings.Repeat("x", 201)} {
		if _, err := s.Declare(ctx, title, bot.SEV1, "<@U9>", time.Time{}); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("Declare(%q) = %v, want ErrInvalid", title, err)
		}
	}
	list, _ := s.Incidents(ctx, bot.IncidentFilter{})
	if len(list) != 1 {
		t.Errorf("%d incidents after one good declare, want 1", len(list))
	}
}

// TestReferencePostmortem replays the incident of
// reference/postmortem-payment-meltdown-2024.md and checks the draft
// against a golden file (go test ./bot -update rewrites it).
func TestReferencePostmortem(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := t0.Add(3 * time.Hour)
	dir := fakeDirectory{"U0CAPTAIN": "Captain Debug (@captain)", "U0ATEAM": "Ada Team (@ateam)"}
	s := bot.NewService(st, bot.Options{Now: func() time.Time { return now }, Directory: dir})
	ctx := context.Background()
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	// Slack sends mentions as <@U|name> or <@U>, and actors as bare IDs:
	// all name one person.
	captain, ateam := "U0CAPTAIN", "<@U0ATEAM|ateam>"
	steps := []bot.Action{
		{Op: bot.OpNote, Actor: captain, When: "2024-06-20 13:10", Text: "Deploy 4411 of the payment gateway went out."},
		{Op: bot.OpAck, Actor: captain, When: "14:05"},
		{Op: bot.OpNote, Actor: captain, When: "14:10", Text: "Initial thought: traffic spike. Traffic is normal for a weekday."},
		{Op: bot.OpNote, Actor: captain, When: "14:20", Text: "Traffic logs reviewed, no suspicious activity."},
		{Op: bot.OpNote, Actor: "<@U0CAPTAIN>", When: "14:30", Text: "Server logs show high memory usage on the payment gateway hosts."},
		{Op: bot.OpLead, Actor: "<@U0CAPTAIN|captain>", When: "14:40", Text: ateam},
		{Op: bot.OpNote, Actor: "U0ATEAM", When: "15:00", Text: "Recent deployments checked: all clear."},
		{Op: bot.OpNote, Actor: ateam, When: "15:20", Text: "Detailed memory profiling of the payment gateway module begins with <@U0CAPTAIN|captain>."},
		{Op: bot.OpStatus, Actor: ateam, When: "15:40", Status: bot.StatusIdentified},
		{Op: bot.OpCause, Actor: ateam, When: "15:40", Text: "A memory leak in the payment gateway integration module: each transaction kept its buffers."},
		{Op: bot.OpImpact, Actor: captain, When: "15:45", Text: "75% of users saw slow page loads and failed payments."},
		{Op: bot.OpStatus, Actor: ateam, When: "16:00", Status: bot.StatusMonitoring},
		{Op: bot.OpNote, Actor: ateam, When: "16:00", Text: "Servers restarted to release the leaked memory; patch rolling out."},
		{Op: bot.OpAction, Actor: ateam, When: "16:10", Text: "Add monitoring on server memory for all critical modules"},
		{Op: bot.OpAction, Actor: ateam, When: "16:10", Text: "Deploy automated tests that catch memory leaks"},
		{Op: bot.OpResolve, Actor: captain, When: "16:30", Text: "Patch released memory after each transaction; verified in staging, then deployed."},
		{Op: bot.OpImpact, Actor: captain, Text: "75% of users saw slow page loads and failed payments for 2.5 hours."},
	}
	for _, a := range steps {
		if _, err := s.Apply(ctx, 1, a); err != nil {
			t.Fatalf("Apply(%+v): %v", a, err)
		}
	}
	mustIngest(t, s, notification(leakAlert("pg-1", 0, 150)))
	p, err := s.Postmortem(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := p.Markdown()
	for _, want := range []string{
		"**Duration of Outage:** June 20, 2024, 14:00 UTC to June 20, 2024, 16:30 UTC",
		"- **13:10 UTC:** Deploy 4411 of the payment gateway went out. — Captain Debug (@captain) *(before detection)*",
		"- **14:05 UTC:** acknowledged by Captain Debug (@captain)",
		"- **14:40 UTC:** Ada Team (@ateam) is the incident lead — Captain Debug (@captain)",
		"**Responders:** Captain Debug (@captain), Ada Team (@ateam)\n",
		"**Impact:** 75% of users saw slow page loads and failed payments for 2.5 hours.",
		"| Acknowledged | June 20, 2024, 14:05 UTC | 5m |",
		"| Resolved | June 20, 2024, 16:30 UTC | 2h 30m |",
		"- [ ] Deploy automated tests that catch memory leaks (Ada Team (@ateam), 16:10 UTC)",
		"**Root Cause:** TODO: the chain of events",
		"**Improvements:**\nTODO:",
		"```mermaid",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("draft lacks %q", want)
		}
	}
	for _, bad := range []string{"<@", "U0CAPTAIN", "impact: ", "cause: ", "action item: "} {
		if strings.Contains(md, bad) {
			t.Errorf("draft contains %q: raw mentions, IDs or facts stamped as events", bad)
		}
	}
	bot.Golden(t, "testdata/reference.golden.md", md)
}

// fakeDirectory names people from a map; others are unknown.
type fakeDirectory map[string]string

func (d fakeDirectory) DisplayName(_ context.Context, id string) (string, error) {
	if n, ok := d[id]; ok {
		return n, nil
	}
	return "", fmt.Errorf("%w: user %s", bot.ErrNotFound, id)
}

// TestRepeatsDoNotCommit guards the cheap path of most Alertmanager
// traffic: a repeat writes nothing, so the store syncs nothing.
// peeker is a store that answers PeekGroup (as a database store does, in
// one read) and counts what ingest asks of it.
type peeker struct {
	bot.Store
	peeks, updates int
}

func (p *peeker) Update(ctx context.Context, fn func(tx bot.Tx) error) error {
	p.updates++
	return p.Store.Update(ctx, fn)
}

func (p *peeker) PeekGroup(ctx context.Context, receiver, groupKey string) (g bot.GroupState, stored, open bool, err error) {
	p.peeks++
	err = p.View(ctx, func(tx bot.Tx) error {
		if g, err = tx.Group(receiver, groupKey); err != nil {
			return err
		}
		inc, err := tx.IncidentHeader(g.Incident)
		if err == nil {
			stored, open = true, inc.Open()
		}
		return nil
	})
	return g, stored, open, err
}

// TestRepeatsAnsweredByPeek: on a store that is a bot.GroupPeeker, a repeat
// is answered from PeekGroup alone, and a change still goes to the writer.
func TestRepeatsAnsweredByPeek(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &peeker{Store: st}
	// Wake and OnTimers wrap the store: the peek must still be found.
	s := bot.NewService(p, bot.Options{Now: func() time.Time { return t0.Add(3 * time.Hour) }, Wake: func() {}, OnTimers: func() {}})
	first := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	p.peeks, p.updates = 0, 0
	for range 5 {
		if res := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1))); res != (bot.IngestResult{Incident: first.Incident}) {
			t.Errorf("a repeat: got %+v, want incident %d and nothing else", res, first.Incident)
		}
	}
	if p.peeks != 5 || p.updates != 0 {
		t.Errorf("5 repeats: %d peeks and %d Updates, want 5 and 0", p.peeks, p.updates)
	}
	res := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1), leakAlert("pg-2", 1, -1)))
	if res.Incident != first.Incident || res.Changes == 0 || p.updates != 1 {
		t.Errorf("a new alert: got %+v after %d Updates, want changes to incident %d in 1 Update", res, p.updates, first.Incident)
	}
}

func TestRepeatsDoNotCommit(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := bot.NewService(st, bot.Options{Now: func() time.Time { return t0.Add(3 * time.Hour) }})
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	before := st.Stats()
	for range 5 {
		mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	}
	after := st.Stats()
	if after.Commits != before.Commits {
		t.Errorf("5 repeats made %d commits, want 0", after.Commits-before.Commits)
	}
	if after.Updates != before.Updates {
		t.Errorf("5 repeats took the writer %d times, want 0: a repeat is told by its digest in a View", after.Updates-before.Updates)
	}
}
