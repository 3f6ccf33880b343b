package slack

import (
	"fmt"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// RunbookFinding is something that would go wrong when a runbook's
// checklist is posted to Slack: Step is the step's number, 0 for the
// runbook as a whole.
type RunbookFinding struct {
	Step int
	Msg  string
}

// CheckRunbook renders rb's checklist as an incident would first see it
// (no step marked) and reports what Slack's limits would spoil: steps past
// the 50 blocks of a message, which would not show, and lines longer than
// a section holds, which would be cut where an engineer pastes them.
// `incidentbot runbooks lint` runs it on every runbook.
func CheckRunbook(rb bot.Runbook) []RunbookFinding {
	var out []RunbookFinding
	inc := &bot.Incident{ID: 1, Title: rb.Title, Severity: bot.SEV2, Status: bot.StatusInvestigating}
	_, blocks := view{loc: time.UTC}.runbook(inc, rb)
	if shown := stepsShown(blocks); shown < len(rb.Steps) {
		out = append(out, RunbookFinding{Step: shown + 1, Msg: fmt.Sprintf(
			"the checklist needs more than Slack's %d blocks a message: steps %d to %d would not show (shorten or split the runbook)",
			maxBlocks, shown+1, len(rb.Steps))})
	}
	longest := maxSectionText - 2*len(fence) - 2
	check := func(step int, md string) {
		for _, part := range renderMarkdown(md, nil) {
			for l := range strings.SplitSeq(part, "\n") {
				if len(l) > longest {
					out = append(out, RunbookFinding{Step: step, Msg: fmt.Sprintf(
						"a line of %d bytes: Slack takes %d a section, so it would be cut in two", len(l), maxSectionText)})
					return
				}
			}
		}
	}
	check(0, introMarkdown(rb.Intro))
	for _, s := range rb.Steps {
		check(s.N, s.Markdown)
	}
	return out
}

// stepsShown counts the steps a rendered checklist has buttons for.
func stepsShown(blocks []slackgo.Block) int {
	n := 0
	for _, b := range blocks {
		if a, ok := b.(*slackgo.ActionBlock); ok && a.Elements != nil && len(a.Elements.ElementSet) > 0 {
			n++
		}
	}
	return n
}
