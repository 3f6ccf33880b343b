package bot

import (
	"strings"
	"testing"
	"time"
)

func TestCalendar(t *testing.T) {
	r := Rotation{Name: "primary", Zone: time.UTC, Start: utc("2026-12-07T09:00:00Z"), Shift: 168 * time.Hour, Members: []string{"U0ALICE", "U0BOB"}}
	now := utc("2026-12-02T12:00:00Z")
	ov := []Override{{ID: 1, User: "U0CAROL", Start: utc("2026-12-10T00:00:00Z"), End: utc("2026-12-11T00:00:00Z"), CreatedAt: now}}
	cal := string(Calendar("pay,ments;x", map[string][]Shift{"primary": r.Shifts(ov, now, now.Add(CalendarWeeks*7*24*time.Hour))}, now))
	for _, want := range []string{
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", "X-WR-CALNAME:On call: pay\\,ments\\;x\r\n",
		"DTSTART:20261202T120000Z\r\nDTEND:20261207T090000Z\r\nSUMMARY:U0BOB on call (pay\\,ments\\;x/primary)\r\n",
		"DTSTART:20261210T000000Z\r\nDTEND:20261211T000000Z\r\nSUMMARY:U0CAROL on call (pay\\,ments\\;x/primary)\\, override\r\n",
		"DTSTAMP:20261202T120000Z\r\n", "END:VCALENDAR\r\n",
	} {
		if !strings.Contains(cal, want) {
			t.Errorf("calendar lacks %q:\n%s", want, cal)
		}
	}
	if n := strings.Count(cal, "BEGIN:VEVENT"); n != 11 {
		t.Errorf("%d events, want 11 (8 weeks of weekly shifts, one split by an override)", n)
	}
	for l := range strings.SplitSeq(cal, "\r\n") {
		if len(l) > 75 {
			t.Errorf("line longer than 75 octets: %q", l)
		}
		if strings.Contains(l, "\n") {
			t.Errorf("bare LF in %q", l)
		}
	}
	// A continuation line's leading space counts in its 75 octets.
	for _, name := range []string{strings.Repeat("é", 80), strings.Repeat("a", 200)} {
		long := string(Calendar(name, map[string][]Shift{}, now))
		for l := range strings.SplitSeq(long, "\r\n") {
			if len(l) > 75 || !strings.HasPrefix(l, " ") && strings.Contains(l, "\uFFFD") {
				t.Errorf("bad fold (%d octets) %q", len(l), l)
			}
		}
		if unfolded := strings.ReplaceAll(long, "\r\n ", ""); !strings.Contains(unfolded, "X-WR-CALNAME:On call: "+name+"\r\n") {
			t.Errorf("unfolding does not give the name back:\n%s", long)
		}
	}
}
