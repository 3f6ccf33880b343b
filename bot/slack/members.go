package slack

import (
	"context"
	"slices"
	"sync"
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
	c.members.put(channel, list, now.Add(membersTTL))
	return slices.Contains(list, user), nil
}

// memberCache holds channel member lists until they expire, at most
// maxMemberLists of them.
type memberCache struct {
	mu sync.Mutex
	m  map[string]memberList
}

type memberList struct {
	users []string
	until time.Time
}

func (mc *memberCache) get(channel string, now time.Time) ([]string, bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	l, ok := mc.m[channel]
	if !ok || !now.Before(l.until) {
		return nil, false
	}
	return l.users, true
}

func (mc *memberCache) put(channel string, users []string, until time.Time) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil {
		mc.m = make(map[string]memberList)
	}
	if _, ok := mc.m[channel]; !ok && len(mc.m) >= maxMemberLists {
		var oldest string
		for k, l := range mc.m {
			if oldest == "" || l.until.Before(mc.m[oldest].until) {
				oldest = k
			}
		}
		delete(mc.m, oldest)
	}
	mc.m[channel] = memberList{users: users, until: until}
}
