package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The deliveries the chat adapter carries out.
const (
	// DeliveryOpen creates the incident's channel, sets its topic, invites
	// the responders, posts the incident message, the headline and the
	// matching runbooks. Each step is recorded as it succeeds, so a retry
	// resumes where the last attempt stopped.
	DeliveryOpen DeliveryKind = "open"
	// DeliveryRefresh edits the incident message, the headline and the
	// topic to show the incident as it is now. Consecutive refreshes of one
	// incident collapse into one.
	DeliveryRefresh DeliveryKind = "refresh"
	// DeliveryPost posts Text into the incident's channel.
	DeliveryPost DeliveryKind = "post"
	// DeliveryRunbook posts the runbook named Ref as a checklist.
	DeliveryRunbook DeliveryKind = "runbook"
	// DeliveryPostmortem uploads the postmortem draft into the channel.
	DeliveryPostmortem DeliveryKind = "postmortem"
)

// maxPostLines bounds one change message: a storm of alerts in one group is
// one short message, not a post per alert.
const maxPostLines = 10

// announce decides what the chat is told about a change: an opened incident
// gets its channel; every later change refreshes the incident message and
// posts one short message listing what changed, each line saying who and
// when (in loc), so that a moment typed in later reads as such.
func announce(inc *Incident, opened bool, entries []*TimelineEntry, now time.Time, loc *time.Location) []*Delivery {
	if opened {
		return []*Delivery{{IncidentID: inc.ID, Kind: DeliveryOpen, CreatedAt: now}}
	}
	entries = unposted(entries)
	if len(entries) == 0 {
		return []*Delivery{{IncidentID: inc.ID, Kind: DeliveryRefresh, CreatedAt: now}}
	}
	lines := make([]string, 0, min(len(entries), maxPostLines+1))
	ids := make([]string, 0, min(len(entries), maxPostLines))
	for i, e := range entries {
		if i == maxPostLines {
			lines = append(lines, fmt.Sprintf("…and %d more changes (see /incident timeline)", len(entries)-maxPostLines))
			break
		}
		lines = append(lines, "• "+PostLine(inc, *e, now, loc))
		ids = append(ids, strconv.FormatUint(e.ID, 10))
	}
	actor := entries[0].Actor
	return []*Delivery{
		{IncidentID: inc.ID, Kind: DeliveryRefresh, CreatedAt: now},
		// Ref lists the entries of the first lines, so that the chat can
		// give each its menu to correct it (PostEntries reads it back).
		{IncidentID: inc.ID, Kind: DeliveryPost, Text: strings.Join(lines, "\n"), Ref: strings.Join(ids, ","), Actor: actor, CreatedAt: now},
	}
}

// unposted leaves out the entries the chat shows elsewhere: a runbook
// step's mark shows on its checklist, edited in place, and a message per
// tick would bury the channel.
func unposted(entries []*TimelineEntry) []*TimelineEntry {
	out := entries[:0:0]
	for _, e := range entries {
		if e.Kind != KindRunbookStep {
			out = append(out, e)
		}
	}
	return out
}

// backdated is how far before its recording a person's entry must lie to
// be marked as typed in later.
const backdated = time.Minute

// PostLine is how the chat shows one timeline entry: its text, who (a
// mention in chat markup), when ("14:10 UTC", with the date when it is not
// now's day in loc), and marks for a moment typed in later and one before
// detection: "Initial theory — <@U1> · 14:10 UTC (backdated)". People's
// text keeps its mention markup; the chat adapter escapes the rest.
func PostLine(inc *Incident, e TimelineEntry, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	b.WriteString(OneLine(e.Text))
	b.WriteString(" — ")
	if who := Mention(e.Actor); who != "" && !strings.Contains(e.Text, who) {
		b.WriteString(who + " · ")
	}
	b.WriteString(ClockIn(e.At, now, loc))
	var marks []string
	if PersonID(e.Actor) != "" && !e.RecordedAt.IsZero() && e.RecordedAt.Sub(e.At) >= backdated {
		marks = append(marks, "backdated")
	}
	if e.IsBeforeDetection(inc) {
		marks = append(marks, "before detection")
	}
	if len(marks) > 0 {
		b.WriteString(" (" + strings.Join(marks, ", ") + ")")
	}
	return b.String()
}

// ClockIn writes t as "14:10 UTC" in loc, or "Jun 19 14:10 UTC" when its day
// in loc is not now's.
func ClockIn(t, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	lt, ln := t.In(loc), now.In(loc)
	if lt.Year() != ln.Year() || lt.YearDay() != ln.YearDay() {
		return lt.Format("Jan 2 15:04 MST")
	}
	return lt.Format("15:04 MST")
}

// OneLine folds text onto one line: runs of whitespace, newlines included,
// become one space.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// PostEntries reads the entry IDs a change post's Ref lists, one per line
// from the first; nil when it lists none (a post that is not about
// entries, or one written before posts had menus).
func PostEntries(d Delivery) []uint64 {
	if d.Kind != DeliveryPost || d.Ref == "" {
		return nil
	}
	var out []uint64
	for f := range strings.SplitSeq(d.Ref, ",") {
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil
		}
		out = append(out, id)
	}
	return out
}
