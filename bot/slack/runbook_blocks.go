package slack

import (
	"fmt"
	"strings"
	"time"

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

// doneCount is how many of the runbook's steps are marked, done or
// skipped as not applicable.
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
// the top, what the variables were filled with, the intro, then each step
// as written, code blocks fenced, with Done and Skip buttons; a marked
// step shrinks to its first line with who marked it, when, and an Undo
// button. The buttons' action IDs are bot.ActionRunbookStep, Skip and
// Undo, their value bot.StepValue. Long steps take several sections;
// steps that would pass Slack's 50 blocks are counted at the end instead.
func (v view) runbook(inc *bot.Incident, rb bot.Runbook) (string, []slackgo.Block) {
	done := stepsDone(inc, rb.Name)
	n, skipped := 0, 0
	for _, s := range rb.Steps {
		if d, ok := done[s.N]; ok {
			n++
			if d.Skipped {
				skipped++
			}
		}
	}
	title := rb.Title
	if title == "" {
		title = rb.Name
	}
	progress := fmt.Sprintf("%d/%d done", n, len(rb.Steps))
	head := fmt.Sprintf("Runbook %s for %s · *%s*", code(rb.Name), inc.Key(), progress)
	if skipped > 0 {
		head += fmt.Sprintf(" (%d skipped as not applicable)", skipped)
	}
	blocks := []slackgo.Block{
		slackgo.NewHeaderBlock(plain(clip("📋 "+oneLine(title), 150))),
		slackgo.NewContextBlock("", mrkdwn(head)),
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

// step renders one step as one or more section blocks and its buttons.
func (v view) step(inc *bot.Incident, rb bot.Runbook, s bot.RunbookStep, done map[int]bot.StepDone, vars map[string]string) []slackgo.Block {
	value := bot.StepValue(inc.ID, rb.Name, s.N)
	head := fmt.Sprintf("*%d.*", s.N)
	if d, ok := done[s.N]; ok {
		icon, what := "✅", "done"
		if d.Skipped {
			icon, what = "⏭️", "skipped as not applicable"
		}
		line := fmt.Sprintf("%s ~%s %s~\n_%s by %s, %s_", icon, head, clip(Escape(oneLine(s.Text)), 2000), what, mention(d.By), v.when(d.At))
		undo := slackgo.NewButtonBlockElement(bot.ActionRunbookUndo, value, plain("Undo"))
		return append([]slackgo.Block{slackgo.NewSectionBlock(mrkdwn(line), nil, slackgo.NewAccessory(undo))}, v.profileNote(inc, s)...)
	}
	parts := renderMarkdown(s.Markdown, vars)
	if len(parts) == 0 || s.Text == "" {
		parts = append([]string{""}, parts...)
	}
	parts[0] = strings.TrimSpace("⬜ " + head + " " + parts[0])
	var out []slackgo.Block
	for _, text := range packSections(parts, maxSectionText) {
		out = append(out, slackgo.NewSectionBlock(mrkdwn(text), nil, nil))
	}
	out = append(out, v.profileNote(inc, s)...)
	return append(out, slackgo.NewActionBlock("",
		slackgo.NewButtonBlockElement(bot.ActionRunbookStep, value, plain(fmt.Sprintf("Done: step %d", s.N))).WithStyle(slackgo.StylePrimary),
		slackgo.NewButtonBlockElement(bot.ActionRunbookSkip, value, plain("Skip (not applicable)"))))
}

// profileNote shows, under a profiling step, the heap profiles the bot
// captured for the incident and what their diff found.
func (v view) profileNote(inc *bot.Incident, s bot.RunbookStep) []slackgo.Block {
	if !s.Profile {
		return nil
	}
	note := bot.ProfileNote(inc, func(t time.Time) string { return t.In(v.loc).Format("15:04") })
	if note == "" {
		return nil
	}
	return []slackgo.Block{slackgo.NewContextBlock("", mrkdwn(clip("🔬 incidentbot "+Escape(note), maxSectionText)))}
}
