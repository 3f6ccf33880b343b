package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/incidentbot/incidentbot/bot"
)

// Who may change an incident (SPEC "Access").
const (
	// ActAnyone lets anyone who can use the command or see the buttons act.
	ActAnyone = "anyone"
	// ActMembers lets only the incident channel's members, the people
	// paged for the incident and the admins act.
	ActMembers = "members"
)

// Access is the config's access section.
type Access struct {
	// Act is ActAnyone (the default when empty) or ActMembers.
	Act string
	// Admins are user IDs who may act on every incident.
	Admins []string
}

// Members tells whether someone is a member of a chat channel
// (bot/slack's Client, conversations.members through a bounded cache).
// Errors are transient: the caller refuses, and the person may try again.
type Members interface {
	IsMember(ctx context.Context, channelID, userID string) (bool, error)
}

// errNotAllowed is the refusal of someone access.act keeps out.
var errNotAllowed = errors.New("only members of the incident's channel, the people paged for it and the admins may change it (access.act: members); ask to be invited")

// mayAct reports, as an error for the user, whether user may change inc.
func (s *Server) mayAct(ctx context.Context, inc *bot.Incident, user string) error {
	a := s.cfg.Access
	if a.Act == "" || a.Act == ActAnyone {
		return nil
	}
	user = bot.PersonID(user)
	if user == "" {
		return errNotAllowed
	}
	if slices.Contains(a.Admins, user) {
		return nil
	}
	if pages, err := s.svc.Pages(ctx, inc.ID); err == nil {
		for _, p := range pages {
			if !p.Channel && p.Target == user {
				return nil
			}
		}
	}
	if s.cfg.Members == nil {
		return errNotAllowed
	}
	ch := s.channel(ctx, inc.ID).Room
	if ch == "" {
		return errNotAllowed
	}
	ok, err := s.cfg.Members.IsMember(ctx, ch, user)
	if err != nil {
		s.logger(ctx).Warn("access: could not read the channel's members", "incident", inc.ID, "err", err)
		return errors.New("could not check that you are a member of the incident's channel; try again")
	}
	if !ok {
		return errNotAllowed
	}
	return nil
}

// buttonChannel checks that a button for incident id was pressed in that
// incident's channel or in the headline channel: a value copied into
// another channel's message cannot act on an incident from there.
func (s *Server) buttonChannel(ctx context.Context, id int64, channel string) (*bot.Incident, error) {
	inc, err := s.svc.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	if channel == "" || (s.cfg.HeadlineChannel != "" && channel == s.cfg.HeadlineChannel) || channel == s.channel(ctx, inc.ID).Room {
		return inc, nil
	}
	return nil, fmt.Errorf("%w: that button belongs to %s, whose channel this is not; use the buttons in its channel", bot.ErrInvalid, inc.Key())
}
