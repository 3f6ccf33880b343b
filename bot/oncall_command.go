package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// OnCallCommand is a parsed `/oncall` line.
type OnCallCommand struct {
	// Team is the team asked about or overridden; empty lists every team.
	Team string
	// Override is set for `/oncall override ...`.
	Override bool
	User     string // a Slack user ID
	Schedule string
	// Start and End are the override's window.
	Start, End time.Time
}

// OnCallUsage says how to write `/oncall`.
const OnCallUsage = "/oncall [team] | /oncall override <@user> [team[/schedule]] for <duration> | until <HH:MM or YYYY-MM-DD HH:MM>"

// ParseOnCallCommand reads the text after `/oncall`. Times are read in loc
// (the config's zone); `until HH:MM` is the next such moment after now.
// Errors wrap ErrInvalid and say how to write it.
func ParseOnCallCommand(text string, now time.Time, loc *time.Location) (OnCallCommand, error) {
	var c OnCallCommand
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s; usage: %s", ErrInvalid, fmt.Sprintf(format, args...), OnCallUsage)
	}
	if !utf8.ValidString(text) || len(text) > 500 {
		return c, bad("the command is not valid UTF-8 or too long")
	}
	words := strings.Fields(text)
	switch {
	case len(words) == 0:
		return c, nil
	case strings.ToLower(words[0]) != "override":
		if len(words) > 1 {
			return c, bad("%q: name one team", text)
		}
		c.Team = words[0]
		return c, nil
	}
	c.Override, words = true, words[1:]
	if len(words) == 0 {
		return c, bad("override needs a person")
	}
	c.User = MentionedUser(words[0])
	if c.User == "" {
		return c, bad("%q is not a person: mention them as @name", words[0])
	}
	words = words[1:]
	if len(words) > 0 && words[0] != "for" && words[0] != "until" {
		c.Team, c.Schedule, _ = strings.Cut(words[0], "/")
		words = words[1:]
	}
	if len(words) < 2 {
		return c, bad("say how long: for 2h, or until 18:00")
	}
	c.Start = now.UTC()
	rest := strings.Join(words[1:], " ")
	switch words[0] {
	case "for":
		d, err := parseLength(rest)
		if err != nil {
			return c, bad("%q is not a length like 2h, 90m or 3d", rest)
		}
		c.End = c.Start.Add(d)
	case "until":
		t, err := parseUntil(rest, now, loc)
		if err != nil {
			return c, bad("%q is not a time like 18:00 or 2026-12-24 09:00", rest)
		}
		c.End = t.UTC()
	default:
		return c, bad("%q: want for <duration> or until <time>", words[0])
	}
	if !c.End.After(c.Start) {
		return c, bad("the override would end before it starts")
	}
	return c, nil
}

// MentionedUser reads a Slack mention as command text carries it,
// "<@U123|name>" or "<@U123>", or a bare user ID; "" when s is none.
func MentionedUser(s string) string {
	s = strings.TrimPrefix(strings.TrimSuffix(s, ">"), "<@")
	s, _, _ = strings.Cut(s, "|")
	if len(s) < 3 || len(s) > 21 || (s[0] != 'U' && s[0] != 'W') {
		return ""
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return ""
		}
	}
	return s
}

// parseLength reads a Go duration or whole days ("3d").
func parseLength(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 366 {
			return 0, fmt.Errorf("bad days %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// parseUntil reads HH:MM (the next such moment after now), YYYY-MM-DD
// HH:MM (in loc) or RFC 3339.
func parseUntil(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if h, m, ok := clock(s); ok {
		n := now.In(loc)
		t := time.Date(n.Year(), n.Month(), n.Day(), h, m, 0, 0, loc)
		if !t.After(now) {
			t = time.Date(n.Year(), n.Month(), n.Day()+1, h, m, 0, 0, loc)
		}
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, loc); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}
