package slack

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/incidentbot/incidentbot/bot"
)

// Adapter is the Slack adapter's name: the key of its bot.ChatRecord in
// the store and of its channels in the room index.
const Adapter = "slack"

// Name implements bot.Chat.
func (c *Client) Name() string { return Adapter }

// State is what the Slack adapter keeps for an incident, in its
// bot.ChatRecord: the channel (the record's Room and RoomName) and, in
// Data, the rest. Data's JSON keys are the ones these fields had when they
// were bot.Incident's, so that records the stores moved out of old
// incidents read back as they were.
type State struct {
	ChannelID   string `json:"-"`
	ChannelName string `json:"-"`
	// MessageTS and HeadlineTS are the timestamps of the incident message
	// in its channel and of the headline in the announcement channel,
	// recorded as soon as Slack returns them so that they are edited,
	// never posted twice.
	MessageTS  string `json:"slack_message_ts,omitempty"`
	HeadlineTS string `json:"slack_headline_ts,omitempty"`
	// Chat is the rest of what the channel shows.
	Chat ChatState `json:"chat,omitzero"`
}

// StateOf reads the Slack adapter's record of an incident.
func StateOf(rec bot.ChatRecord) (State, error) {
	s := State{ChannelID: rec.Room, ChannelName: rec.RoomName}
	if len(rec.Data) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(rec.Data, &s); err != nil {
		return State{}, fmt.Errorf("slack: read the incident's Slack state: %w", err)
	}
	return s, nil
}

// Record is s as the store keeps it.
func (s State) Record() (bot.ChatRecord, error) {
	rec := bot.ChatRecord{Room: s.ChannelID, RoomName: s.ChannelName}
	if s.MessageTS == "" && s.HeadlineTS == "" && s.Chat.isZero() {
		return rec, nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return rec, fmt.Errorf("slack: encode the incident's Slack state: %w", err)
	}
	rec.Data = data
	return rec, nil
}

// ChatState is what the channel already shows for an incident, beyond
// the channel and message IDs of State. Only the delivery worker records
// it, one step at a time as each succeeds, so that a retry or a restart
// resumes instead of posting again; and a refresh compares it with the
// incident to edit only what changed.
type ChatState struct {
	// Topic is the channel topic last set.
	Topic string `json:"topic,omitempty"`
	// MessageHash and HeadlineHash identify what the incident message and
	// the headline last showed.
	MessageHash  string `json:"message_hash,omitempty"`
	HeadlineHash string `json:"headline_hash,omitempty"`
	// Runbooks are the runbook checklists posted into the channel.
	Runbooks []RunbookMessage `json:"runbooks,omitempty"`
	// Invited are the responders the bot has invited (or tried to), so
	// that an alert joining later invites only the people it adds.
	Invited []string `json:"invited,omitempty"`
	// Steps names the one-time steps of opening that are done or were
	// given up (inviting, the headline, the bookmark).
	Steps []string `json:"steps,omitempty"`
	// Draft is the file of the postmortem draft in the channel, uploaded
	// by delivery DraftDelivery (so that a retried step does not upload
	// it twice); OldDrafts are earlier uploads still to delete (draft.go).
	Draft         string   `json:"draft_file,omitempty"`
	DraftDelivery uint64   `json:"draft_delivery,omitempty"`
	OldDrafts     []string `json:"old_drafts,omitempty"`
	// MovedFrom are the incident's earlier channels, archived, oldest
	// first; Moving is set while a new channel is being set up (move.go).
	MovedFrom []string `json:"moved_from,omitempty"`
	Moving    bool     `json:"moving,omitempty"`
}

func (c ChatState) isZero() bool {
	return c.Topic == "" && c.MessageHash == "" && c.HeadlineHash == "" && len(c.Runbooks) == 0 && len(c.Invited) == 0 && len(c.Steps) == 0 &&
		c.Draft == "" && c.DraftDelivery == 0 && len(c.OldDrafts) == 0 && len(c.MovedFrom) == 0 && !c.Moving
}

// Did reports whether the one-time step is done or given up.
func (c ChatState) Did(step string) bool { return slices.Contains(c.Steps, step) }

// Runbook returns the message of the runbook posted under this name.
func (c ChatState) Runbook(name string) (RunbookMessage, bool) {
	for _, m := range c.Runbooks {
		if m.Name == name {
			return m, true
		}
	}
	return RunbookMessage{}, false
}

// RunbookMessage is one runbook checklist posted into an incident's channel.
type RunbookMessage struct {
	Name string `json:"name"`
	// TS is the message's timestamp; empty when posting it was given up.
	TS string `json:"ts,omitempty"`
	// Done is how many steps the message shows done (records written
	// before Progress).
	Done int `json:"done"`
	// Steps is how many steps the checklist has. Zero in records written
	// before it.
	Steps int `json:"steps,omitempty"`
	// Progress identifies the marks the message shows, so that a refresh
	// edits it only when they changed.
	Progress string `json:"progress,omitempty"`
	// NoteTS is the message telling the channel which runbook matched and
	// why, once posted ("-" when posting it was given up).
	NoteTS string `json:"note_ts,omitempty"`
	// Reason is why the runbook matched (Runbook.Reason), for that note.
	Reason string `json:"reason,omitempty"`
	// Delivery is the delivery that posted it, so that a retried request
	// does not post it twice.
	Delivery uint64 `json:"delivery,omitempty"`
}

// incident is a bot.Incident with the Slack adapter's state of it: what
// each step of a delivery reads.
type incident struct {
	*bot.Incident
	State
}

// result is what one step did, in Slack's terms; Deliver turns it into
// the bot.ChatResult the worker records. Zero fields changed nothing.
type result struct {
	// More means the delivery has further steps.
	More bool
	// ChannelID and ChannelName are set when the step created (or found
	// again) the incident's channel.
	ChannelID, ChannelName string
	// MessageTS and HeadlineTS are set when the step posted the incident
	// message or the headline.
	MessageTS, HeadlineTS string
	// State, when not nil, replaces the incident's ChatState.
	State *ChatState
	// Moved, when not nil, replaces the whole State: the incident moved
	// to a new channel (move.go).
	Moved *State
	// The rest is bot.ChatResult's.
	Invited      []string
	Runbook      string
	RunbookSteps int
	File         string
	Pinned       *bot.PinnedMessage
	Warning      string
}

// chat is r as the worker records it: the fields r sets, applied to the
// state the step started from, make the new record when they change it.
func (r result) chat(inc *incident) (bot.ChatResult, error) {
	out := bot.ChatResult{More: r.More, Invited: r.Invited, Runbook: r.Runbook, RunbookSteps: r.RunbookSteps,
		File: r.File, Pinned: r.Pinned, Warning: r.Warning}
	st, changed := inc.State, false
	if r.Moved != nil {
		st, changed = *r.Moved, true
	}
	set := func(field *string, v string) {
		if v != "" && *field != v {
			*field, changed = v, true
		}
	}
	set(&st.ChannelID, r.ChannelID)
	set(&st.ChannelName, r.ChannelName)
	set(&st.MessageTS, r.MessageTS)
	set(&st.HeadlineTS, r.HeadlineTS)
	if r.State != nil {
		st.Chat, changed = *r.State, true
	}
	if changed {
		rec, err := st.Record()
		if err != nil {
			return bot.ChatResult{}, err
		}
		out.Record = &rec
	}
	return out, nil
}
