package slack

import (
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

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

// runbook renders a runbook as a checklist: the progress ("3/9 done") at
// the top, the intro, then each step as written, code blocks fenced, with
// a Done button (bot.ActionRunbookStep, value bot.StepValue); a done step
// shrinks to its first line, struck through, with who did it and when.
// Long steps take several sections; steps that would pass Slack's 50
// blocks are counted at the end instead.
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
	vals := bot.FillVars(rb, inc)
	vars := map[string]string{}
	for _, val := range vals {
		if val.Filled {
			vars[val.Name] = val.Value
		}
	}
	if note := varsNote(vals); note != "" {
		blocks = append(blocks, slackgo.NewContextBlock("runbook_vars", mrkdwn(note)))
	}
	for _, s := range packSections(renderMarkdown(introMarkdown(rb.Intro), vars), maxSectionText) {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(s), nil, nil))
	}
	for i, s := range rb.Steps {
		step := v.step(inc, rb, s, done, vars)
		if len(blocks)+len(step) > maxBlocks-1 && i < len(rb.Steps) {
			blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf(
				"…and %d more steps that do not fit in one Slack message: read them in the runbook (%s).", len(rb.Steps)-i, code(rb.Source)))))
			break
		}
		blocks = append(blocks, step...)
	}
	return fmt.Sprintf("Runbook %s: %s", Escape(oneLine(title)), progress), blocks
}

// varsNote says which values the steps show and, in one line each, what
// would fill the variables that stay $NAME.
func varsNote(vals []bot.VarValue) string {
	var filled, missing []string
	for _, val := range vals {
		if val.Filled {
			filled = append(filled, code("$"+val.Name)+" = "+code(val.Value))
		} else {
			missing = append(missing, fmt.Sprintf("%s stays as written: %s.", code("$"+val.Name), Escape(clip(oneLine(val.Note), 300))))
		}
	}
	var lines []string
	if len(filled) > 0 {
		lines = append(lines, "Filled in from the alert: "+strings.Join(filled, " · "))
	}
	lines = append(lines, missing...)
	return clip(strings.Join(lines, "\n"), maxSectionText)
}

// introMarkdown leaves out a level-1 heading the intro starts with: the
// message's header already shows the runbook's title.
func introMarkdown(md string) string {
	md = strings.TrimSpace(md)
	if strings.HasPrefix(md, "# ") {
		if _, rest, ok := strings.Cut(md, "\n"); ok {
			return rest
		}
		return ""
	}
	return md
}

// step renders one step as one or more section blocks.
func (v view) step(inc *bot.Incident, rb bot.Runbook, s bot.RunbookStep, done map[int]bot.StepDone, vars map[string]string) []slackgo.Block {
	parts := renderMarkdown(s.Markdown, vars)
	head := fmt.Sprintf("*%d.*", s.N)
	if d, ok := done[s.N]; ok {
		title := Escape(oneLine(s.Text))
		line := fmt.Sprintf("✅ ~%s %s~\n_done by %s, %s_", head, clip(title, 2000), mention(d.By), v.when(d.At))
		return []slackgo.Block{slackgo.NewSectionBlock(mrkdwn(line), nil, nil)}
	}
	if len(parts) == 0 || s.Text == "" {
		parts = append([]string{""}, parts...)
	}
	parts[0] = strings.TrimSpace("⬜ " + head + " " + parts[0])
	var out []slackgo.Block
	for i, text := range packSections(parts, maxSectionText) {
		var acc *slackgo.Accessory
		if i == 0 {
			acc = slackgo.NewAccessory(slackgo.NewButtonBlockElement(bot.ActionRunbookStep, bot.StepValue(inc.ID, rb.Name, s.N), plain("Done")))
		}
		out = append(out, slackgo.NewSectionBlock(mrkdwn(text), nil, acc))
	}
	return out
}
