package bot

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders the draft in the house format of
// reference/postmortem-payment-meltdown-2024.md, plus what that report
// lacked: key metrics, the alerts, the runbook steps done, the responders,
// and the flow diagram as Mermaid. People are written by name (Names),
// never as chat mentions; every section only people can write keeps a
// marked prompt.
func (p *Postmortem) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Postmortem Report: %s %s\n\n", p.Key, p.line(p.Title))
	w("*Draft exported by incidentbot on %s from the incident timeline. Everything marked **%s** is for the team to write; nothing here is guessed.*\n\n", p.long(p.ExportedAt), Placeholder)
	if p.URL != "" {
		w("*The incident's page, with the latest version of this draft: <%s>*\n\n", p.URL)
	}
	w("---\n\n## Issue Summary\n\n")
	w("**Duration of Outage:** %s\n\n", p.Duration)
	w("**Impact:** %s\n\n", p.orTodo(p.Impact, "who was affected, how, and how many (record it with `/incident impact`)."))
	w("**Root Cause:** %s\n\n", p.orTodo(p.RootCause, "what caused it, in one line (record it with `/incident cause`)."))
	w("**Severity:** %s · **Status:** %s · **Lead:** %s\n\n", p.Severity, p.Status, orDash(p.person(p.Lead)))
	names := make([]string, len(p.Responders))
	for i, id := range p.Responders {
		names[i] = p.person(id)
	}
	w("**Responders:** %s\n\n", orDash(strings.Join(names, ", ")))
	p.writeMetrics(&b)
	p.writeGraph(&b)
	w("---\n\n## Timeline\n\n")
	days := p.spansDays()
	if len(p.Timeline) == 0 {
		w("- %s: nothing was recorded.\n", Placeholder)
	}
	for _, e := range p.Timeline {
		mark := ""
		if e.IsBeforeDetection(nil) {
			mark = " *(before detection)*"
		}
		w("- **%s:** %s%s%s\n", p.clock(e.At, days), p.line(e.Text), p.byline(e), mark)
	}
	w("\n---\n\n## Root Cause and Resolution\n\n")
	cause := "the chain of events, from the first trigger to the outage, and why it was not caught earlier."
	if strings.TrimSpace(p.RootCause) != "" {
		cause += " Recorded in one line during the incident: " + p.line(p.RootCause)
	}
	w("**Root Cause:** %s: %s\n\n", Placeholder, cause)
	w("**Resolution:** %s\n\n", p.orTodo(p.Resolution, "what restored service, and how the fix was verified (`/incident resolve <summary>`)."))
	w("---\n\n## Corrective and Preventative Measures\n\n")
	w("**Improvements:**\n%s: what to do better in code review, monitoring and testing.\n\n", Placeholder)
	w("**Task List:**\n")
	if len(p.ActionItems) == 0 {
		w("- [ ] %s: no action items yet (add them with `/incident action <text>`).\n", Placeholder)
	}
	for _, a := range p.ActionItems {
		w("- [ ] %s (%s, %s)\n", p.line(a.Text), p.person(a.By), p.clock(a.At, days))
	}
	p.writeAlerts(&b)
	p.writeSteps(&b, days)
	w("\n---\n\n## Incident Flow Diagram\n\n")
	p.writeDiagram(&b)
	return b.String()
}

// person writes someone for readers outside the chat: their name from
// Names, else their ID; a bot actor as is.
func (p *Postmortem) person(who string) string {
	id := PersonID(who)
	if id == "" {
		return MarkdownLine(who)
	}
	if n, ok := p.Names[id]; ok {
		return MarkdownLine(n)
	}
	return id
}

// line writes text people or alerts wrote as one Markdown line, mentions
// replaced with names.
func (p *Postmortem) line(s string) string {
	return MarkdownLine(ReplaceMentions(s, func(id, label string) string {
		if _, ok := p.Names[id]; !ok && label != "" {
			return "@" + label
		}
		return p.person(id)
	}))
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
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", MarkdownCell(a.Name()), MarkdownCell(LabelString(a.Labels, "alertname")), p.long(a.StartsAt), resolved)
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
			text = ": " + p.line(s.Text)
		}
		if s.Skipped {
			text += " (skipped: not applicable)"
		}
		fmt.Fprintf(b, "- **%s:** %s step %d%s (%s)\n", p.clock(s.At, days), MarkdownLine(s.Runbook), s.N, text, p.person(s.By))
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

// byline names who wrote an entry, unless its text already names them.
func (p *Postmortem) byline(e TimelineEntry) string {
	id := PersonID(e.Actor)
	if id == "" || contains(MentionedPeople(e.Text), id) {
		return ""
	}
	return " — " + p.person(id)
}

func (p *Postmortem) orTodo(s, what string) string {
	if strings.TrimSpace(s) == "" {
		return Placeholder + ": " + what
	}
	return p.line(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
