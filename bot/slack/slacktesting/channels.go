package slacktesting

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
)

// Channel is a channel as the fake remembers it.
type Channel struct {
	ID, Name, Topic string
	Purpose         string
	Creator         string
	Created         int64
	Archived        bool
	Members         []string
	Bookmarks       []Bookmark
	Messages        []Message
}

// Bookmark is a link bookmarked in a channel.
type Bookmark struct{ Title, Link, Type string }

// Message is a message posted into a channel, with its edits applied.
type Message struct {
	TS, ThreadTS string
	User         string
	Text         string
	// Blocks is the Block Kit JSON of the message, as sent.
	Blocks string
	// Edits counts chat.update calls on it.
	Edits  int
	Pinned bool
	// Files lists the IDs of files shared with it.
	Files []string
}

// File is an uploaded file.
type File struct {
	ID, Name, Title string
	Content         []byte
	// Channel and Comment are set once the upload is completed into a channel.
	Channel, Comment string
	// Deleted is set by files.delete: Slack then shows the message that
	// shared it with a tombstone, and the file is gone.
	Deleted bool
}

// AddChannel creates a channel as someone else would (the announcement
// channel, or an old channel holding a name) and returns its ID.
func (s *Server) AddChannel(name string, archived bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newChannel(name, "UOTHER")
	c.Archived = archived
	return c.ID
}

// Channels returns copies of every channel, in creation order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, len(s.channels))
	for i, c := range s.channels {
		out[i] = c.copy()
	}
	return out
}

// Channel returns a copy of the channel with this ID or name.
func (s *Server) Channel(idOrName string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.channels {
		if c.ID == idOrName || c.Name == idOrName {
			return c.copy(), true
		}
	}
	return Channel{}, false
}

// AddMessage posts a message as user (someone other than the bot) and
// returns its ts; threadTS makes it a reply.
func (s *Server) AddMessage(channel, user, text, threadTS string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.find(channel)
	if c == nil {
		panic("slacktesting: no channel " + channel)
	}
	m := Message{TS: s.nextTS(), ThreadTS: threadTS, User: user, Text: text}
	c.Messages = append(c.Messages, m)
	return m.TS
}

func (c *Channel) copy() Channel {
	out := *c
	out.Members = slices.Clone(c.Members)
	out.Bookmarks = slices.Clone(c.Bookmarks)
	out.Messages = slices.Clone(c.Messages)
	return out
}

func (s *Server) find(id string) *Channel {
	for _, c := range s.channels {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) newChannel(name, creator string) *Channel {
	s.seq++
	c := &Channel{ID: fmt.Sprintf("C%08d", s.seq), Name: name, Creator: creator, Created: s.now().Unix()}
	s.channels = append(s.channels, c)
	return c
}

// nextTS returns a message timestamp unique on this server, in Slack's
// "seconds.micro" form (slacktest's whole seconds collide).
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.now().Unix(), s.seq%1000000)
}

// open finds a channel that may take a change, or says why not.
func (s *Server) open(id string) (*Channel, string) {
	c := s.find(id)
	switch {
	case c == nil:
		return nil, "channel_not_found"
	case c.Archived:
		return nil, "is_archived"
	}
	return c, ""
}

func (c *Channel) json() map[string]any {
	return map[string]any{"id": c.ID, "name": c.Name, "is_channel": true, "created": c.Created, "creator": c.Creator,
		"is_archived": c.Archived, "members": c.Members, "topic": map[string]any{"value": c.Topic},
		"purpose": map[string]any{"value": c.Purpose}}
}

var channelNameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (s *Server) methods() map[string]method {
	return map[string]method{
		"auth.test":                    s.authTest,
		"conversations.create":         s.create,
		"conversations.setTopic":       s.setTopic,
		"conversations.invite":         s.invite,
		"usergroups.users.update":      s.updateGroup, // im.go
		"conversations.archive":        s.archive,
		"conversations.list":           s.list,
		"conversations.history":        s.history,
		"conversations.replies":        s.replies,
		"chat.postMessage":             s.postMessage,
		"chat.update":                  s.update,
		"pins.add":                     s.pin,
		"bookmarks.add":                s.bookmark,
		"files.getUploadURLExternal":   s.uploadURL,
		"files.completeUploadExternal": s.completeUpload,
		"users.info":                   s.usersInfo,
		"views.open":                   s.viewsOpen,
		"conversations.members":        s.members,
		"conversations.setPurpose":     s.setPurpose,
		"conversations.unarchive":      s.unarchive,
		"files.delete":                 s.deleteFile, // messages.go
	}
}

func (s *Server) authTest(url.Values) (map[string]any, string) {
	return map[string]any{"user_id": BotUserID, "bot_id": BotID, "user": "incidentbot", "team_id": "T0001", "team": "test"}, ""
}

// create honours the requested name, which slacktest ignores; names stay
// taken by archived channels too, as in Slack.
func (s *Server) create(p url.Values) (map[string]any, string) {
	name := p.Get("name")
	switch {
	case name == "":
		return nil, "invalid_name_required"
	case len(name) > 80:
		return nil, "invalid_name_maxlength"
	case !channelNameRE.MatchString(name):
		return nil, "invalid_name_specials"
	}
	for _, c := range s.channels {
		if c.Name == name {
			return nil, "name_taken"
		}
	}
	c := s.newChannel(name, BotUserID)
	c.Members = []string{BotUserID}
	return map[string]any{"channel": c.json()}, ""
}

func (s *Server) setTopic(p url.Values) (map[string]any, string) {
	c, code := s.open(p.Get("channel"))
	if c == nil {
		return nil, code
	}
	if len(p.Get("topic")) > 250 {
		return nil, "too_long"
	}
	c.Topic = p.Get("topic")
	return map[string]any{"channel": c.json()}, ""
}

// invite adds users; a user ID starting with "UGONE" does not exist and
// fails the whole call, as Slack does.
func (s *Server) invite(p url.Values) (map[string]any, string) {
	c, code := s.open(p.Get("channel"))
	if c == nil {
		return nil, code
	}
	var added []string
	for _, u := range split(p.Get("users")) {
		switch {
		case u == BotUserID:
			return nil, "cant_invite_self"
		case len(u) >= 5 && u[:5] == "UGONE":
			return nil, "user_not_found"
		case !slices.Contains(c.Members, u) && !slices.Contains(added, u):
			added = append(added, u)
		}
	}
	if len(added) == 0 {
		return nil, "already_in_channel"
	}
	c.Members = append(c.Members, added...)
	return map[string]any{"channel": c.json()}, ""
}

func (s *Server) archive(p url.Values) (map[string]any, string) {
	c := s.find(p.Get("channel"))
	switch {
	case c == nil:
		return nil, "channel_not_found"
	case c.Archived:
		return nil, "already_archived"
	}
	c.Archived = true
	return nil, ""
}

// list answers conversations.list in one page.
func (s *Server) list(p url.Values) (map[string]any, string) {
	var out []map[string]any
	for _, c := range s.channels {
		if !c.Archived || p.Get("exclude_archived") != "true" {
			out = append(out, c.json())
		}
	}
	return map[string]any{"channels": out, "response_metadata": map[string]any{"next_cursor": ""}}, ""
}

func (s *Server) bookmark(p url.Values) (map[string]any, string) {
	c, code := s.open(p.Get("channel_id"))
	if c == nil {
		return nil, code
	}
	b := Bookmark{Title: p.Get("title"), Link: p.Get("link"), Type: p.Get("type")}
	c.Bookmarks = append(c.Bookmarks, b)
	return map[string]any{"bookmark": map[string]any{"id": fmt.Sprintf("Bk%d", len(c.Bookmarks)), "channel_id": c.ID,
		"title": b.Title, "link": b.Link, "type": b.Type}}, ""
}
