package slacktesting

import (
	"fmt"
	"net/url"
	"time"
)

// User is a workspace member users.info knows.
type User struct {
	ID, Name, RealName, DisplayName string
	Deleted                         bool
}

// AddUser makes users.info know u; users.info answers user_not_found for
// anyone not added (slacktest answers one fixed user for every ID).
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = map[string]User{}
	}
	s.users[u.ID] = u
}

func (s *Server) usersInfo(p url.Values) (map[string]any, string) {
	u, ok := s.users[p.Get("user")]
	if !ok {
		return nil, "user_not_found"
	}
	return map[string]any{"user": map[string]any{
		"id": u.ID, "name": u.Name, "real_name": u.RealName, "deleted": u.Deleted,
		"profile": map[string]any{"real_name": u.RealName, "display_name": u.DisplayName},
	}}, ""
}

// View is a modal opened with views.open.
type View struct {
	TriggerID string
	// JSON is the view as sent.
	JSON string
}

// Views returns the modals opened, in order.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]View(nil), s.views...)
}

// viewsOpen records the view; like Slack, it wants a trigger_id and a view.
func (s *Server) viewsOpen(p url.Values) (map[string]any, string) {
	switch {
	case p.Get("trigger_id") == "":
		return nil, "invalid_trigger_id"
	case p.Get("view") == "":
		return nil, "invalid_arguments"
	}
	s.views = append(s.views, View{TriggerID: p.Get("trigger_id"), JSON: p.Get("view")})
	return map[string]any{"view": map[string]any{"id": fmt.Sprintf("V%04d", len(s.views))}}, ""
}

// members lists a channel's members (conversations.members), in one page.
func (s *Server) members(p url.Values) (map[string]any, string) {
	for _, c := range s.channels {
		if c.ID == p.Get("channel") {
			return map[string]any{"members": append([]string{}, c.Members...), "response_metadata": map[string]any{"next_cursor": ""}}, ""
		}
	}
	return nil, "channel_not_found"
}

// AddBotChannel creates a channel as the bot did at another time, with a
// purpose (for instance, an earlier database's incident channel), created
// ago before the server's clock; it returns its ID.
func (s *Server) AddBotChannel(name, purpose string, ago time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newChannel(name, BotUserID)
	c.Created = s.now().Add(-ago).Unix()
	c.Purpose = purpose
	c.Members = []string{BotUserID}
	return c.ID
}

func (s *Server) setPurpose(p url.Values) (map[string]any, string) {
	c, code := s.open(p.Get("channel"))
	if c == nil {
		return nil, code
	}
	if len(p.Get("purpose")) > 250 {
		return nil, "too_long"
	}
	c.Purpose = p.Get("purpose")
	return map[string]any{"channel": c.json()}, ""
}

// unarchive answers conversations.unarchive as Slack answers a bot token,
// the only kind this server serves: it cannot. Slack's method page says
// "Bot tokens (xoxb-...) cannot currently be used to unarchive
// conversations" (https://docs.slack.dev/reference/methods/conversations.unarchive),
// and the answer seen is not_in_channel (archiving removed the bot, and a
// bot cannot join an archived channel; slack-go issue #1066).
func (s *Server) unarchive(p url.Values) (map[string]any, string) {
	c := s.find(p.Get("channel"))
	switch {
	case c == nil:
		return nil, "channel_not_found"
	case !c.Archived:
		return nil, "not_archived"
	}
	return nil, "not_in_channel"
}

// Archive archives a channel, as a person may.
func (s *Server) Archive(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.find(id); c != nil {
		c.Archived = true
	}
}
