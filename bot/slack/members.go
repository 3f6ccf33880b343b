package slack

import (
	"context"
	"slices"
	"time"

	slackgo "github.com/slack-go/slack"
)

// How long a channel's member list is trusted, how many lists are held,
// and how many pages of one are read: joining a channel takes effect
// within a minute, and memory stays bounded.
const (
	membersTTL      = time.Minute
	maxMemberLists  = 256
	maxMemberPages  = 10
	memberPageLimit = 1000
)

// IsMember reports whether user is a member of channel, from
// conversations.members through a bounded cache (webhooks.Members).
func (c *Client) IsMember(ctx context.Context, channel, user string) (bool, error) {
	now := c.o.Now()
	if list, ok := c.members.get(channel, now); ok {
		return slices.Contains(list, user), nil
	}
	var list []string
	cursor := ""
	for range maxMemberPages {
		var page []string
		err := c.call(ctx, "conversations.members", channel, func(ctx context.Context) (err error) {
			page, cursor, err = c.api.GetUsersInConversationContext(ctx, &slackgo.GetUsersInConversationParameters{
				ChannelID: channel, Cursor: cursor, Limit: memberPageLimit})
			return err
		})
		if err != nil {
			return false, err
		}
		list = append(list, page...)
		if cursor == "" {
			break
		}
	}
	c.members.put(channel, list, now.Add(membersTTL), maxMemberLists)
	return slices.Contains(list, user), nil
}
