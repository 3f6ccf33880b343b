package slack

import (
	"context"
	"fmt"
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/incidentbot/incidentbot/bot"
)

// Pager returns the Slack way of paging: a DM (chat.postMessage to the
// user's ID, which lands in the app's Messages tab) with Acknowledge and
// Open channel buttons, or a post in a channel for a channel target.
func (c *Client) Pager() bot.Pager { return slackPager{c} }

type slackPager struct{ c *Client }

var _ bot.Pager = slackPager{}

func (slackPager) Via() string { return bot.ViaSlack }

// Send posts the page. Slack's own refusals (unknown user or channel, not
// allowed) come back wrapping bot.ErrInvalid, ErrNotFound or ErrConflict
// and are not retried.
//
// A DM that is not due at once under the client's rate limits is not
// waited for here: it comes back as a *bot.RetryAfterError, and the
// engine puts the page back to pending until its turn (a page waiting
// while recorded "sending" would be written off by a kill).
func (p slackPager) Send(ctx context.Context, m bot.PageMessage) error {
	text, blocks := pageBlocks(m)
	_, err := p.c.postMessage(context.WithValue(ctx, noWait{}, true), m.Page.Target, text, blocks)
	return err
}

// pageBlocks renders a page: who is paged for what, the alert summary,
// the message of a page by hand, and the buttons.
func pageBlocks(m bot.PageMessage) (string, []slackgo.Block) {
	if len(m.Also) > 0 {
		return groupBlocks(m)
	}
	inc, pg := m.Incident, m.Page
	head := fmt.Sprintf("%s %s %s: %s", severityIcon(inc.Severity), inc.Severity, inc.Key(), Escape(clip(oneLine(inc.Title), 200)))
	why := "You are paged"
	if pg.Channel {
		why = "This channel is paged"
	}
	switch {
	case pg.Team != "":
		why += fmt.Sprintf(" for team *%s*, step %d", Escape(pg.Team), pg.Step)
		if pg.Round > 0 {
			why += fmt.Sprintf(" (repeat %d)", pg.Round)
		}
	case pg.StartedBy != "":
		why += " by " + mention(pg.StartedBy)
	}
	lines := []string{"*" + head + "*", why + "."}
	if pg.Message != "" {
		lines = append(lines, "> "+Escape(clip(oneLine(pg.Message), 500)))
	}
	if s := alertSummary(inc); s != "" {
		lines = append(lines, s)
	}
	blocks := []slackgo.Block{slackgo.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil)}
	var els []slackgo.BlockElement
	if !pg.Channel {
		els = append(els, slackgo.NewButtonBlockElement(bot.ActionPageAck, bot.PageValue(inc.ID, pg.ID), plain("Acknowledge")).WithStyle(slackgo.StylePrimary))
	}
	if ch := m.Chat[Adapter].Room; ch != "" {
		open := slackgo.NewButtonBlockElement("page_open_channel", ch, plain("Open channel"))
		open.URL = "https://slack.com/app_redirect?channel=" + ch
		els = append(els, open)
	}
	if len(els) > 0 {
		blocks = append(blocks, slackgo.NewActionBlock("page_actions", els...))
	}
	return fmt.Sprintf("%s %s: %s (paged)", inc.Severity, inc.Key(), Escape(clip(oneLine(inc.Title), 200))), blocks
}

// groupBlocks renders a grouped page (a storm): one line per incident,
// bot.PageListed of them and the rest counted, and one Acknowledge for
// all of them (the first page's value; the engine stored the others on it).
func groupBlocks(m bot.PageMessage) (string, []slackgo.Block) {
	items := m.Items()
	worst := items[0].Incident.Severity
	for _, it := range items {
		worst = min(worst, it.Incident.Severity)
	}
	who := "You are"
	if m.Page.Channel {
		who = "This channel is"
	}
	lines := []string{fmt.Sprintf("*%s %s paged for %d incidents*", severityIcon(worst), who, len(items))}
	var keys []string
	for _, it := range items[:min(len(items), bot.PageListed)] {
		inc, pg := it.Incident, it.Page
		line := fmt.Sprintf("• %s %s: %s", inc.Severity, inc.Key(), Escape(clip(oneLine(inc.Title), 100)))
		if pg.Team != "" {
			line += fmt.Sprintf(" (team *%s*, step %d)", Escape(pg.Team), pg.Step)
		} else if pg.StartedBy != "" {
			line += " (by " + mention(pg.StartedBy) + ")"
		}
		if ch := it.Chat[Adapter].Room; ch != "" {
			line += " <#" + ch + ">"
		}
		lines = append(lines, line)
		keys = append(keys, inc.Key())
	}
	if more := len(items) - bot.PageListed; more > 0 {
		lines = append(lines, fmt.Sprintf("…and %d more", more))
		keys = append(keys, fmt.Sprintf("and %d more", more))
	}
	blocks := []slackgo.Block{slackgo.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil)}
	if !m.Page.Channel {
		ack := slackgo.NewButtonBlockElement(bot.ActionPageAck, bot.PageValue(m.Incident.ID, m.Page.ID), plain(fmt.Sprintf("Acknowledge all %d", len(items))))
		blocks = append(blocks, slackgo.NewActionBlock("page_actions", ack.WithStyle(slackgo.StylePrimary)))
	}
	return fmt.Sprintf("%d incidents (paged): %s", len(items), strings.Join(keys, ", ")), blocks
}

// alertSummary is the first firing alert's summary (or name), and how
// many more fire.
func alertSummary(inc *bot.Incident) string {
	var first *bot.Alert
	n := 0
	for i := range inc.Alerts {
		if inc.Alerts[i].Status == bot.AlertFiring {
			if first == nil {
				first = &inc.Alerts[i]
			}
			n++
		}
	}
	if first == nil {
		return ""
	}
	s := strings.TrimSpace(first.Annotations["summary"])
	if s == "" {
		s = first.Name()
	}
	out := Escape(clip(oneLine(s), 300))
	if n > 1 {
		out += fmt.Sprintf(" (and %d more firing)", n-1)
	}
	return out
}

// inviteMore invites the people a page reached into the incident's
// channel (bot.DeliveryInvite). Without a channel there is nobody to
// invite into; people Slack refuses are named in a warning.
func (c *Client) inviteMore(ctx context.Context, inc *incident, d bot.Delivery) (result, error) {
	if inc.ChannelID == "" {
		return result{}, nil
	}
	var users []string
	for u := range strings.SplitSeq(d.Ref, ",") {
		if id := userID(u); id != "" && len(users) < maxResponders {
			users = append(users, id)
		}
	}
	if len(users) == 0 {
		return result{}, nil
	}
	invited, refused, err := c.inviteAll(ctx, inc.ChannelID, users)
	if err != nil {
		return result{}, err
	}
	var res result
	for _, u := range invited {
		res.Invited = append(res.Invited, "<@"+u+">")
	}
	if len(refused) > 0 {
		res.Warning = "could not invite " + strings.Join(refused, ", ")
	}
	return res, nil
}

// HandOff implements bot.HandOffer: the team's user group is set to who
// is on call now (usergroups.users.update replaces the whole list), and
// the note is posted in the team's channel.
func (c *Client) HandOff(ctx context.Context, h bot.HandOff) error {
	if h.UserGroup != "" && len(h.Users) > 0 {
		err := c.call(ctx, "usergroups.users.update", "", func(ctx context.Context) error {
			_, err := c.api.UpdateUserGroupMembersContext(ctx, h.UserGroup, strings.Join(h.Users, ","))
			return err
		})
		if err != nil {
			return err
		}
	}
	if h.Channel != "" && h.Text != "" {
		if _, err := c.postMessage(ctx, h.Channel, h.Text, nil); err != nil {
			return err
		}
	}
	return nil
}
