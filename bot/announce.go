package bot

import (
	"fmt"
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
// posts one short message listing what changed.
func announce(inc *Incident, opened bool, entries []*TimelineEntry, now time.Time) []*Delivery {
	if opened {
		return []*Delivery{{IncidentID: inc.ID, Kind: DeliveryOpen, CreatedAt: now}}
	}
	entries = unposted(entries)
	if len(entries) == 0 {
		return []*Delivery{{IncidentID: inc.ID, Kind: DeliveryRefresh, CreatedAt: now}}
	}
	lines := make([]string, 0, min(len(entries), maxPostLines+1))
	for i, e := range entries {
		if i == maxPostLines {
			lines = append(lines, fmt.Sprintf("…and %d more changes (see /incident timeline)", len(entries)-maxPostLines))
			break
		}
		lines = append(lines, "• "+e.Text)
	}
	actor := entries[0].Actor
	return []*Delivery{
		{IncidentID: inc.ID, Kind: DeliveryRefresh, CreatedAt: now},
		{IncidentID: inc.ID, Kind: DeliveryPost, Text: strings.Join(lines, "\n"), Actor: actor, CreatedAt: now},
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
