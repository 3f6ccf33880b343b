package bot

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	utc := func(y int, mo time.Month, d, h, m int) time.Time { return time.Date(y, mo, d, h, m, 0, 0, time.UTC) }
	// Berlin moved its clocks from 02:00 to 03:00 on 2024-03-31 and from
	// 03:00 back to 02:00 on 2024-10-27.
	tests := []struct {
		name, in string
		loc      *time.Location
		now      time.Time
		want     time.Time
		err      string
	}{
		{"earlier today", "14:05", time.UTC, utc(2024, 6, 20, 17, 0), utc(2024, 6, 20, 14, 5), ""},
		{"this very minute", "17:00", time.UTC, utc(2024, 6, 20, 17, 0), utc(2024, 6, 20, 17, 0), ""},
		{"later today means yesterday", "17:01", time.UTC, utc(2024, 6, 20, 17, 0), utc(2024, 6, 19, 17, 1), ""},
		{"across midnight", "23:50", time.UTC, utc(2024, 6, 21, 0, 10), utc(2024, 6, 20, 23, 50), ""},
		{"after midnight", "00:05", time.UTC, utc(2024, 6, 21, 0, 10), utc(2024, 6, 21, 0, 5), ""},
		{"single digit hour", "9:00", time.UTC, utc(2024, 6, 21, 9, 30), utc(2024, 6, 21, 9, 0), ""},
		{"in the configured zone", "14:05", berlin, utc(2024, 6, 20, 17, 0), utc(2024, 6, 20, 12, 5), ""},
		{"zone's midnight is not UTC's", "01:30", berlin, utc(2024, 6, 20, 0, 0), utc(2024, 6, 19, 23, 30), ""},
		{"zone's yesterday", "03:00", berlin, utc(2024, 6, 20, 0, 0), utc(2024, 6, 19, 1, 0), ""},
		{"spring forward: skipped time is yesterday's", "02:30", berlin, utc(2024, 3, 31, 10, 0), utc(2024, 3, 30, 1, 30), ""},
		{"spring forward: after the change", "03:30", berlin, utc(2024, 3, 31, 10, 0), utc(2024, 3, 31, 1, 30), ""},
		{"spring forward: before the change", "01:30", berlin, utc(2024, 3, 31, 10, 0), utc(2024, 3, 31, 0, 30), ""},
		{"fall back: the later 02:30 once passed", "02:30", berlin, utc(2024, 10, 27, 10, 0), utc(2024, 10, 27, 1, 30), ""},
		{"fall back: only the first 02:30 passed", "02:30", berlin, utc(2024, 10, 27, 0, 45), utc(2024, 10, 27, 0, 30), ""},
		{"date and time", "2024-06-20 14:05", time.UTC, utc(2024, 6, 21, 9, 0), utc(2024, 6, 20, 14, 5), ""},
		{"date and time in the zone", "2024-06-20 14:05", berlin, utc(2024, 6, 21, 9, 0), utc(2024, 6, 20, 12, 5), ""},
		{"date and time skipped by the zone", "2024-03-31 02:30", berlin, utc(2024, 6, 21, 9, 0), time.Time{}, "did not exist"},
		{"date and time in the future", "2024-06-21 09:01", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "in the future"},
		{"long ago is fine", "2023-01-01 00:00", time.UTC, utc(2024, 6, 21, 9, 0), utc(2023, 1, 1, 0, 0), ""},
		{"rfc3339", "2024-06-20T16:30:00Z", time.UTC, utc(2024, 6, 21, 9, 0), utc(2024, 6, 20, 16, 30), ""},
		{"rfc3339 offset", "2024-06-20T18:30:00+02:00", berlin, utc(2024, 6, 21, 9, 0), utc(2024, 6, 20, 16, 30), ""},
		{"rfc3339 future", "2030-01-01T00:00:00Z", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "in the future"},
		{"hour out of range", "24:00", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "write HH:MM"},
		{"minute out of range", "12:60", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "write HH:MM"},
		{"one digit minute", "12:5", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "write HH:MM"},
		{"signed", "+1:00", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "write HH:MM"},
		{"garbage", "noon", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "write HH:MM"},
		{"empty", "", time.UTC, utc(2024, 6, 21, 9, 0), time.Time{}, "write HH:MM"},
	}
	for _, tt := range tests {
		got, err := ParseWhen(tt.in, tt.loc, tt.now)
		if tt.err != "" {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: ParseWhen(%q, %s, %s) = %v, %v; want ErrInvalid containing %q", tt.name, tt.in, tt.loc, tt.now, got, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("%s: ParseWhen(%q, %s, %s) = %v, %v; want %v (UTC)", tt.name, tt.in, tt.loc, tt.now, got, err, tt.want)
		}
	}
}

func TestBeforeDetection(t *testing.T) {
	start := time.Date(2024, 6, 20, 14, 0, 30, 0, time.UTC)
	inc := &Incident{DetectedAt: start}
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{start.Add(-time.Hour), true},
		{start.Add(-31 * time.Second), true},
		{start.Truncate(time.Minute), false}, // typed "14:00": the detection's own minute
		{start, false},
		{start.Add(time.Hour), false},
	} {
		if got := inc.BeforeDetection(tt.at); got != tt.want {
			t.Errorf("BeforeDetection(%s) with detection at %s = %v, want %v", tt.at, start, got, tt.want)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"14:05", "00:00", "23:59", "2024-06-20T16:30:00Z", "2024-06-20 14:05", "2024-03-31 02:30", "9:7", "", "99:99", "2024-13-40T99:00:00Z"} {
		f.Add(s)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.UTC
	}
	now := time.Date(2024, 3, 31, 1, 15, 0, 0, time.UTC) // just after Berlin's clocks sprang forward
	f.Fuzz(func(t *testing.T, s string) {
		for _, loc := range []*time.Location{time.UTC, berlin} {
			got, err := ParseWhen(s, loc, now)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseWhen(%q): error %v does not wrap ErrInvalid", s, err)
				}
				continue
			}
			if got.After(now) || got.Location() != time.UTC {
				t.Fatalf("ParseWhen(%q, %s) = %v, after now %v or not UTC", s, loc, got, now)
			}
			if h, m, ok := clock(strings.TrimSpace(s)); ok {
				if l := got.In(loc); l.Hour() != h || l.Minute() != m || now.Sub(got) > 48*time.Hour {
					t.Fatalf("ParseWhen(%q, %s) = %v (%v local), not the latest %02d:%02d", s, loc, got, l, h, m)
				}
			}
		}
	})
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"}, {45 * time.Second, "45s"}, {5 * time.Minute, "5m"}, {150 * time.Minute, "2h 30m"},
		{2 * time.Hour, "2h"}, {26*time.Hour + 5*time.Minute, "1d 2h 5m"}, {90*time.Second + 400*time.Millisecond, "1m"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.in); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
