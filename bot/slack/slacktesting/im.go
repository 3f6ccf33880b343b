package slacktesting

import (
	"regexp"
	"slices"
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
