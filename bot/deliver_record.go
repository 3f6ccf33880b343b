package bot

import (
	"strings"
	"time"
	"unicode/utf8"
)

// maxPinnedText bounds a pinned message's text on the timeline.
const maxPinnedText = 1000

// applyResult records on inc what a chat step did and reports whether
// anything changed.
func applyResult(inc *Incident, r ChatResult) bool {
	changed := false
	set := func(field *string, v string) {
		if v != "" && *field != v {
			*field, changed = v, true
		}
	}
	set(&inc.SlackChannelID, r.ChannelID)
	set(&inc.SlackChannelName, r.ChannelName)
	set(&inc.SlackMessageTS, r.MessageTS)
	set(&inc.SlackHeadlineTS, r.HeadlineTS)
	if r.State != nil {
		inc.Chat, changed = *r.State, true
	}
	return changed
}

// resultEntries are the timeline entries a chat step causes. inc is the
// incident before the step's result is applied.
func resultEntries(inc *Incident, d Delivery, r ChatResult, now time.Time) []*TimelineEntry {
	actor := Person(d.Actor)
	if actor == "" {
		actor = ActorBot
	}
	var out []*TimelineEntry
	if r.ChannelID != "" && inc.SlackChannelID != r.ChannelID {
		out = append(out, entry(KindChannelCreated, now, ActorBot, "channel #%s created", r.ChannelName))
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
