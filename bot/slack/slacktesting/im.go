package slacktesting

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var userIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// openOrIM finds a channel to post in; a user ID opens (or finds) the
// bot's direct-message channel with that user, "D" and the user's ID, as
// chat.postMessage does on Slack. Call with s.mu held.
func (s *Server) openOrIM(id string) (*Channel, string) {
	if !userIDRE.MatchString(id) {
		return s.open(id)
	}
	if s.ims == nil {
		s.ims = map[string]*Channel{}
	}
	c := s.ims[id]
	if c == nil {
		c = &Channel{ID: "D" + id[1:], Creator: BotUserID, Created: s.now().Unix(), Members: []string{BotUserID, id}}
		s.ims[id] = c
	}
	return c, ""
}

// IM returns the messages the bot sent to user as direct messages,
// oldest first.
func (s *Server) IM(user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.ims[user]; c != nil {
		return slices.Clone(c.Messages)
	}
	return nil
}

// updateGroup is usergroups.users.update: the list replaces the members.
// Call with s.mu held.
func (s *Server) updateGroup(p url.Values) (map[string]any, string) {
	id, users := p.Get("usergroup"), strings.Split(p.Get("users"), ",")
	if id == "" {
		return nil, "no_such_subteam"
	}
	if p.Get("users") == "" {
		return nil, "no_users_provided"
	}
	if s.groups == nil {
		s.groups = map[string][]string{}
	}
	s.groups[id] = users
	return map[string]any{"usergroup": map[string]any{"id": id, "users": users, "user_count": len(users)}}, ""
}

// UserGroup returns the members a user group was last given.
func (s *Server) UserGroup(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.groups[id])
}
