package slack

import (
	"context"
	"slices"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
)

// userErrors are invitation errors about one person, not the channel.
var userErrors = codes("user_not_found", "users_not_found", "cant_invite", "user_is_restricted",
	"user_is_ultra_restricted", "ura_max_channels", "missing_user", "user_disabled", "invalid_users")

// invite invites the responders once, when opening. People Slack will not
// invite (deactivated, unknown IDs in the configuration) are named in a
// warning; the others are still invited.
func (c *Client) invite(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if d.Kind != bot.DeliveryOpen || inc.Chat.Did(stepInvite) {
		return result{}, false, nil
	}
	st := state(inc)
	st.Steps = append(st.Steps, stepInvite)
	users := c.responders(inc.Incident)
	if len(users) == 0 {
		return result{State: st}, true, nil
	}
	invited, refused, err := c.inviteAll(ctx, inc.ChannelID, users)
	if err != nil {
		return result{}, false, err
	}
	st.Invited = users
	res := result{State: st}
	for _, u := range invited {
		res.Invited = append(res.Invited, "<@"+u+">")
	}
	if len(refused) > 0 {
		res.Warning = "could not invite " + strings.Join(refused, ", ")
	}
	return res, true, nil
}

// responders are the people to invite: the configured ones, those the
// configuration routes the incident's labels to, and who declared it.
func (c *Client) responders(inc *bot.Incident) []string {
	var out []string
	add := func(ids ...string) {
		for _, id := range ids {
			if id = userID(id); id != "" && !slices.Contains(out, id) && len(out) < maxResponders {
				out = append(out, id)
			}
		}
	}
	add(c.o.Responders...)
	if f := c.o.RespondersFor; f != nil {
		if len(inc.GroupLabels) > 0 {
			add(f(inc.GroupLabels)...)
		}
		for _, a := range inc.Alerts {
			add(f(a.Labels)...)
		}
	}
	add(inc.DeclaredBy)
	return out
}

// inviteAll invites users in one call and, when Slack refuses one of
// them, one by one, to invite all the others and name the refused.
func (c *Client) inviteAll(ctx context.Context, channel string, users []string) (invited, refused []string, err error) {
	err = c.inviteUsers(ctx, channel, users...)
	code := errorCode(err)
	switch {
	case err == nil || (code == "already_in_channel" && len(users) == 1):
		return users, nil, nil
	case code != "already_in_channel" && !userErrors[code] && code != "cant_invite_self":
		return nil, nil, err
	}
	for _, u := range users {
		err := c.inviteUsers(ctx, channel, u)
		switch code := errorCode(err); {
		case err == nil || code == "already_in_channel":
			invited = append(invited, u)
		case code == "cant_invite_self":
		case userErrors[code]:
			refused = append(refused, "<@"+u+"> ("+code+")")
		default:
			return nil, nil, err
		}
	}
	return invited, refused, nil
}

func (c *Client) inviteUsers(ctx context.Context, channel string, users ...string) error {
	return c.call(ctx, "conversations.invite", channel, func(ctx context.Context) error {
		_, err := c.api.InviteUsersToConversationContext(ctx, channel, users...)
		return err
	})
}

// inviteLater invites, on a refresh, the responders the incident's labels
// route to that were not invited yet: an alert that joins later brings its
// own people. Channels opened before the bot kept the list start from the
// responders as they are now, without inviting anyone again.
func (c *Client) inviteLater(ctx context.Context, inc *incident, d bot.Delivery) (result, bool, error) {
	if d.Kind != bot.DeliveryRefresh || !inc.Chat.Did(stepInvite) || !inc.Open() {
		return result{}, false, nil
	}
	users := c.responders(inc.Incident)
	st := state(inc)
	if st.Invited == nil {
		if len(users) == 0 {
			return result{}, false, nil
		}
		st.Invited = users
		return result{State: st}, true, nil
	}
	var fresh []string
	for _, u := range users {
		if !slices.Contains(st.Invited, u) {
			fresh = append(fresh, u)
		}
	}
	if len(fresh) == 0 {
		return result{}, false, nil
	}
	invited, refused, err := c.inviteAll(ctx, inc.ChannelID, fresh)
	if err != nil {
		if optional(err) {
			st.Invited = append(st.Invited, fresh...)
			return warn(st, "invite the responders of a later alert", err)
		}
		return result{}, false, err
	}
	st.Invited = append(slices.Clone(st.Invited), fresh...)
	res := result{State: st}
	for _, u := range invited {
		res.Invited = append(res.Invited, "<@"+u+">")
	}
	if len(refused) > 0 {
		res.Warning = "could not invite " + strings.Join(refused, ", ")
	}
	return res, true, nil
}
