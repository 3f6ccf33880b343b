package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The layout of a full local time, "2024-06-20 14:05", in the configured zone.
const dateClock = "2006-01-02 15:04"

// ParseWhen reads the optional leading time of a command, in three forms:
//
//   - "HH:MM": the wall-clock time in loc; the most recent such moment that
//     is not after now (so "23:50" typed at 00:10 is yesterday's). A time a
//     daylight-saving change skipped today is yesterday's; one it repeated
//     is the later of the two that has passed.
//   - "YYYY-MM-DD HH:MM": that wall-clock moment in loc; a moment the zone
//     skipped is refused.
//   - RFC 3339: that moment.
//
// A moment after now is refused. Moments before the incident's detection
// are accepted: see BeforeDetection. Errors wrap ErrInvalid and say how to
// write a time. A nil loc means UTC. The result is in UTC.
func ParseWhen(s string, loc *time.Location, now time.Time) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	var t time.Time
	switch {
	case isClock(s):
		h, m, _ := clock(s)
		var ok bool
		if t, ok = lastClock(h, m, loc, now); !ok {
			return time.Time{}, fmt.Errorf("%w: no %s has passed in %s in the last days", ErrInvalid, s, loc)
		}
		return t.UTC(), nil
	case isDateClock(s):
		var err error
		t, err = time.ParseInLocation(dateClock, s, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: time %q: %s", ErrInvalid, s, whenHelp(loc))
		}
		if t.In(loc).Format(dateClock) != s {
			return time.Time{}, fmt.Errorf("%w: %s did not exist in %s (a daylight-saving change skipped it)", ErrInvalid, s, loc)
		}
	default:
		var err error
		t, err = time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: time %q: %s", ErrInvalid, s, whenHelp(loc))
		}
	}
	t = t.UTC()
	if t.After(now) {
		return time.Time{}, fmt.Errorf("%w: %s is in the future (now is %s)", ErrInvalid, Stamp(t, loc), Stamp(now, loc))
	}
	return t, nil
}

func whenHelp(loc *time.Location) string {
	return fmt.Sprintf("write HH:MM (%s), YYYY-MM-DD HH:MM or RFC 3339 like 2024-06-20T14:05:00Z", zoneName(loc))
}

// lastClock finds the most recent moment not after now whose wall clock in
// loc reads h:m. Daylight-saving changes skip or repeat wall times, so
// each of the last few days is tried with the offsets around a change.
func lastClock(h, m int, loc *time.Location, now time.Time) (time.Time, bool) {
	local := now.In(loc)
	for back := 0; back <= 3; back++ {
		day := time.Date(local.Year(), local.Month(), local.Day()-back, 12, 0, 0, 0, loc)
		base := time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc)
		var best time.Time
		for _, shift := range []time.Duration{-2 * time.Hour, -time.Hour, -30 * time.Minute, 0, 30 * time.Minute, time.Hour, 2 * time.Hour} {
			c := base.Add(shift).In(loc)
			if c.Year() != day.Year() || c.YearDay() != day.YearDay() || c.Hour() != h || c.Minute() != m {
				continue
			}
			if !c.After(now) && c.After(best) {
				best = c
			}
		}
		if !best.IsZero() {
			return best, true
		}
	}
	return time.Time{}, false
}

// CheckWhen refuses a moment after now. It is for times that arrive as
// times (the API), not as text.
func CheckWhen(t, now time.Time) (time.Time, error) {
	if t.After(now) {
		return time.Time{}, fmt.Errorf("%w: %s is in the future (now is %s)", ErrInvalid, stamp(t.UTC()), stamp(now.UTC()))
	}
	return t.UTC(), nil
}

// BeforeDetection reports whether t lies before the incident was detected:
// the deploy that started a leak belongs on the timeline, marked as such.
// A moment within the detection's own minute is not before it (times are
// typed to the minute).
func (inc *Incident) BeforeDetection(t time.Time) bool {
	return !inc.DetectedAt.IsZero() && t.Before(inc.DetectedAt.Truncate(time.Minute))
}

// LooksLikeWhen reports whether s (one word, or a date and a time) is
// meant as a time.
func LooksLikeWhen(s string) bool {
	if isClock(s) || isDateClock(s) {
		return true
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

// whenPrefix reads a leading time off words: one word ("14:05", RFC 3339)
// or two ("2024-06-20 14:05"). It returns the time as typed and how many
// words it took, 0 when there is none.
func whenPrefix(words []string) (string, int) {
	if len(words) >= 2 && isDate(words[0]) && isClock(words[1]) {
		return words[0] + " " + words[1], 2
	}
	if len(words) >= 1 && LooksLikeWhen(words[0]) {
		return words[0], 1
	}
	return "", 0
}

func isClock(s string) bool { _, _, ok := clock(s); return ok }

func isDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

func isDateClock(s string) bool {
	d, c, ok := strings.Cut(s, " ")
	return ok && isDate(d) && isClock(c)
}

// clock reads "H:MM" or "HH:MM".
func clock(s string) (h, m int, ok bool) {
	hh, mm, found := strings.Cut(s, ":")
	if !found || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, 0, false
	}
	for _, r := range hh + mm {
		if r < '0' || r > '9' {
			return 0, 0, false
		}
	}
	h, _ = strconv.Atoi(hh)
	m, _ = strconv.Atoi(mm)
	if h > 23 || m > 59 {
		return 0, 0, false
	}
	return h, m, true
}

func stamp(t time.Time) string { return t.Format("2006-01-02 15:04 UTC") }

// Stamp writes t as "2024-06-20 14:05 CEST" in loc (UTC when nil).
func Stamp(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// zoneName names loc for people: "UTC", "Europe/Berlin".
func zoneName(loc *time.Location) string {
	if loc == nil || loc.String() == "" || loc.String() == "Local" {
		return "UTC"
	}
	return loc.String()
}
