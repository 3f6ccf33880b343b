package web

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

func TestComputeTrends(t *testing.T) {
	now := time.Date(2024, 6, 20, 12, 0, 0, 0, time.UTC) // a Thursday
	from := now.Add(-90 * 24 * time.Hour)
	at := func(d time.Duration) *time.Time { t := now.Add(-48*time.Hour + d); return &t }
	incs := []*bot.Incident{
		{ID: 1, Severity: bot.SEV1, DetectedAt: now.Add(-48 * time.Hour), AcknowledgedAt: at(4 * time.Minute), ResolvedAt: at(60 * time.Minute)},
		{ID: 2, Severity: bot.SEV1, DetectedAt: now.Add(-48 * time.Hour), AcknowledgedAt: at(6 * time.Minute)},
		{ID: 3, Severity: bot.SEV3, DetectedAt: now.Add(-20 * 24 * time.Hour)},
		{ID: 4, Severity: bot.SEV2, DetectedAt: from.Add(-time.Hour)}, // before the window
		{ID: 5, Severity: bot.SEV2, DetectedAt: now.Add(time.Hour)},   // after it
	}
	d := computeTrends(incs, from, now, time.UTC)
	if d.Total != 3 {
		t.Errorf("total %d, want 3", d.Total)
	}
	sum := 0
	for i, w := range d.Weeks {
		sum += w.Count
		if w.Start.Weekday() != time.Monday || i > 0 && w.Start.Sub(d.Weeks[i-1].Start) != 7*24*time.Hour {
			t.Errorf("week %d starts %s", i, w.Start)
		}
	}
	if sum != 3 || len(d.Weeks) != 14 || d.Weeks[len(d.Weeks)-1].Count != 2 || d.MaxWeek != 2 {
		t.Errorf("weeks %+v (max %d)", d.Weeks, d.MaxWeek)
	}
	s1 := d.Sevs[0]
	if s1.Count != 2 || s1.Acked != 2 || s1.MTTA != 5*time.Minute || s1.Resolved != 1 || s1.MTTR != time.Hour || s1.MTTRs != "1h" {
		t.Errorf("SEV1 %+v", s1)
	}
	if d.Sevs[1].Count != 0 || d.Sevs[1].MTTAs != "—" || d.Sevs[2].Count != 1 {
		t.Errorf("SEV2 %+v SEV3 %+v", d.Sevs[1], d.Sevs[2])
	}
	// The tallest bar reaches the top of the plot, and no bar is negative.
	for _, b := range d.WeekChart.Bars {
		if b.H < 0 || b.Y < padT-0.01 {
			t.Errorf("bar %+v outside the plot", b)
		}
	}
}

func TestNiceMax(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0, 1}, {1, 1}, {3, 5}, {7, 10}, {11, 20}, {45, 50}, {51, 100}, {150, 200}} {
		if got := niceMax(tt.in); got != tt.want {
			t.Errorf("niceMax(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSafeLinkAndNext(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://grafana.example/d/1", "https://grafana.example/d/1"},
		{"http://prometheus:9090/graph?g0.expr=up", "http://prometheus:9090/graph?g0.expr=up"},
		{"javascript:alert(1)", ""}, {"JAVASCRIPT://x.example/%0aalert(1)", ""}, {"data:text/html,x", ""},
		{"//evil.example/x", ""}, {"/relative", ""}, {"ftp://x.example/", ""}, {"", ""},
	} {
		if got := safeLink(tt.in); got != tt.want {
			t.Errorf("safeLink(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"/incidents/3", "/incidents/3"}, {"/trends?x=1", "/trends?x=1"},
		{"//evil.example", "/incidents"}, {`/\evil.example`, "/incidents"}, {"https://evil.example", "/incidents"},
		{"", "/incidents"}, {"/a\r\nSet-Cookie: x", "/incidents"},
	} {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	for _, tt := range []struct {
		s, q string
		want bool
	}{
		{"Payment-Gateway", "gateway", true}, {"db-7.prod", "DB-7", true}, {"abc", "", true}, {"", "a", false},
		{"disk", "disks", false}, {"ÉCOLE-1", "école", true}, {"straße", "STRASSE", false}, {"KELVIN", "kel", true},
	} {
		if got := containsFold(tt.s, strings.ToLower(tt.q)); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tt.s, tt.q, got, tt.want)
		}
	}
}
