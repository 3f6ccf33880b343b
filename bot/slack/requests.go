package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// post posts a change message into the incident's channel. Without a
// channel (opening failed) or with an archived one, there is nobody to
// tell, which is no failure.
func (c *Client) post(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if inc.ChannelID == "" || strings.TrimSpace(d.Text) == "" {
		return result{}, nil
	}
	_, err := c.postMessage(ctx, inc.ChannelID, clip(Escape(strings.TrimSpace(d.Text)), 3900), entryBlocks(inc.Incident, d))
	if channelGone(err) {
		c.log.Info("slack: not posting into a gone channel", "incident", inc.ID, "err", err)
		return result{}, nil
	}
	return result{}, err
}

// pin reads the message d.Ref (its ts) in the incident's channel for the
// timeline, and pins it in Slack too (a :pushpin: reaction is a request
// to pin).
func (c *Client) pin(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if inc.ChannelID == "" {
		return result{}, fmt.Errorf("%w: %s has no Slack channel", bot.ErrConflict, inc.Key())
	}
	at := parseTS(d.Ref)
	if at.IsZero() {
		return result{}, fmt.Errorf("%w: message timestamp %q", bot.ErrInvalid, d.Ref)
	}
	msg, err := c.fetch(ctx, inc.ChannelID, d.Ref)
	if err != nil {
		return result{}, err
	}
	res := result{Pinned: &bot.PinnedMessage{Author: author(msg), Text: orElse(strings.TrimSpace(msg.Text), "(no text)"), At: at}}
	err = c.call(ctx, "pins.add", inc.ChannelID, func(ctx context.Context) error {
		return c.api.AddPinContext(ctx, inc.ChannelID, slackgo.ItemRef{Channel: inc.ChannelID, Timestamp: d.Ref})
	})
	switch {
	case err == nil || errorCode(err) == "already_pinned":
	case permanent(err):
		res.Warning = fmt.Sprintf("could not pin the message in Slack: %v", err)
	default:
		return result{}, err
	}
	return res, nil
}

func author(m slackgo.Message) string {
	switch {
	case m.User != "":
		return "<@" + m.User + ">"
	case m.Username != "":
		return m.Username
	}
	return "a bot"
}

// fetch reads one message: from the history, or, for a reply in a
// thread (which the history leaves out), from its thread.
func (c *Client) fetch(ctx context.Context, channel, ts string) (slackgo.Message, error) {
	var h *slackgo.GetConversationHistoryResponse
	err := c.call(ctx, "conversations.history", channel, func(ctx context.Context) (err error) {
		h, err = c.api.GetConversationHistoryContext(ctx, &slackgo.GetConversationHistoryParameters{
			ChannelID: channel, Latest: ts, Inclusive: true, Limit: 1})
		return err
	})
	if err != nil {
		return slackgo.Message{}, err
	}
	if len(h.Messages) > 0 && h.Messages[0].Timestamp == ts {
		return h.Messages[0], nil
	}
	var msgs []slackgo.Message
	err = c.call(ctx, "conversations.replies", channel, func(ctx context.Context) (err error) {
		msgs, _, _, err = c.api.GetConversationRepliesContext(ctx, &slackgo.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: ts, Oldest: ts, Inclusive: true, Limit: 10})
		return err
	})
	if errorCode(err) == "thread_not_found" {
		err = nil
	}
	if err != nil {
		return slackgo.Message{}, err
	}
	for _, m := range msgs {
		if m.Timestamp == ts {
			return m, nil
		}
	}
	return slackgo.Message{}, fmt.Errorf("%w: message %s is not in the incident's channel", bot.ErrNotFound, ts)
}
