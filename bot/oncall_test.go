package bot

import (
	"math/rand/v2"
	"testing"
	"time"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRotationScheduled(t *testing.T) {
	berlin, ny := zone(t, "Europe/Berlin"), zone(t, "America/New_York")
	daily := Rotation{Zone: berlin, Start: time.Date(2026, 3, 27, 9, 0, 0, 0, berlin), Shift: 24 * time.Hour, Members: []string{"A", "B"}}
	weeklyNY := Rotation{Zone: ny, Start: time.Date(2026, 10, 26, 9, 0, 0, 0, ny), Shift: 168 * time.Hour, Members: []string{"A", "B", "C"}}
	autumnBerlin := Rotation{Zone: berlin, Start: time.Date(2026, 10, 24, 9, 0, 0, 0, berlin), Shift: 24 * time.Hour, Members: []string{"A", "B"}}
	springNY := Rotation{Zone: ny, Start: time.Date(2026, 3, 7, 8, 0, 0, 0, ny), Shift: 24 * time.Hour, Members: []string{"A", "B"}}
	halfDay := Rotation{Zone: berlin, Start: time.Date(2026, 3, 28, 9, 0, 0, 0, berlin), Shift: 12 * time.Hour, Members: []string{"A", "B"}}
	for _, tc := range []struct {
		name       string
		r          Rotation
		at         string
		user       string
		start, end string
	}{
		{"first instant", daily, "2026-03-27T08:00:00Z", "A", "2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z"},
		{"before start runs backwards", daily, "2026-03-27T07:59:59Z", "B", "2026-03-26T08:00:00Z", "2026-03-27T08:00:00Z"},
		{"second shift", daily, "2026-03-28T08:00:00Z", "B", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"},
		// Berlin springs forward on 29 March: that day's 09:00 is 07:00 UTC,
		// and the shift before it lasted 23 hours.
		{"berlin spring: hand-off at 09:00 CEST", daily, "2026-03-29T07:00:00Z", "A", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"},
		{"berlin spring: an hour before old 09:00", daily, "2026-03-29T07:30:00Z", "A", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"},
		{"berlin spring: just before", daily, "2026-03-29T06:59:59Z", "B", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"},
		// Berlin falls back on 25 October: the shift from the 24th lasts 25 hours.
		{"berlin autumn: 25-hour shift", autumnBerlin, "2026-10-25T07:30:00Z", "A", "2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z"},
		{"berlin autumn: hand-off at 09:00 CET", autumnBerlin, "2026-10-25T08:00:00Z", "B", "2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z"},
		// New York falls back on 1 November: Monday 09:00 EST is 14:00 UTC.
		{"new york autumn: week of 169 hours", weeklyNY, "2026-11-02T13:30:00Z", "A", "2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z"},
		{"new york autumn: next week", weeklyNY, "2026-11-02T14:00:00Z", "B", "2026-11-02T14:00:00Z", "2026-11-09T14:00:00Z"},
		{"new york autumn: third member", weeklyNY, "2026-11-12T00:00:00Z", "C", "2026-11-09T14:00:00Z", "2026-11-16T14:00:00Z"},
		{"new york autumn: back to the first", weeklyNY, "2026-11-20T00:00:00Z", "A", "2026-11-16T14:00:00Z", "2026-11-23T14:00:00Z"},
		// New York springs forward on 8 March: 08:00 EDT is 12:00 UTC.
		{"new york spring: 23-hour shift", springNY, "2026-03-08T12:30:00Z", "B", "2026-03-08T12:00:00Z", "2026-03-09T12:00:00Z"},
		{"new york spring: before", springNY, "2026-03-08T11:59:00Z", "A", "2026-03-07T13:00:00Z", "2026-03-08T12:00:00Z"},
		// A shift that is not whole days is a fixed duration: after the
		// change its hand-offs are at 10:00 and 22:00 on the wall.
		{"12h shift keeps its duration", halfDay, "2026-03-29T08:30:00Z", "A", "2026-03-29T08:00:00Z", "2026-03-29T20:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.Scheduled(utc(tc.at))
			if got.User != tc.user || !got.Start.Equal(utc(tc.start)) || !got.End.Equal(utc(tc.end)) {
				t.Errorf("Scheduled(%s) = %s %s..%s, want %s %s..%s", tc.at, got.User,
					got.Start.Format(time.RFC3339), got.End.Format(time.RFC3339), tc.user, tc.start, tc.end)
			}
		})
	}
}

// TestRotationProperties checks, for random moments over several years and
// both zones' changes, that the shift holding t holds it, that shifts
// chain without gaps, that members take turns, and that shifts of whole
// days always hand off at the start's wall-clock time.
func TestRotationProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"} {
		loc := zone(t, name)
		for _, shift := range []time.Duration{24 * time.Hour, 72 * time.Hour, 168 * time.Hour, 8 * time.Hour, 90 * time.Minute} {
			r := Rotation{Zone: loc, Start: time.Date(2025, 1, 6, 9, 30, 0, 0, loc), Shift: shift, Members: []string{"A", "B", "C"}}
			for range 300 {
				at := r.Start.Add(time.Duration(rng.Int64N(int64(4*365*24*time.Hour))) - 365*24*time.Hour)
				s := r.Scheduled(at)
				if at.Before(s.Start) || !at.Before(s.End) {
					t.Fatalf("%s %s: Scheduled(%s) = %s..%s does not hold it", name, shift, at, s.Start, s.End)
				}
				next := r.Scheduled(s.End)
				if !next.Start.Equal(s.End) || next.User == s.User {
					t.Fatalf("%s %s: after %s..%s (%s) comes %s..%s (%s)", name, shift, s.Start, s.End, s.User, next.Start, next.End, next.User)
				}
				if r.wholeDays() > 0 {
					w := s.Start.In(loc)
					if w.Hour() != 9 || w.Minute() != 30 {
						t.Fatalf("%s %s: hand-off at %s, want 09:30 wall clock", name, shift, w)
					}
				} else if s.End.Sub(s.Start) != shift {
					t.Fatalf("%s %s: shift lasts %s", name, shift, s.End.Sub(s.Start))
				}
			}
		}
	}
}

func TestOnCallWithOverrides(t *testing.T) {
	r := Rotation{Name: "primary", Zone: time.UTC, Start: utc("2026-06-01T09:00:00Z"), Shift: 24 * time.Hour, Members: []string{"A", "B"}}
	ovs := []Override{
		{ID: 1, User: "C", Start: utc("2026-06-01T10:00:00Z"), End: utc("2026-06-01T14:00:00Z"), CreatedAt: utc("2026-05-01T00:00:00Z")},
		// Created later, overlapping the first: wins where they overlap.
		{ID: 2, User: "D", Start: utc("2026-06-01T12:00:00Z"), End: utc("2026-06-01T13:00:00Z"), CreatedAt: utc("2026-05-02T00:00:00Z")},
		// Created earlier than 1, inside it: loses everywhere.
		{ID: 3, User: "E", Start: utc("2026-06-01T11:00:00Z"), End: utc("2026-06-01T11:30:00Z"), CreatedAt: utc("2026-04-01T00:00:00Z")},
		// Spans the hand-off at 09:00 on the 2nd.
		{ID: 4, User: "F", Start: utc("2026-06-02T08:00:00Z"), End: utc("2026-06-02T10:00:00Z"), CreatedAt: utc("2026-05-03T00:00:00Z")},
		// The same person the schedule names: merges with the shift.
		{ID: 5, User: "B", Start: utc("2026-06-03T08:00:00Z"), End: utc("2026-06-03T09:00:00Z"), CreatedAt: utc("2026-05-03T00:00:00Z")},
	}
	for _, tc := range []struct {
		at                string
		user, since, till string
		next, nextAt      string
	}{
		{"2026-06-01T09:30:00Z", "A", "2026-06-01T09:00:00Z", "2026-06-01T10:00:00Z", "C", "2026-06-01T10:00:00Z"},
		{"2026-06-01T11:10:00Z", "C", "2026-06-01T10:00:00Z", "2026-06-01T12:00:00Z", "D", "2026-06-01T12:00:00Z"},
		{"2026-06-01T12:30:00Z", "D", "2026-06-01T12:00:00Z", "2026-06-01T13:00:00Z", "C", "2026-06-01T13:00:00Z"},
		{"2026-06-01T13:30:00Z", "C", "2026-06-01T13:00:00Z", "2026-06-01T14:00:00Z", "A", "2026-06-01T14:00:00Z"},
		{"2026-06-01T14:00:00Z", "A", "2026-06-01T14:00:00Z", "2026-06-02T08:00:00Z", "F", "2026-06-02T08:00:00Z"},
		{"2026-06-02T09:00:00Z", "F", "2026-06-02T08:00:00Z", "2026-06-02T10:00:00Z", "B", "2026-06-02T10:00:00Z"},
		// B's override extends B's shift: one stretch until 09:00.
		{"2026-06-02T10:00:00Z", "B", "2026-06-02T10:00:00Z", "2026-06-03T09:00:00Z", "A", "2026-06-03T09:00:00Z"},
	} {
		got := r.OnCall(ovs, utc(tc.at))
		if got.Now.User != tc.user || !got.Now.Start.Equal(utc(tc.since)) || !got.Now.End.Equal(utc(tc.till)) ||
			got.Next.User != tc.next || !got.Next.Start.Equal(utc(tc.nextAt)) {
			t.Errorf("OnCall(%s) = %s %s..%s next %s at %s; want %s %s..%s next %s at %s", tc.at,
				got.Now.User, got.Now.Start.Format(time.RFC3339), got.Now.End.Format(time.RFC3339), got.Next.User, got.Next.Start.Format(time.RFC3339),
				tc.user, tc.since, tc.till, tc.next, tc.nextAt)
		}
	}
}

func TestShiftsMergeAndCut(t *testing.T) {
	r := Rotation{Zone: time.UTC, Start: utc("2026-06-01T00:00:00Z"), Shift: 24 * time.Hour, Members: []string{"A"}}
	got := r.Shifts(nil, utc("2026-06-01T12:00:00Z"), utc("2026-06-05T12:00:00Z"))
	if len(got) != 1 || got[0].User != "A" || !got[0].Start.Equal(utc("2026-06-01T12:00:00Z")) || !got[0].End.Equal(utc("2026-06-05T12:00:00Z")) {
		t.Errorf("one member: got %+v, want one stretch cut at both ends", got)
	}
	if oc := r.OnCall(nil, utc("2026-06-03T00:00:00Z")); oc.Now.User != "A" || !oc.Now.Start.IsZero() || !oc.Now.End.IsZero() || oc.Next.User != "" {
		t.Errorf("one member: OnCall = %+v, want A with no since, until or next", oc)
	}
	if got := (Rotation{Zone: time.UTC, Start: utc("2026-06-01T00:00:00Z"), Members: []string{"A"}}).Shifts(nil, utc("2026-06-01T00:00:00Z"), utc("2026-06-02T00:00:00Z")); got != nil {
		t.Errorf("zero shift: got %+v, want nothing", got)
	}
}

func TestEscalationStepAt(t *testing.T) {
	start := utc("2026-06-01T10:00:00Z")
	three := Escalation{Steps: []EscalationStep{{After: 0}, {After: 5 * time.Minute}, {After: 15 * time.Minute}}, Repeat: 1}
	one := Escalation{Steps: []EscalationStep{{After: 0}}, Repeat: 2}
	for _, tc := range []struct {
		name        string
		e           Escalation
		n           int
		step, round int
		due         string
		ok          bool
	}{
		{"first step at once", three, 0, 0, 0, "2026-06-01T10:00:00Z", true},
		{"second step", three, 1, 1, 0, "2026-06-01T10:05:00Z", true},
		{"third step", three, 2, 2, 0, "2026-06-01T10:15:00Z", true},
		// The last gap was 10m: the repeat starts 10m after the last step.
		{"repeat of the first", three, 3, 0, 1, "2026-06-01T10:25:00Z", true},
		{"repeat of the last", three, 5, 2, 1, "2026-06-01T10:40:00Z", true},
		{"past the repeats", three, 6, 0, 0, "0001-01-01T00:00:00Z", false},
		{"one step repeats every 5m", one, 2, 0, 2, "2026-06-01T10:10:00Z", true},
		{"negative", one, -1, 0, 0, "0001-01-01T00:00:00Z", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, round, due, ok := tc.e.StepAt(start, tc.n)
			if step != tc.step || round != tc.round || !due.Equal(utc(tc.due)) || ok != tc.ok {
				t.Errorf("StepAt(%d) = %d %d %s %v, want %d %d %s %v", tc.n, step, round, due.Format(time.RFC3339), ok, tc.step, tc.round, tc.due, tc.ok)
			}
		})
	}
	for _, tc := range []struct {
		now  string
		want int
	}{
		{"2026-06-01T09:59:59Z", 0}, {"2026-06-01T10:00:00Z", 1}, {"2026-06-01T10:04:59Z", 1},
		{"2026-06-01T10:05:00Z", 2}, {"2026-06-01T10:25:00Z", 4}, {"2026-06-02T00:00:00Z", 6},
	} {
		if got := three.DueAt(start, utc(tc.now)); got != tc.want {
			t.Errorf("DueAt(%s) = %d, want %d", tc.now, got, tc.want)
		}
	}
}

func FuzzRotation(f *testing.F) {
	f.Add(int64(0), int64(3600), int64(86400), uint8(3))
	f.Add(int64(-5_000_000), int64(1), int64(604800), uint8(1))
	f.Fuzz(func(t *testing.T, startSec, atOffset, shiftSec int64, members uint8) {
		if shiftSec <= 0 || shiftSec > 90*86400 || members == 0 || atOffset > 1e9 || atOffset < -1e9 {
			return
		}
		loc := zone(t, "Europe/Berlin")
		r := Rotation{Zone: loc, Start: time.Unix(1_780_000_000+startSec%1e8, 0).In(loc), Shift: time.Duration(shiftSec) * time.Second}
		for i := range int(members) {
			r.Members = append(r.Members, string(rune('A'+i%26)))
		}
		at := r.Start.Add(time.Duration(atOffset) * time.Second)
		s := r.Scheduled(at)
		if at.Before(s.Start) || !at.Before(s.End) {
			t.Fatalf("Scheduled(%s) = %s..%s", at, s.Start, s.End)
		}
	})
}
