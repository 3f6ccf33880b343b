package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

// hostileAlert carries control, bidi and invisible characters in every
// text field Alertmanager sends.
func hostileAlert() bot.Alert {
	a := leakAlert("pg-1", 0, -1)
	a.Labels = map[string]string{"alertname": "Memory\x00Leak\u202e", "service": "pay\u200bment\x1b[2J", "instance": "pg-1"}
	a.Annotations = map[string]string{"summary": "RSS\x07 grows", "description": "line one\r\n\tline two\x00\u2066"}
	a.GeneratorURL = "http://prometheus:9090/graph?g0.expr=up\x7f"
	return a
}

// TestIngestCleansAlertText: one rule (bot.CleanText) at intake: labels
// and annotations lose control characters, annotations keep \n and \t,
// the fingerprint is Alertmanager's as sent, and a group whose labels were
// cleaned is not silenced from cleaned values.
func TestIngestCleansAlertText(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	ctx := context.Background()
	a := hostileAlert()
	n := notification(a)
	n.GroupLabels = map[string]string{"alertname": "Memory\x00Leak\u202e"}
	n.CommonLabels = map[string]string{"alertname": "Memory\x00Leak\u202e", "service": "pay\u200bment\x1b[2J"}
	n.GroupKey = `{}:{alertname="Memory\x00Leak\u202e"}`
	res := mustIngest(t, s, n)
	inc, err := s.Incident(ctx, res.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Title != "MemoryLeak on payment[2J" {
		t.Errorf("title %q", inc.Title)
	}
	if inc.GroupKey != n.GroupKey || inc.GroupLabels["alertname"] != "MemoryLeak" || !inc.GroupLabelsCleaned {
		t.Errorf("group: key %q (want as sent), labels %q, cleaned %v", inc.GroupKey, inc.GroupLabels, inc.GroupLabelsCleaned)
	}
	if len(inc.Alerts) != 1 {
		t.Fatalf("%d alerts", len(inc.Alerts))
	}
	got := inc.Alerts[0]
	want := map[string]string{"alertname": "MemoryLeak", "service": "payment[2J", "instance": "pg-1",
		"summary": "RSS grows", "description": "line one\n\tline two"}
	for k, v := range want {
		if g := got.Labels[k] + got.Annotations[k]; g != v {
			t.Errorf("%s = %q, want %q", k, g, v)
		}
	}
	if got.Fingerprint != a.Fingerprint || got.GeneratorURL != "http://prometheus:9090/graph?g0.expr=up" {
		t.Errorf("fingerprint %q (sent %q), generator URL %q", got.Fingerprint, a.Fingerprint, got.GeneratorURL)
	}
	if a.Labels["alertname"] != "Memory\x00Leak\u202e" {
		t.Errorf("ingest changed the caller's notification: %q", a.Labels["alertname"])
	}
	tl, err := s.Timeline(ctx, res.Incident)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tl {
		if strings.ContainsFunc(e.Text, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x202e || r == 0x200b }) {
			t.Errorf("timeline entry keeps a control character: %q", e.Text)
		}
	}
	if _, err := bot.SilenceMatchers(inc); !errors.Is(err, bot.ErrConflict) {
		t.Errorf("silence matchers from cleaned group labels: %v, want a conflict", err)
	}
}

// TestIngestCleanedGroupsStayApart: two Alertmanager groups whose labels
// differ only by a control character read alike once cleaned, and stay
// two incidents: groups are told apart by Alertmanager's groupKey, which
// is never cleaned. A repeat of either changes nothing.
func TestIngestCleanedGroupsStayApart(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	group := func(name, fp string) *bot.Notification {
		a := leakAlert("pg-1", 0, -1)
		a.Fingerprint, a.Labels = fp, map[string]string{"alertname": name}
		n := notification(a)
		n.GroupKey = `{}:{alertname=` + quoteGo(name) + `}`
		n.GroupLabels = map[string]string{"alertname": name}
		n.CommonLabels = map[string]string{"alertname": name}
		return n
	}
	plain, dirty := group("DiskFull", "00000000000000aa"), group("Disk\x1bFull", "00000000000000bb")
	one, two := mustIngest(t, s, plain), mustIngest(t, s, dirty)
	if !one.Opened || !two.Opened || one.Incident == two.Incident {
		t.Fatalf("two groups alike once cleaned: %+v and %+v, want two incidents", one, two)
	}
	for _, n := range []*bot.Notification{group("DiskFull", "00000000000000aa"), group("Disk\x1bFull", "00000000000000bb")} {
		if res := mustIngest(t, s, n); res.Opened || res.Changes != 0 {
			t.Errorf("repeat of %q = %+v, want nothing changed", n.GroupKey, res)
		}
	}
	inc1, _ := s.Incident(context.Background(), one.Incident)
	inc2, _ := s.Incident(context.Background(), two.Incident)
	if inc1.Title != inc2.Title || inc1.GroupKey == inc2.GroupKey || inc2.Alerts[0].Fingerprint != "00000000000000bb" {
		t.Errorf("incidents: %q %q / %q %q", inc1.Title, inc1.GroupKey, inc2.Title, inc2.GroupKey)
	}
}

// TestIngestRefusesLabelNamesThatMerge: two label names that clean to one
// would lose a value silently; the notification is refused, nothing kept.
func TestIngestRefusesLabelNamesThatMerge(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	a := leakAlert("pg-1", 0, -1)
	a.Labels["team\x00"] = "b"
	a.Labels["team"] = "a"
	_, err := s.Ingest(context.Background(), notification(a))
	if !errors.Is(err, bot.ErrInvalid) || !strings.Contains(err.Error(), `alerts[0].labels: two names read "team"`) {
		t.Fatalf("Ingest: %v, want invalid naming alerts[0].labels", err)
	}
	if incs, _ := s.Incidents(context.Background(), bot.IncidentFilter{}); len(incs) != 0 {
		t.Errorf("%d incidents stored", len(incs))
	}
}

func quoteGo(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(`"`+s+`"`, "\x1b", `\x1b`), "\x00", `\x00`)
}
