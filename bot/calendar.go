package bot

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// CalendarWeeks is how far ahead a team's calendar feed reaches.
const CalendarWeeks = 8

// Calendar renders a team's shifts as an iCalendar (RFC 5545) feed: one
// event per stretch someone is on call, per schedule, in UTC. Lines end
// with CRLF and are folded at 75 octets; text is escaped.
func Calendar(team string, shifts map[string][]Shift, now time.Time) []byte {
	var b strings.Builder
	line := func(s string) {
		room := 75 // a continuation's leading space counts in its 75
		for len(s) > room {
			cut := room
			for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
				cut--
			}
			b.WriteString(s[:cut] + "\r\n ")
			s, room = s[cut:], 74
		}
		b.WriteString(s + "\r\n")
	}
	stamp := func(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//incidentbot//on-call//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("X-WR-CALNAME:" + icsText("On call: "+team))
	names := make([]string, 0, len(shifts))
	for n := range shifts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, s := range shifts[name] {
			line("BEGIN:VEVENT")
			line(fmt.Sprintf("UID:%s-%s-%d-%s@incidentbot", icsText(team), icsText(name), s.Start.Unix(), icsText(s.User)))
			line("DTSTAMP:" + stamp(now))
			line("DTSTART:" + stamp(s.Start))
			line("DTEND:" + stamp(s.End))
			summary := fmt.Sprintf("%s on call (%s/%s)", s.User, team, name)
			if s.Override {
				summary += ", override"
			}
			line("SUMMARY:" + icsText(summary))
			line("TRANSP:TRANSPARENT")
			line("END:VEVENT")
		}
	}
	line("END:VCALENDAR")
	return []byte(b.String())
}

// icsText escapes TEXT values (RFC 5545 3.3.11).
func icsText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}
