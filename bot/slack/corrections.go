package slack

import (
	"context"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// entryBlocks lays a change post out one section per line, each line of a
// timeline entry with an overflow menu to correct it (bot.ActionEntryMenu):
// "Edit time or text" and "Strike" both open the correction modal. nil
// when the post names no entries: it is sent as plain text.
func entryBlocks(inc *bot.Incident, d bot.Delivery) []slackgo.Block {
	ids := bot.PostEntries(d)
	if len(ids) == 0 {
		return nil
	}
	lines := strings.Split(d.Text, "\n")
	blocks := make([]slackgo.Block, 0, len(lines))
	for i, line := range lines {
		text := mrkdwn(clip(Escape(line), 2900))
		if i >= len(ids) {
			blocks = append(blocks, slackgo.NewContextBlock("", text))
			continue
		}
		menu := slackgo.NewOverflowBlockElement(bot.ActionEntryMenu,
			slackgo.NewOptionBlockObject(bot.EntryValue(inc.ID, ids[i], "edit"), plain("Edit time or text"), nil),
			slackgo.NewOptionBlockObject(bot.EntryValue(inc.ID, ids[i], "strike"), plain("Strike"), nil))
		blocks = append(blocks, slackgo.NewSectionBlock(text, nil, slackgo.NewAccessory(menu)))
	}
	return blocks
}

// The block and action IDs of the correction modal's inputs.
const (
	viewWhen   = "when"
	viewText   = "text"
	viewStrike = "strike"
)

// CorrectionView is the modal that corrects timeline entry e of inc: its
// time (as "YYYY-MM-DD HH:MM" in loc), its text, and whether it is struck,
// filled with what the entry says now; strike pre-ticks the box.
func CorrectionView(inc *bot.Incident, e bot.TimelineEntry, loc *time.Location, strike bool) slackgo.ModalViewRequest {
	when := slackgo.NewPlainTextInputBlockElement(plain("YYYY-MM-DD HH:MM"), viewWhen)
	when.InitialValue = EntryWhen(e, loc)
	text := slackgo.NewPlainTextInputBlockElement(nil, viewText)
	text.Multiline, text.InitialValue, text.MaxLength = true, clip(e.Text, 3000), 3000
	opt := slackgo.NewOptionBlockObject("struck", plain("Strike it out: it stays on the timeline, struck, and leaves the postmortem draft"), nil)
	box := slackgo.NewCheckboxGroupsBlockElement(viewStrike, opt)
	if strike || e.Struck {
		box.InitialOptions = []*slackgo.OptionBlockObject{opt}
	}
	zone := "UTC"
	if loc != nil {
		zone = loc.String()
	}
	return slackgo.ModalViewRequest{
		Type: slackgo.VTModal, CallbackID: bot.CallbackCorrect,
		PrivateMetadata: bot.EntryValue(inc.ID, e.ID, "edit"),
		Title:           plain(clip("Correct "+inc.Key()+" entry", 24)),
		Submit:          plain("Save"), Close: plain("Cancel"),
		Blocks: slackgo.Blocks{BlockSet: []slackgo.Block{
			slackgo.NewContextBlock("", mrkdwn("The earlier version is kept in the entry's history, with who changed it and when.")),
			slackgo.NewInputBlock(viewWhen, plain("When ("+zone+")"), nil, when),
			slackgo.NewInputBlock(viewText, plain("What happened"), nil, text),
			slackgo.NewInputBlock(viewStrike, plain("Strike"), nil, box).WithOptional(true),
		}},
	}
}

// EntryWhen is how the modal shows an entry's time.
func EntryWhen(e bot.TimelineEntry, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return e.At.In(loc).Format("2006-01-02 15:04")
}

// CorrectionFrom reads a submitted correction modal against the entry as
// it is: only what was changed is corrected.
func CorrectionFrom(state *slackgo.ViewState, e bot.TimelineEntry, loc *time.Location, by string) bot.Correction {
	c := bot.Correction{By: by}
	if state == nil {
		return c
	}
	v := state.Values
	if w := strings.TrimSpace(v[viewWhen][viewWhen].Value); w != "" && w != EntryWhen(e, loc) {
		c.When = w
	}
	if t := v[viewText][viewText].Value; strings.TrimSpace(t) != "" && t != e.Text {
		c.Text = &t
	}
	struck := len(v[viewStrike][viewStrike].SelectedOptions) > 0
	if struck != e.Struck {
		c.Struck = &struck
	}
	return c
}

// OpenView opens a modal for the person whose trigger_id it is (views.open;
// the trigger is good for 3 s).
func (c *Client) OpenView(ctx context.Context, triggerID string, view slackgo.ModalViewRequest) error {
	return c.call(ctx, "views.open", "", func(ctx context.Context) error {
		_, err := c.api.OpenViewContext(ctx, triggerID, view)
		return err
	})
}
