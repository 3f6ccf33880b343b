package slack

import (
	"context"
	"fmt"
	"slices"

	"github.com/incidentbot/incidentbot/bot"
)

// An incident reopened after someone archived its channel cannot go back
// there: Slack does not let a bot token unarchive a channel
// (docs/slack-methods.md: the method page's "Bug alert", answered with
// not_in_channel). So the incident moves to a new channel, set up as the
// first was (purpose, topic, responders, the incident message pinned,
// runbooks), whose first words link the archived one; the headline in the
// announcement channel is edited to point at the new one, and the
// timeline says so (the domain records the room's change).

// stepMovedNote is the one-time step that tells the new channel where
// the history is.
const stepMovedNote = "moved-note"

// maxMovedFrom bounds the earlier channels remembered.
const maxMovedFrom = 5

// moveChannel creates the new channel and records it, with a fresh state
// (nothing shown there yet) but for the headline, which stays where it is.
func (c *Client) moveChannel(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	blank := &incident{Incident: inc.Incident}
	res, did, err := c.channel(ctx, blank, d)
	if err != nil || !did {
		return result{}, err
	}
	st := State{ChannelID: res.ChannelID, ChannelName: res.ChannelName, HeadlineTS: inc.HeadlineTS}
	st.Chat = ChatState{HeadlineHash: inc.Chat.HeadlineHash, Moving: true, Draft: inc.Chat.Draft,
		DraftDelivery: inc.Chat.DraftDelivery, OldDrafts: slices.Clone(inc.Chat.OldDrafts)}
	st.Chat.MovedFrom = append(slices.Clone(inc.Chat.MovedFrom), inc.ChannelID)
	if n := len(st.Chat.MovedFrom) - maxMovedFrom; n > 0 {
		st.Chat.MovedFrom = st.Chat.MovedFrom[n:]
	}
	if inc.Chat.Did(stepHeadline) {
		st.Chat.Steps = []string{stepHeadline}
	}
	c.log.Info("slack: the channel of a reopened incident is archived; moving to a new channel", "incident", inc.ID,
		"archived", inc.ChannelID, "channel", res.ChannelID)
	return result{Moved: &st, More: true}, nil
}

// setUpMoved sets up the new channel one step per call, as opening does,
// then ends the move.
func (c *Client) setUpMoved(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	d.Kind = bot.DeliveryOpen // the steps of opening, each once
	res, err := firstStep(ctx, inc, d, c.purpose, c.topic, c.invite, c.message, c.pinMessage, c.movedNote, c.headline,
		c.bookmark, c.runbookNotes, c.matchedRunbooks, c.syncRunbooks)
	if err != nil || res.More {
		return res, err
	}
	st := state(inc)
	st.Moving = false
	return result{State: st, More: true}, nil
}

// movedNote posts, once, where the incident's history is.
func (c *Client) movedNote(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if len(inc.Chat.MovedFrom) == 0 || inc.Chat.Did(stepMovedNote) {
		return result{}, false, nil
	}
	st := state(inc)
	st.Steps = append(st.Steps, stepMovedNote)
	old := inc.Chat.MovedFrom[len(inc.Chat.MovedFrom)-1]
	text := fmt.Sprintf("%s was reopened after its channel <#%s> had been archived, and Slack does not let a bot unarchive a channel: the incident continues here. Its history up to now stays in <#%s>.",
		inc.Key(), old, old)
	_, err := c.postMessage(ctx, inc.ChannelID, text, nil)
	if optional(err) {
		return warn(st, "say where the incident's earlier channel is", err)
	}
	return result{State: st}, err == nil, err
}
