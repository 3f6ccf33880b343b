package bot

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders the draft in the house format of
// reference/postmortem-payment-meltdown-2024.md, plus what that report
// lacked: key metrics, the alerts, the runbook steps done, the responders,
// and the flow diagram as Mermaid.
func (p *Postmortem) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Postmortem Report: %s %s\n\n", p.Key, oneLine(p.Title))
	w("*Draft exported by incidentbot on %s from the incident timeline. Everything marked **%s** is for the team to write; nothing here is guessed.*\n\n", p.long(p.ExportedAt), Placeholder)
	if p.URL != "" {
		w("*The incident's page, with the latest version of this draft: <%s>*\n\n", p.URL)
	}
	w("---\n\n## Issue Summary\n\n")
	w("**Duration of Outage:** %s\n\n", p.Duration)
	w("**Impact:** %s\n\n", orTodo(p.Impact, "who was affected, how, and how many (record it with `/incident impact`)."))
	w("**Root Cause:** %s\n\n", orTodo(p.RootCause, "what caused it (record it with `/incident cause`)."))
	w("**Severity:** %s · **Status:** %s · **Lead:** %s\n\n", p.Severity, p.Status, orDash(p.Lead))
	w("**Responders:** %s\n\n", orDash(strings.Join(p.Responders, ", ")))
	p.writeMetrics(&b)
	p.writeGraph(&b)
	w("---\n\n## Timeline\n\n")
	days := p.spansDays()
	if len(p.Timeline) == 0 {
		w("- %s: nothing was recorded.\n", Placeholder)
	}
	for _, e := range p.Timeline {
		w("- **%s:** %s%s\n", p.clock(e.At, days), oneLine(e.Text), byline(e))
	}
	w("\n---\n\n## Root Cause and Resolution\n\n")
	w("**Root Cause:** %s\n\n", orTodo(p.RootCause, "the chain of events, from the first trigger to the outage."))
	w("**Resolution:** %s\n\n", orTodo(p.Resolution, "what restored service, and how the fix was verified (`/incident resolve <summary>`)."))
	w("---\n\n## Corrective and Preventative Measures\n\n")
	w("**Improvements:**\n%s: what to do better in code review, monitoring and testing.\n\n", Placeholder)
	w("**Task List:**\n")
	if len(p.ActionItems) == 0 {
		w("- [ ] %s: no action items yet (add them with `/incident action <text>`).\n", Placeholder)
	}
	for _, a := range p.ActionItems {
		w("- [ ] %s (%s, %s)\n", oneLine(a.Text), a.By, p.clock(a.At, days))
	}
	p.writeAlerts(&b)
	p.writeSteps(&b, days)
	w("\n---\n\n## Incident Flow Diagram\n\n")
	p.writeDiagram(&b)
	return b.String()
}

func (p *Postmortem) writeMetrics(b *strings.Builder) {
	m := p.Metrics
	fmt.Fprintf(b, "| | when | from detection |\n| --- | --- | --- |\n")
	fmt.Fprintf(b, "| Detected | %s | |\n", p.long(m.DetectedAt))
	row := func(name string, at *time.Time, span *Span) {
		if at == nil {
			fmt.Fprintf(b, "| %s | not yet | |\n", name)
			return
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", name, p.long(*at), span.Text)
	}
	row("Acknowledged", m.AcknowledgedAt, m.TimeToAcknowledge)
	row("Mitigated", m.MitigatedAt, m.TimeToMitigate)
	row("Resolved", m.ResolvedAt, m.TimeToResolve)
	b.WriteString("\n")
}

func (p *Postmortem) writeAlerts(b *strings.Builder) {
	if len(p.Alerts) == 0 {
		return
	}
	fmt.Fprintf(b, "\n---\n\n## Alerts Involved\n\n| alert | labels | fired | resolved |\n| --- | --- | --- | --- |\n")
	for _, a := range p.Alerts {
		resolved := "still firing"
		if a.EndsAt != nil {
			resolved = p.long(*a.EndsAt)
		}
		labels := strings.ReplaceAll(LabelString(a.Labels, "alertname"), "|", `\|`)
		fmt.Fprintf(b, "| %s | `%s` | %s | %s |\n", a.Name(), labels, p.long(a.StartsAt), resolved)
	}
}

func (p *Postmortem) writeSteps(b *strings.Builder, days bool) {
	if len(p.StepsDone) == 0 {
		return
	}
	fmt.Fprintf(b, "\n---\n\n## Runbook Steps Done\n\n")
	for _, s := range p.StepsDone {
		text := ""
		if s.Text != "" {
			text = ": " + oneLine(s.Text)
		}
		if s.Skipped {
			text += " (skipped: not applicable)"
		}
		fmt.Fprintf(b, "- **%s:** %s step %d%s (%s)\n", p.clock(s.At, days), s.Runbook, s.N, text, s.By)
	}
}

// writeDiagram draws detected -> acknowledged -> mitigated -> resolved as a
// Mermaid flowchart, which renders where teams keep postmortems.
func (p *Postmortem) writeDiagram(b *strings.Builder) {
	m := p.Metrics
	type node struct {
		id, name string
		at       *time.Time
	}
	det := m.DetectedAt
	nodes := []node{{"detected", "Detected", &det}, {"acknowledged", "Acknowledged", m.AcknowledgedAt},
		{"mitigated", "Mitigated", m.MitigatedAt}, {"resolved", "Resolved", m.ResolvedAt}}
	b.WriteString("```mermaid\nflowchart LR\n")
	for i, n := range nodes {
		label := n.name + "<br/>not yet"
		if n.at != nil {
			label = n.name + "<br/>" + p.clock(*n.at, p.spansDays())
			if i > 0 {
				label += " (+" + HumanDuration(n.at.Sub(det)) + ")"
			}
		}
		fmt.Fprintf(b, "    %s[\"%s\"]\n", n.id, label)
	}
	fmt.Fprintf(b, "    detected --> acknowledged --> mitigated --> resolved\n```\n")
}

func byline(e TimelineEntry) string {
	if e.Actor == "" || e.Actor == ActorAlertmanager || e.Actor == ActorBot || strings.Contains(e.Text, e.Actor) {
		return ""
	}
	return " (" + e.Actor + ")"
}

func orTodo(s, what string) string {
	if strings.TrimSpace(s) == "" {
		return Placeholder + ": " + what
	}
	return oneLine(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// oneLine keeps user text from breaking the Markdown structure: newlines
// become spaces, and a leading "#" or "-" cannot start a heading or list.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.TrimLeft(s, "#")
}
