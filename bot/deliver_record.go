package bot

import (
	"strings"
	"time"
	"unicode/utf8"
)

// maxPinnedText bounds a pinned message's text on the timeline.
const maxPinnedText = 1000

// resultEntries are the timeline entries a chat step causes. old is the
// chat's record before the step.
func resultEntries(old ChatRecord, d Delivery, r ChatResult, now time.Time) []*TimelineEntry {
	actor := Person(d.Actor)
	if actor == "" {
		actor = ActorBot
	}
	var out []*TimelineEntry
	if rec := r.Record; rec != nil && rec.Room != "" && rec.Room != old.Room {
		if old.Room == "" {
			out = append(out, entry(KindChannelCreated, now, ActorBot, "channel #%s created", rec.RoomName))
		} else {
			out = append(out, entry(KindChannelCreated, now, ActorBot, "channel #%s created for the reopened incident: #%s was archived, and a bot cannot unarchive it", rec.RoomName, old.RoomName))
		}
	}
	if len(r.Invited) > 0 {
		out = append(out, entry(KindRespondersInvited, now, ActorBot, "responders invited: %s", strings.Join(r.Invited, ", ")))
	}
	if r.Runbook != "" {
		out = append(out, entry(KindRunbookPosted, now, actor, "runbook %s posted (%d steps)", r.Runbook, r.RunbookSteps))
	}
	if r.File != "" {
		out = append(out, entry(KindPostmortemExported, now, actor, "postmortem draft exported to the channel as %s", r.File))
	}
	if p := r.Pinned; p != nil {
		at := p.At
		if at.IsZero() || at.After(now) {
			at = now
		}
		out = append(out, entry(KindPinned, at, actor, "%s: %s", Mention(p.Author), NormalizeMentions(clip(strings.TrimSpace(CleanText(p.Text)), maxPinnedText))))
	}
	if r.Warning != "" {
		out = append(out, entry(KindDeliveryFailed, now, ActorBot, "%s", r.Warning))
	}
	return out
}

// appendEntries appends entries the worker writes about the chat. They
// announce nothing: they describe what the chat already shows.
func appendEntries(tx Tx, incident int64, now time.Time, entries []*TimelineEntry) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		e.IncidentID, e.RecordedAt, e.At = incident, now, e.At.UTC()
	}
	return tx.Append(entries...)
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
