package slacktesting

import "net/url"

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
