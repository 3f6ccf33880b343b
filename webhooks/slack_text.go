package webhooks

import (
	"context"
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

// maxReplyText keeps a reply readable: Slack folds long messages, and a
// long incident's timeline belongs in the API or the postmortem.
const maxReplyText = 3500

// maxListed bounds `/incident list`.
const maxListed = 50

// helpText lists bot.Verbs, the one table of `/incident` verbs.
func helpText(zone string) string {
	var b strings.Builder
	b.WriteString("*/incident* commands (`declare`, `list` and `help` work anywhere; the others in an incident's channel):\n```\n")
	width := 0
	for _, v := range bot.Verbs {
		width = max(width, len(v.Usage()))
	}
	for _, v := range bot.Verbs {
		fmt.Fprintf(&b, "%-*s  %s\n", width, v.Usage(), v.Help)
	}
	fmt.Fprintf(&b, "```\nA leading time records something that happened earlier: `HH:MM` (%s; the most recent such moment), `YYYY-MM-DD HH:MM` or RFC 3339. Times before detection are kept and marked.", zone)
	return b.String()
}

func (s *Server) listOpen(ctx context.Context) Reply {
	open := true
	list, err := s.svc.Incidents(ctx, bot.IncidentFilter{Open: &open, Limit: maxListed + 1})
	if err != nil {
		return s.failed(ctx, err, "list")
	}
	if len(list) == 0 {
		return ephemeral("No open incidents.")
	}
	chans := s.channels(ctx, list)
	var b strings.Builder
	fmt.Fprintf(&b, "*Open incidents* (newest first):")
	for i, inc := range list {
		if i == maxListed || b.Len() > maxReplyText {
			fmt.Fprintf(&b, "\n…and more; see %s", orDefault(s.link("/api/v1/incidents?status=open"), "the API"))
			break
		}
		channel := "no channel yet"
		if ch := chans[inc.ID].Room; ch != "" {
			channel = "<#" + ch + ">"
		}
		fmt.Fprintf(&b, "\n• *%s* %s · %s · %s · %s", inc.Key(), titleText(inc), inc.Severity, inc.Status, channel)
	}
	return ephemeral("%s", b.String())
}

// timeline lists the incident's newest entries (oldest of them first),
// as many as fit a reply, each saying who and when like the channel posts;
// the full timeline is a link away. Struck entries show struck.
func (s *Server) timeline(ctx context.Context, inc *bot.Incident) Reply {
	entries, err := s.svc.Timeline(ctx, inc.ID)
	if err != nil {
		return s.failed(ctx, err, "timeline")
	}
	if len(entries) == 0 {
		return ephemeral("%s has nothing on its timeline yet.", inc.Key())
	}
	now, zone := s.svc.Now(), s.svc.Zone()
	lines := make([]string, 0, len(entries))
	size := 0
	for i := len(entries) - 1; i >= 0 && size < maxReplyText; i-- {
		line := "• " + botslack.Escape(bot.PostLine(inc, entries[i], now, zone))
		if entries[i].Struck {
			line = "• ~" + strings.TrimPrefix(line, "• ") + "~ (struck)"
		}
		lines = append(lines, line)
		size += len(line) + 1
	}
	full := orDefault(s.link("/api/v1/incidents/%d/timeline", inc.ID), fmt.Sprintf("/api/v1/incidents/%d/timeline", inc.ID))
	var b strings.Builder
	fmt.Fprintf(&b, "*Timeline of %s*, newest %d of %d entries (full: %s):", inc.Key(), len(lines), len(entries), full)
	for i := len(lines) - 1; i >= 0; i-- {
		b.WriteString("\n")
		b.WriteString(lines[i])
	}
	return ephemeral("%s", b.String())
}

// titleText is an incident's title for Slack.
func titleText(inc *bot.Incident) string { return botslack.Escape(inc.Title) }

// runbookList names the runbooks matching the incident's alerts, then all.
func runbookList(rb bot.Runbooks, inc *bot.Incident) string {
	var b strings.Builder
	matching := rb.Match(inc.Alerts)
	if len(matching) == 0 {
		fmt.Fprintf(&b, "No runbook matches the alerts of %s.", inc.Key())
	} else {
		fmt.Fprintf(&b, "Runbooks for %s:", inc.Key())
		for _, r := range matching {
			fmt.Fprintf(&b, "\n• `%s` %s", r.Name, botslack.Escape(r.Title))
		}
	}
	fmt.Fprintf(&b, "\n%s\nPost one here with `/incident runbook <name>`.", runbookNames(rb.All()))
	return b.String()
}

func runbookNames(all []bot.Runbook) string {
	if len(all) == 0 {
		return "No runbooks are loaded."
	}
	names := make([]string, len(all))
	for i, r := range all {
		names[i] = "`" + r.Name + "`"
	}
	text := "All runbooks: " + strings.Join(names, ", ")
	if len(text) > maxReplyText {
		text = text[:strings.LastIndex(text[:maxReplyText], ",")] + ", …"
	}
	return text
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
