package slacktesting

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Messages returns the messages of a channel, oldest first.
func (s *Server) Messages(channel string) []Message {
	c, _ := s.Channel(channel)
	return c.Messages
}

// Files returns the uploaded files, in upload order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, len(s.files))
	for i, f := range s.files {
		out[i] = *f
	}
	return out
}

func (m *Message) json(channel string) map[string]any {
	out := map[string]any{"type": "message", "ts": m.TS, "user": m.User, "text": m.Text, "channel": channel}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.User == BotUserID {
		out["bot_id"] = BotID
	}
	if m.Blocks != "" {
		out["blocks"] = json.RawMessage(m.Blocks)
	}
	return out
}

func (c *Channel) message(ts string) *Message {
	for i := range c.Messages {
		if c.Messages[i].TS == ts {
			return &c.Messages[i]
		}
	}
	return nil
}

func (s *Server) postMessage(p url.Values) (map[string]any, string) {
	c, code := s.openOrIM(p.Get("channel"))
	if c == nil {
		return nil, code
	}
	if p.Get("text") == "" && p.Get("blocks") == "" {
		return nil, "no_text"
	}
	if p.Get("blocks") != "" && !json.Valid([]byte(p.Get("blocks"))) {
		return nil, "invalid_blocks"
	}
	m := Message{TS: s.nextTS(), ThreadTS: p.Get("thread_ts"), User: BotUserID, Text: p.Get("text"), Blocks: p.Get("blocks")}
	c.Messages = append(c.Messages, m)
	return map[string]any{"channel": c.ID, "ts": m.TS, "message": m.json(c.ID)}, ""
}

func (s *Server) update(p url.Values) (map[string]any, string) {
	c, code := s.open(p.Get("channel"))
	if c == nil {
		return nil, code
	}
	m := c.message(p.Get("ts"))
	switch {
	case m == nil:
		return nil, "message_not_found"
	case m.User != BotUserID:
		return nil, "cant_update_message"
	}
	m.Text, m.Blocks = p.Get("text"), p.Get("blocks")
	m.Edits++
	return map[string]any{"channel": c.ID, "ts": m.TS, "text": m.Text}, ""
}

func (s *Server) pin(p url.Values) (map[string]any, string) {
	c, code := s.open(p.Get("channel"))
	if c == nil {
		return nil, code
	}
	m := c.message(p.Get("timestamp"))
	switch {
	case m == nil:
		return nil, "message_not_found"
	case m.Pinned:
		return nil, "already_pinned"
	}
	m.Pinned = true
	return nil, ""
}

// tsLess orders Slack timestamps ("seconds.micro").
func tsLess(a, b string) bool {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	ai, _ := strconv.ParseInt(as, 10, 64)
	bi, _ := strconv.ParseInt(bs, 10, 64)
	if ai != bi {
		return ai < bi
	}
	return af < bf
}

// inRange applies latest, oldest and inclusive as conversations.history does.
func inRange(ts string, p url.Values) bool {
	incl := p.Get("inclusive") == "1" || p.Get("inclusive") == "true"
	if l := p.Get("latest"); l != "" && (tsLess(l, ts) || (!incl && ts == l)) {
		return false
	}
	if o := p.Get("oldest"); o != "" && (tsLess(ts, o) || (!incl && ts == o)) {
		return false
	}
	return true
}

func limitOf(p url.Values) int {
	if n, err := strconv.Atoi(p.Get("limit")); err == nil && n > 0 {
		return n
	}
	return 100
}

// history answers with the channel's top-level messages, newest first.
func (s *Server) history(p url.Values) (map[string]any, string) {
	c := s.find(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	var out []map[string]any
	for i := len(c.Messages) - 1; i >= 0 && len(out) < limitOf(p); i-- {
		m := &c.Messages[i]
		if (m.ThreadTS == "" || m.ThreadTS == m.TS) && inRange(m.TS, p) {
			out = append(out, m.json(c.ID))
		}
	}
	return map[string]any{"messages": out, "has_more": false}, ""
}

// replies answers with the thread of ts, oldest first: its parent, then
// the replies within latest and oldest.
func (s *Server) replies(p url.Values) (map[string]any, string) {
	c := s.find(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	m := c.message(p.Get("ts"))
	if m == nil {
		return nil, "thread_not_found"
	}
	root := m.TS
	if m.ThreadTS != "" {
		root = m.ThreadTS
	}
	var out []map[string]any
	for i := range c.Messages {
		m := &c.Messages[i]
		if (m.TS == root || (m.ThreadTS == root && inRange(m.TS, p))) && len(out) < limitOf(p) {
			out = append(out, m.json(c.ID))
		}
	}
	return map[string]any{"messages": out, "has_more": false}, ""
}

func (s *Server) uploadURL(p url.Values) (map[string]any, string) {
	n, err := strconv.Atoi(p.Get("length"))
	if p.Get("filename") == "" || err != nil || n <= 0 {
		return nil, "invalid_arguments"
	}
	s.seq++
	f := &File{ID: fmt.Sprintf("F%08d", s.seq), Name: p.Get("filename")}
	s.files = append(s.files, f)
	return map[string]any{"upload_url": s.APIURL() + "upload/" + f.ID, "file_id": f.ID}, ""
}

// upload receives the bytes of a file, the second step of an upload. It
// is no API method, but it is recorded (as "upload") and may fail.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	file, _, err := r.FormFile("file")
	var content []byte
	if err == nil {
		content, err = io.ReadAll(file)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Method: "upload", Params: url.Values{"file_id": {id}}, At: s.now()}
	if f, ok := s.takeFault("upload"); ok {
		call.Err = faultText(f)
		s.calls = append(s.calls, call)
		writeFault(w, f)
		return
	}
	f := s.file(id)
	if err != nil || f == nil {
		call.Err = "http 400"
		s.calls = append(s.calls, call)
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	f.Content = content
	s.calls = append(s.calls, call)
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(content)))
}

func (s *Server) file(id string) *File {
	for _, f := range s.files {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// deleteFile answers files.delete for a file the bot uploaded (scope
// files:write): the file is marked deleted and leaves the messages that
// shared it. A second delete answers file_deleted, an unknown file
// file_not_found, as Slack does.
func (s *Server) deleteFile(p url.Values) (map[string]any, string) {
	f := s.file(p.Get("file"))
	switch {
	case f == nil:
		return nil, "file_not_found"
	case f.Deleted:
		return nil, "file_deleted"
	}
	f.Deleted = true
	for _, c := range s.channels {
		for i := range c.Messages {
			c.Messages[i].Files = slices.DeleteFunc(c.Messages[i].Files, func(id string) bool { return id == f.ID })
		}
	}
	return nil, ""
}

// completeUpload shares uploaded files into a channel, as a message
// carrying the initial comment.
func (s *Server) completeUpload(p url.Values) (map[string]any, string) {
	var files []struct{ ID, Title string }
	if err := json.Unmarshal([]byte(p.Get("files")), &files); err != nil || len(files) == 0 {
		return nil, "invalid_arguments"
	}
	c, code := s.open(p.Get("channel_id"))
	if c == nil {
		return nil, code
	}
	m := Message{TS: s.nextTS(), ThreadTS: p.Get("thread_ts"), User: BotUserID, Text: p.Get("initial_comment")}
	var out []map[string]any
	for _, in := range files {
		f := s.file(in.ID)
		if f == nil || f.Content == nil {
			return nil, "file_not_found"
		}
		f.Title, f.Channel, f.Comment = in.Title, c.ID, m.Text
		m.Files = append(m.Files, f.ID)
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	c.Messages = append(c.Messages, m)
	return map[string]any{"files": out}, ""
}
