package webhooks

import (
	"context"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

// channel is the incident's Slack channel as the Slack adapter recorded
// it (its chat record's room): the zero record while it has none. A store
// that cannot be read counts as no channel, and is logged.
func (s *Server) channel(ctx context.Context, id int64) bot.ChatRecord {
	rec, err := s.svc.ChatRecord(ctx, id, botslack.Adapter)
	if err != nil {
		s.logger(ctx).Warn("could not read the incident's Slack channel", "incident", id, "err", err)
	}
	return rec
}

// channels is channel for a list of incidents, in one read.
func (s *Server) channels(ctx context.Context, list []*bot.Incident) map[int64]bot.ChatRecord {
	recs, err := s.svc.ChatRecords(ctx, botslack.Adapter, incidentIDs(list)...)
	if err != nil {
		s.logger(ctx).Warn("could not read the incidents' Slack channels", "err", err)
	}
	return recs
}

// apiIncident is an incident as the API shows it: the Slack fields it
// had when bot.Incident held them (slack_channel_id and slack_channel_name
// are the SPEC's) come from the Slack adapter's record, kept beside it.
type apiIncident struct {
	*bot.Incident
	SlackChannelID   string `json:"slack_channel_id,omitempty"`
	SlackChannelName string `json:"slack_channel_name,omitempty"`
	SlackMessageTS   string `json:"slack_message_ts,omitempty"`
	SlackHeadlineTS  string `json:"slack_headline_ts,omitempty"`
}

// withChannel composes the API's incident from the incident and the Slack
// adapter's record of it; a record it cannot read still gives the channel.
func withChannel(inc *bot.Incident, rec bot.ChatRecord) apiIncident {
	v := apiIncident{Incident: inc, SlackChannelID: rec.Room, SlackChannelName: rec.RoomName}
	if st, err := botslack.StateOf(rec); err == nil {
		v.SlackMessageTS, v.SlackHeadlineTS = st.MessageTS, st.HeadlineTS
	}
	return v
}
