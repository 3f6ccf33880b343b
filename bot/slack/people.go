package slack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	slackgo "github.com/slack-go/slack"
)

var _ bot.Directory = (*Client)(nil)

// How long names are kept, and how many: people rarely rename themselves
// during an incident, and a draft names a few dozen people at most.
const (
	nameTTL      = time.Hour
	unknownTTL   = 10 * time.Minute
	maxNamesHeld = 1000
)

// DisplayName names a Slack user for readers outside Slack, "Alice Example
// (@alice)", from users.info through a bounded cache that forgets names
// after an hour (unknown users after ten minutes). See bot.Directory.
func (c *Client) DisplayName(ctx context.Context, id string) (string, error) {
	id = bot.PersonID(id)
	if id == "" {
		return "", fmt.Errorf("%w: not a user ID", bot.ErrInvalid)
	}
	now := c.o.Now()
	if n, ok := c.names.get(id, now); ok {
		if n == "" {
			return "", fmt.Errorf("%w: slack user %s", bot.ErrNotFound, id)
		}
		return n, nil
	}
	var u *slackgo.User
	err := c.call(ctx, "users.info", "", func(ctx context.Context) (err error) {
		u, err = c.api.GetUserInfoContext(ctx, id)
		return err
	})
	switch code := errorCode(err); {
	case code == "user_not_found" || code == "users_not_found":
		c.names.put(id, "", now.Add(unknownTTL), maxNamesHeld)
		return "", fmt.Errorf("%w: slack user %s", bot.ErrNotFound, id)
	case err != nil:
		return "", err // not cached: the next draft asks again
	}
	n := displayName(u)
	c.names.put(id, n, now.Add(nameTTL), maxNamesHeld)
	return n, nil
}

// displayName writes "Real Name (@handle)", or whichever half Slack has.
func displayName(u *slackgo.User) string {
	real := firstOf(u.Profile.RealName, u.RealName)
	handle := firstOf(u.Profile.DisplayName, u.Name)
	switch {
	case real != "" && handle != "" && !strings.EqualFold(real, handle):
		return real + " (@" + handle + ")"
	case real != "":
		return real
	case handle != "":
		return "@" + handle
	}
	return u.ID
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(bot.OneLine(bot.CleanText(v))); v != "" {
			return v
		}
	}
	return ""
}
