package bot

import (
	"errors"
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	start := time.Date(2024, 6, 20, 14, 0, 30, 0, time.UTC)
	now := time.Date(2024, 6, 21, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Time
		err      bool
	}{
		{"same day", "14:05", time.Date(2024, 6, 20, 14, 5, 0, 0, time.UTC), false},
		{"start minute is start itself", "14:00", start, false},
		{"before start means next day", "13:59", time.Date(2024, 6, 21, 13, 59, 0, 0, time.UTC), true},
		{"after midnight", "02:10", time.Date(2024, 6, 21, 2, 10, 0, 0, time.UTC), false},
		{"single digit hour", "9:00", time.Date(2024, 6, 21, 9, 0, 0, 0, time.UTC), false},
		{"future", "09:01", time.Time{}, true},
		{"rfc3339", "2024-06-20T16:30:00Z", time.Date(2024, 6, 20, 16, 30, 0, 0, time.UTC), false},
		{"rfc3339 offset", "2024-06-20T18:30:00+02:00", time.Date(2024, 6, 20, 16, 30, 0, 0, time.UTC), false},
		{"rfc3339 before start", "2024-06-20T13:00:00Z", time.Time{}, true},
		{"rfc3339 future", "2030-01-01T00:00:00Z", time.Time{}, true},
		{"hour out of range", "24:00", time.Time{}, true},
		{"minute out of range", "12:60", time.Time{}, true},
		{"one digit minute", "12:5", time.Time{}, true},
		{"signed", "+1:00", time.Time{}, true},
		{"garbage", "noon", time.Time{}, true},
		{"empty", "", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseWhen(tt.in, start, now)
		if (err != nil) != tt.err {
			t.Errorf("%s: ParseWhen(%q) err = %v, want error %v", tt.name, tt.in, err, tt.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: ParseWhen(%q) err = %v, want ErrInvalid", tt.name, tt.in, err)
			}
			continue
		}
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("%s: ParseWhen(%q) = %v, want %v (UTC)", tt.name, tt.in, got, tt.want)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"14:05", "00:00", "23:59", "2024-06-20T16:30:00Z", "9:7", "", "99:99", "2024-13-40T99:00:00Z"} {
		f.Add(s)
	}
	start := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	now := start.Add(48 * time.Hour)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseWhen(s, start, now)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseWhen(%q): error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if got.Before(start) || got.After(now) {
			t.Fatalf("ParseWhen(%q) = %v, outside [%v, %v]", s, got, start, now)
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
