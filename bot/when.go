package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseWhen reads the optional leading time of a command: "HH:MM" (UTC, the
// first such minute at or after the incident's start) or RFC 3339. The
// result is never before start (a time within start's minute is taken as
// start) and never after now; both are refused with ErrInvalid.
func ParseWhen(s string, start, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if h, m, ok := clock(s); ok {
		base := start.UTC().Truncate(time.Minute)
		t := time.Date(base.Year(), base.Month(), base.Day(), h, m, 0, 0, time.UTC)
		if t.Before(base) {
			t = t.AddDate(0, 0, 1)
		}
		return CheckWhen(t, start, now)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q: write HH:MM (UTC) or RFC 3339 like 2024-06-20T14:05:00Z", ErrInvalid, s)
	}
	return CheckWhen(t, start, now)
}

// CheckWhen refuses a moment before the incident's start minute or after
// now, and moves one within the start minute to start itself.
func CheckWhen(t, start, now time.Time) (time.Time, error) {
	t, start = t.UTC(), start.UTC()
	if t.After(now) {
		return time.Time{}, fmt.Errorf("%w: %s is in the future (now is %s)", ErrInvalid, stamp(t), stamp(now.UTC()))
	}
	if t.Before(start.Truncate(time.Minute)) {
		return time.Time{}, fmt.Errorf("%w: %s is before the incident started (%s)", ErrInvalid, stamp(t), stamp(start))
	}
	if t.Before(start) {
		t = start
	}
	return t, nil
}

// LooksLikeWhen reports whether a command's first word is meant as a time.
func LooksLikeWhen(s string) bool {
	if _, _, ok := clock(s); ok {
		return true
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func clock(s string) (h, m int, ok bool) {
	hh, mm, found := strings.Cut(s, ":")
	if !found || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || hh[0] == '+' || hh[0] == '-' {
		return 0, 0, false
	}
	return h, m, true
}

func stamp(t time.Time) string { return t.Format("2006-01-02 15:04 UTC") }
