// Package legacy reads what stores wrote before the Slack adapter kept its
// own record: the Slack fields inside the incident's JSON. Both stores
// move them out with it when they open (bbolt) or migrate (PostgreSQL)
// such data.
package legacy

import (
	"encoding/json"
	"fmt"

	"github.com/incidentbot/incidentbot/bot"
)

// Adapter is the name of the chat adapter the fields belong to.
const Adapter = "slack"

// dataKeys are the keys moved, verbatim, into the record's Data: the Slack
// adapter (bot/slack) reads its Data with these same keys.
var dataKeys = []string{"slack_message_ts", "slack_headline_ts", "chat"}

// SlackOut takes the Slack fields out of an incident's JSON and returns
// the incident's JSON without them (with the posted runbooks as
// bot.Incident's checklists), the Slack adapter's record, and whether
// there was anything to move. Only the channel ID and name (the room) and
// the runbooks' names and step counts are interpreted.
func SlackOut(incident []byte) (out []byte, rec bot.ChatRecord, moved bool, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(incident, &raw); err != nil {
		return nil, rec, false, fmt.Errorf("decode incident: %w", err)
	}
	str := func(key string, into *string) error {
		v, ok := raw[key]
		if !ok {
			return nil
		}
		delete(raw, key)
		moved = true
		if err := json.Unmarshal(v, into); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	if err := str("slack_channel_id", &rec.Room); err != nil {
		return nil, rec, false, err
	}
	if err := str("slack_channel_name", &rec.RoomName); err != nil {
		return nil, rec, false, err
	}
	data := map[string]json.RawMessage{}
	for _, k := range dataKeys {
		if v, ok := raw[k]; ok {
			data[k] = v
			delete(raw, k)
			moved = true
		}
	}
	if !moved {
		return incident, rec, false, nil
	}
	if c, ok := data["chat"]; ok {
		var chat struct {
			Runbooks []struct {
				Name  string `json:"name"`
				Steps int    `json:"steps"`
			} `json:"runbooks"`
		}
		if err := json.Unmarshal(c, &chat); err != nil {
			return nil, rec, false, fmt.Errorf("chat: %w", err)
		}
		var lists []bot.Checklist
		for _, m := range chat.Runbooks {
			lists = append(lists, bot.Checklist{Runbook: m.Name, Steps: m.Steps})
		}
		if len(lists) > 0 {
			if raw["checklists"], err = json.Marshal(lists); err != nil {
				return nil, rec, false, err
			}
		}
	}
	if len(data) > 0 {
		if rec.Data, err = json.Marshal(data); err != nil {
			return nil, rec, false, err
		}
	}
	out, err = json.Marshal(raw)
	return out, rec, true, err
}
