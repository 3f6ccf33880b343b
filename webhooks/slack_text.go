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

// verbOrder is the order of `/incident help`, as in SPEC.md.
var verbOrder = []string{"declare", "list", "help", "ack", "sev", "status", "lead", "note", "impact",
	"cause", "action", "runbook", "timeline", "postmortem", "resolve", "reopen", "page", "silence", "unsilence", "profile"}

func helpText() string {
	var b strings.Builder
	b.WriteString("*/incident* commands (`declare`, `list` and `help` work anywhere; the others in an incident's channel):\n```\n")
	for _, v := range verbOrder {
		b.WriteString(bot.Usage(v))
		b.WriteString("\n")
	}
	b.WriteString("```\n`HH:MM` (UTC) or an RFC 3339 time records something that happened earlier.")
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
	var b strings.Builder
	fmt.Fprintf(&b, "*Open incidents* (newest first):")
	for i, inc := range list {
		if i == maxListed || b.Len() > maxReplyText {
			fmt.Fprintf(&b, "\n…and more; see %s", orDefault(s.link("/api/v1/incidents?status=open"), "the API"))
			break
		}
		channel := "no channel yet"
		if inc.SlackChannelID != "" {
			channel = "<#" + inc.SlackChannelID + ">"
		}
		fmt.Fprintf(&b, "\n• *%s* %s · %s · %s · %s", inc.Key(), titleText(inc), inc.Severity, inc.Status, channel)
	}
	return ephemeral("%s", b.String())
}

// timeline lists the incident's entries, oldest first; when they do not
// fit, the latest ones are shown.
func (s *Server) timeline(ctx context.Context, inc *bot.Incident) Reply {
	entries, err := s.svc.Timeline(ctx, inc.ID)
	if err != nil {
		return s.failed(ctx, err, "timeline")
	}
	if len(entries) == 0 {
		return ephemeral("%s has nothing on its timeline yet.", inc.Key())
	}
	days := entries[0].At.Format("2006-01-02") != entries[len(entries)-1].At.Format("2006-01-02")
	lines := make([]string, 0, len(entries))
	size := 0
	for i := len(entries) - 1; i >= 0 && size < maxReplyText; i-- {
		line := "• `" + clockText(entries[i], days) + "` " + entryText(entries[i]) + byActor(entries[i])
		lines = append(lines, line)
		size += len(line) + 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Timeline of %s* (UTC):", inc.Key())
	if hidden := len(entries) - len(lines); hidden > 0 {
		fmt.Fprintf(&b, "\n_%d earlier entries not shown; the full timeline is at %s_", hidden,
			orDefault(s.link("/api/v1/incidents/%d/timeline", inc.ID), "/api/v1/incidents/"+fmt.Sprint(inc.ID)+"/timeline"))
	}
	for i := len(lines) - 1; i >= 0; i-- {
		b.WriteString("\n")
		b.WriteString(lines[i])
	}
	return ephemeral("%s", b.String())
}

func clockText(e bot.TimelineEntry, days bool) string {
	if days {
		return e.At.UTC().Format("Jan 2 15:04")
	}
	return e.At.UTC().Format("15:04")
}

// entryText is an entry's text for Slack. Text from alerts is escaped;
// text people typed came through Slack, which escaped it already and whose
// mentions must keep working.
func entryText(e bot.TimelineEntry) string {
	if e.Actor == bot.ActorAlertmanager {
		return botslack.Escape(oneLine(e.Text))
	}
	return oneLine(e.Text)
}

// titleText is an incident's title for Slack, escaped when it came from
// alerts (see entryText).
func titleText(inc *bot.Incident) string {
	if inc.GroupKey != "" {
		return botslack.Escape(inc.Title)
	}
	return inc.Title
}

func byActor(e bot.TimelineEntry) string {
	if e.Actor == "" || e.Actor == bot.ActorAlertmanager || e.Actor == bot.ActorBot || strings.Contains(e.Text, e.Actor) {
		return ""
	}
	return " — " + e.Actor
}

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

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
