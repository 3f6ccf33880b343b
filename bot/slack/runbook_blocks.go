package slack

import (
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// maxStepsShown keeps a runbook message under Slack's 50 blocks.
const maxStepsShown = 45

// stepsDone returns the incident's done steps of a runbook by number.
func stepsDone(inc *bot.Incident, runbook string) map[int]bot.StepDone {
	done := map[int]bot.StepDone{}
	for _, s := range inc.StepsDone {
		if s.Runbook == runbook {
			done[s.N] = s
		}
	}
	return done
}

// doneCount is how many of the runbook's steps are done; a refresh edits
// a checklist whose count changed.
func doneCount(inc *bot.Incident, rb bot.Runbook) int {
	done, n := stepsDone(inc, rb.Name), 0
	for _, s := range rb.Steps {
		if _, ok := done[s.N]; ok {
			n++
		}
	}
	return n
}

// runbook renders a runbook as a checklist: one Done button per step
// (bot.ActionRunbookStep, value bot.StepValue), done steps struck through
// with who did them, and the progress ("3/9 done") at the top.
func (v view) runbook(inc *bot.Incident, rb bot.Runbook) (string, []slackgo.Block) {
	done := stepsDone(inc, rb.Name)
	n := doneCount(inc, rb)
	title := rb.Title
	if title == "" {
		title = rb.Name
	}
	progress := fmt.Sprintf("%d/%d done", n, len(rb.Steps))
	blocks := []slackgo.Block{
		slackgo.NewHeaderBlock(plain(clip("📋 "+oneLine(title), 150))),
		slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf("Runbook %s for %s · *%s*", code(rb.Name), inc.Key(), progress))),
	}
	if intro := strings.TrimSpace(rb.Intro); intro != "" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(Escape(clip(intro, 2900))), nil, nil))
	}
	for _, s := range rb.Steps[:min(len(rb.Steps), maxStepsShown)] {
		blocks = append(blocks, v.step(inc, rb, s, done))
	}
	if more := len(rb.Steps) - maxStepsShown; more > 0 {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more steps, in the runbook file.", more))))
	}
	return fmt.Sprintf("Runbook %s: %s", Escape(oneLine(title)), progress), blocks
}

func (v view) step(inc *bot.Incident, rb bot.Runbook, s bot.RunbookStep, done map[int]bot.StepDone) slackgo.Block {
	text := fmt.Sprintf("*%d.* %s", s.N, Escape(oneLine(s.Text)))
	if d, ok := done[s.N]; ok {
		line := fmt.Sprintf("✅ ~%s~\n_done by %s, %s_", text, mention(d.By), v.when(d.At))
		return slackgo.NewSectionBlock(mrkdwn(clip(line, 2900)), nil, nil)
	}
	var b strings.Builder
	b.WriteString("⬜ " + text)
	if s.Command != "" {
		b.WriteString("\n" + code(oneLine(s.Command)))
	}
	if l := link(s.Link, "open link"); l != "" {
		b.WriteString("\n" + l)
	}
	if s.Query != "" {
		b.WriteString("\nquery: " + code(oneLine(s.Query)))
	}
	if g := strings.TrimSpace(s.Guidance); g != "" {
		b.WriteString("\n_" + Escape(oneLine(g)) + "_")
	}
	button := slackgo.NewButtonBlockElement(bot.ActionRunbookStep, bot.StepValue(inc.ID, rb.Name, s.N), plain("Done"))
	return slackgo.NewSectionBlock(mrkdwn(clip(b.String(), 2900)), nil, slackgo.NewAccessory(button))
}
