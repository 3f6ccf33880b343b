package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

// step is one part of opening or refreshing an incident's channel. It
// makes at most one change in Slack and reports did with the result to
// record, or !did when there is nothing for it to do.
type step func(ctx context.Context, inc *incident, d bot.Delivery) (res result, did bool, err error)

// The one-time steps of opening, as recorded in ChatState.Steps.
const (
	stepInvite   = "invite"
	stepHeadline = "headline"
	stepBookmark = "bookmark"
	stepPin      = "pin"
	stepPurpose  = "purpose"
)

// open sets up the incident's channel, in this order, one step per call:
// channel, topic, invitations, incident message, headline, bookmark,
// matching runbooks. Each step is recorded before the next, so a retry or
// a restart resumes where the last attempt stopped.
func (c *Client) open(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	return firstStep(ctx, inc, d, c.channel, c.purpose, c.topic, c.invite, c.message, c.pinMessage, c.headline, c.bookmark, c.runbookNotes, c.matchedRunbooks, c.syncRunbooks)
}

// refresh edits what shows the incident (message, headline, topic,
// runbook progress) where it changed. A channel archived meanwhile has
// nothing left to refresh, unless the incident is open again: then it
// moves to a new channel.
func (c *Client) refresh(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if inc.ChannelID == "" {
		return result{}, nil
	}
	if inc.Chat.Moving {
		return c.setUpMoved(ctx, inc, d) // move.go
	}
	res, err := firstStep(ctx, inc, d, c.message, c.headline, c.topic, c.inviteLater, c.runbookNotes, c.matchedRunbooks, c.syncRunbooks)
	if errorCode(err) == "is_archived" && inc.Open() {
		// Reopened (or still open) with its channel archived, which a bot
		// cannot unarchive: the incident moves to a new channel.
		return c.moveChannel(ctx, inc, d) // move.go
	}
	if channelGone(err) {
		c.log.Info("slack: not refreshing a gone channel", "incident", inc.ID, "err", err)
		return result{}, nil
	}
	return res, err
}

func firstStep(ctx context.Context, inc *incident, d bot.Delivery, steps ...step) (result, error) {
	for _, s := range steps {
		res, did, err := s(ctx, inc, d)
		if err != nil {
			return result{}, err
		}
		if did {
			res.More = true
			return res, nil
		}
	}
	return result{}, nil
}

// state copies the incident's chat state for a step to change.
func state(inc *incident) *ChatState {
	st := inc.Chat
	st.Steps = slices.Clone(st.Steps)
	st.Runbooks = slices.Clone(st.Runbooks)
	st.OldDrafts = slices.Clone(st.OldDrafts)
	return &st
}

// warn records an optional step as given up: err was permanent, and the
// rest of the delivery goes on. The warning lands on the timeline.
func warn(st *ChatState, what string, err error) (result, bool, error) {
	return result{State: st, Warning: fmt.Sprintf("could not %s: %v", what, err)}, true, nil
}

// channelGone reports errors that mean the channel cannot take anything.
func channelGone(err error) bool {
	switch errorCode(err) {
	case "is_archived", "channel_not_found", "not_in_channel":
		return true
	}
	return false
}

// optional reports whether a step may be given up after err: permanent,
// and not about the incident's channel itself, which the whole delivery
// needs.
func optional(err error) bool { return permanent(err) && !channelGone(err) }

// maxNameAttempts bounds the "-2", "-3"... tried when names are taken.
const maxNameAttempts = 10

// channel creates the incident's channel, trying the next name while
// Slack answers name_taken. A taken name may be our own channel, created
// by an attempt whose answer was lost (a timeout, a crash before it was
// recorded): that one is taken over instead of creating another.
func (c *Client) channel(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if inc.ChannelID != "" {
		return result{}, false, nil
	}
	var existing map[string]slackgo.Channel
	for attempt := 1; attempt <= maxNameAttempts; attempt++ {
		name := bot.ChannelName(c.o.ChannelPrefix, inc.ID, bot.ChannelTitle(inc.Incident), attempt)
		var ch *slackgo.Channel
		err := c.call(ctx, "conversations.create", "", func(ctx context.Context) (err error) {
			ch, err = c.api.CreateConversationContext(ctx, slackgo.CreateConversationParams{ChannelName: name})
			return err
		})
		if err == nil {
			return result{ChannelID: ch.ID, ChannelName: orElse(ch.Name, name)}, true, nil
		}
		if errorCode(err) != "name_taken" {
			return result{}, false, err
		}
		if existing == nil {
			if existing, err = c.listChannels(ctx); optional(err) {
				// Without channels:read there is no looking: take the next name.
				c.log.Warn("slack: cannot list channels to check a taken name", "err", err)
				existing = map[string]slackgo.Channel{}
			} else if err != nil {
				return result{}, false, err
			}
		}
		if ch, ok := existing[name]; ok && c.ours(ctx, inc.Incident, ch) {
			c.log.Info("slack: taking over the channel an earlier attempt created", "incident", inc.ID, "channel", name)
			return result{ChannelID: ch.ID, ChannelName: name}, true, nil
		}
	}
	return result{}, false, fmt.Errorf("%w: no free channel name for %s after %d tries", bot.ErrConflict, inc.Key(), maxNameAttempts)
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ours reports whether ch is a live channel this bot created for inc: its
// purpose carries inc's identity, or (the purpose is set right after
// creating, and a lost answer may have come in between) it carries no
// incidentbot identity at all and was created after inc was stored. A
// channel of another database's INC-1, created a minute earlier, is
// neither, whatever its name.
func (c *Client) ours(ctx context.Context, inc *bot.Incident, ch slackgo.Channel) bool {
	self, err := c.self(ctx)
	if err != nil || ch.Creator != self || ch.IsArchived {
		return false
	}
	if strings.Contains(ch.Purpose.Value, identityMark) {
		return strings.Contains(ch.Purpose.Value, identity(inc))
	}
	return int64(ch.Created) >= inc.CreatedAt.Add(-clockSkew).Unix()
}

// clockSkew allows for Slack's clock and ours to differ a little.
const clockSkew = 5 * time.Second

// identityMark starts the identity the bot writes into each incident
// channel's purpose.
const identityMark = "incidentbot:"

// identity names one incident of one database: its number and the
// nanosecond it was stored, hashed. Another database's INC-1 has another.
func identity(inc *bot.Incident) string {
	h := sha256.Sum256([]byte(strconv.FormatInt(inc.ID, 10) + "/" + strconv.FormatInt(inc.CreatedAt.UnixNano(), 10) + "/" + inc.GroupKey))
	return identityMark + hex.EncodeToString(h[:8])
}

// purpose writes the incident's identity into its channel's purpose, once,
// right after creating it, so that a later attempt knows the channel for
// its own (ours). Optional: without it, only the creation time tells.
func (c *Client) purpose(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if d.Kind != bot.DeliveryOpen || inc.ChannelID == "" || inc.Chat.Did(stepPurpose) {
		return result{}, false, nil
	}
	st := state(inc)
	st.Steps = append(st.Steps, stepPurpose)
	text := clip(inc.Key()+" "+oneLine(inc.Title), 200) + " · " + identity(inc.Incident)
	err := c.call(ctx, "conversations.setPurpose", inc.ChannelID, func(ctx context.Context) error {
		_, err := c.api.SetPurposeOfConversationContext(ctx, inc.ChannelID, text)
		return err
	})
	if optional(err) {
		return warn(st, "set the channel purpose", err)
	}
	return result{State: st}, err == nil, err
}

// maxListPages bounds the search for a taken name in a big workspace.
const maxListPages = 10

// listChannels returns the workspace's live public channels by name.
func (c *Client) listChannels(ctx context.Context) (map[string]slackgo.Channel, error) {
	out := map[string]slackgo.Channel{}
	cursor := ""
	for range maxListPages {
		var page []slackgo.Channel
		err := c.call(ctx, "conversations.list", "", func(ctx context.Context) (err error) {
			page, cursor, err = c.api.GetConversationsContext(ctx, &slackgo.GetConversationsParameters{
				Cursor: cursor, ExcludeArchived: true, Limit: 1000, Types: []string{"public_channel"}})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, ch := range page {
			out[ch.Name] = ch
		}
		if cursor == "" {
			break
		}
	}
	return out, nil
}

// topic sets the channel topic when it no longer matches the incident.
func (c *Client) topic(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	want := c.view.topic(inc.Incident)
	if inc.Chat.Topic == want {
		return result{}, false, nil
	}
	st := state(inc)
	st.Topic = want
	err := c.call(ctx, "conversations.setTopic", inc.ChannelID, func(ctx context.Context) error {
		_, err := c.api.SetTopicOfConversationContext(ctx, inc.ChannelID, want)
		return err
	})
	if optional(err) {
		return warn(st, "set the channel topic", err)
	}
	return result{State: st}, err == nil, err
}

// message posts the incident message when opening, and edits it when
// what it shows changed.
func (c *Client) message(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	text, blocks := c.view.incident(inc.Incident)
	st := state(inc)
	st.MessageHash = digest(text, blocks)
	switch {
	case inc.MessageTS == "" && d.Kind == bot.DeliveryOpen:
		ts, err := c.postMessage(ctx, inc.ChannelID, text, blocks)
		return result{MessageTS: ts, State: st}, err == nil, err
	case inc.MessageTS == "" || inc.Chat.MessageHash == st.MessageHash:
		return result{}, false, nil
	}
	err := c.update(ctx, inc.ChannelID, inc.MessageTS, text, blocks)
	if optional(err) {
		return warn(st, "update the incident message", err)
	}
	return result{State: st}, err == nil, err
}

// pinMessage pins the incident message in its channel once, when opening,
// so that it stays at hand however long the channel grows. It is optional:
// without pins:write the incident goes on unpinned, with a warning.
func (c *Client) pinMessage(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if d.Kind != bot.DeliveryOpen || inc.MessageTS == "" || inc.Chat.Did(stepPin) {
		return result{}, false, nil
	}
	st := state(inc)
	st.Steps = append(st.Steps, stepPin)
	err := c.call(ctx, "pins.add", inc.ChannelID, func(ctx context.Context) error {
		return c.api.AddPinContext(ctx, inc.ChannelID, slackgo.ItemRef{Channel: inc.ChannelID, Timestamp: inc.MessageTS})
	})
	switch {
	case err == nil || errorCode(err) == "already_pinned":
		return result{State: st}, true, nil
	case optional(err):
		return warn(st, "pin the incident message", err)
	}
	return result{}, false, err
}

// headline posts the incident's headline in the announcement channel when
// opening, and edits it when it changed. It is optional: a misconfigured
// announcement channel costs a warning, not the incident channel.
func (c *Client) headline(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if c.o.Channel == "" {
		return result{}, false, nil
	}
	text, blocks := c.view.headline(inc.Incident, inc.ChannelID)
	st := state(inc)
	st.HeadlineHash = digest(text, blocks)
	if inc.HeadlineTS == "" {
		if d.Kind != bot.DeliveryOpen || inc.Chat.Did(stepHeadline) {
			return result{}, false, nil
		}
		st.Steps = append(st.Steps, stepHeadline)
		ts, err := c.postMessage(ctx, c.o.Channel, text, blocks)
		if permanent(err) {
			return warn(st, "post the headline in the announcement channel", err)
		}
		return result{HeadlineTS: ts, State: st}, err == nil, err
	}
	if inc.Chat.HeadlineHash == st.HeadlineHash {
		return result{}, false, nil
	}
	err := c.update(ctx, c.o.Channel, inc.HeadlineTS, text, blocks)
	if permanent(err) {
		return warn(st, "update the headline in the announcement channel", err)
	}
	return result{State: st}, err == nil, err
}

// bookmark adds a bookmark to the postmortem draft, when incidentbot has
// a public URL.
func (c *Client) bookmark(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	pub := strings.TrimRight(c.o.PublicURL, "/")
	if pub == "" || d.Kind != bot.DeliveryOpen || inc.Chat.Did(stepBookmark) {
		return result{}, false, nil
	}
	st := state(inc)
	st.Steps = append(st.Steps, stepBookmark)
	params := slackgo.AddBookmarkParameters{Title: "Postmortem draft", Type: "link", Emoji: ":memo:",
		Link: draftPage(pub, inc.ID)}
	err := c.call(ctx, "bookmarks.add", inc.ChannelID, func(ctx context.Context) error {
		_, err := c.api.AddBookmarkContext(ctx, inc.ChannelID, params)
		return err
	})
	if optional(err) {
		return warn(st, "bookmark the postmortem draft", err)
	}
	return result{State: st}, err == nil, err
}
