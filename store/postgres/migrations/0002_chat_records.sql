-- What each chat adapter keeps for an incident (bot.ChatRecord) moves out
-- of the incident's body into a row of its own, and the channel index
-- becomes a room index per adapter. Go code (chat.go, moveChatOut) moves
-- the Slack fields of existing bodies right after this, in the same
-- transaction, and then drops incidents.channel.
CREATE TABLE chat_records (
	incident_id bigint NOT NULL,
	adapter bytea NOT NULL,
	room bytea NOT NULL,
	room_name bytea NOT NULL,
	data bytea NOT NULL,
	PRIMARY KEY (incident_id, adapter)
);

-- The room index: (adapter, room) -> the incident that named it last.
CREATE TABLE chat_rooms (
	adapter bytea NOT NULL,
	room bytea NOT NULL,
	incident_id bigint NOT NULL,
	PRIMARY KEY (adapter, room)
);
CREATE INDEX chat_rooms_incident ON chat_rooms (incident_id);
