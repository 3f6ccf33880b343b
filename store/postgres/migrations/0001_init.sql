-- The layout of the bbolt store after issue 12, as tables: a small
-- incident row (the header as JSON, plus the columns queries need), alerts
-- keyed by (incident, fingerprint), the timeline beside, a row per
-- Alertmanager group, the outbox, seen events, and the on-call engine's
-- timers, escalation runs, pages (claimed once by key), ack tokens and
-- overrides. Keys from outside (receivers, group keys, fingerprints,
-- channel and event IDs) are bytea: PostgreSQL's text refuses NUL bytes,
-- and hostile input may carry them. Times that queries compare are Unix
-- nanoseconds, as exact as the JSON bodies.

-- counters holds the incident number: taking it locks the row until the
-- transaction ends, so numbers stay 1, 2, 3... without gaps.
CREATE TABLE counters (
	name text PRIMARY KEY,
	n bigint NOT NULL
);
INSERT INTO counters (name, n) VALUES ('incident', 0);

CREATE TABLE incidents (
	id bigint PRIMARY KEY,
	channel bytea,
	open boolean NOT NULL,
	resolved_ns bigint,
	body bytea NOT NULL
);
CREATE INDEX incidents_channel ON incidents (channel) WHERE channel IS NOT NULL;
CREATE INDEX incidents_open ON incidents (id) WHERE open;

CREATE TABLE groups (
	receiver bytea NOT NULL,
	group_key bytea NOT NULL,
	incident bigint NOT NULL,
	rev bigint NOT NULL,
	digest bytea NOT NULL,
	open boolean NOT NULL,
	PRIMARY KEY (receiver, group_key)
);
CREATE INDEX groups_incident ON groups (incident);

CREATE SEQUENCE alert_seq;
CREATE TABLE alerts (
	incident_id bigint NOT NULL,
	fingerprint bytea NOT NULL,
	seq bigint NOT NULL DEFAULT nextval('alert_seq'),
	digest bytea NOT NULL,
	body bytea NOT NULL,
	PRIMARY KEY (incident_id, fingerprint)
);
CREATE INDEX alerts_order ON alerts (incident_id, seq);

CREATE SEQUENCE timeline_seq;
CREATE TABLE timeline (
	incident_id bigint NOT NULL,
	id bigint NOT NULL DEFAULT nextval('timeline_seq'),
	body bytea NOT NULL,
	PRIMARY KEY (incident_id, id)
);

CREATE TABLE outbox (
	id bigserial PRIMARY KEY,
	body bytea NOT NULL
);

CREATE TABLE events (
	id bytea PRIMARY KEY,
	at_ns bigint NOT NULL
);
CREATE INDEX events_at ON events (at_ns);

CREATE TABLE timers (
	id bigserial PRIMARY KEY,
	due_ns bigint NOT NULL,
	body bytea NOT NULL
);
CREATE INDEX timers_due ON timers (due_ns, id);

CREATE SEQUENCE oncall_seq;
CREATE TABLE escalations (
	incident_id bigint NOT NULL,
	id bigint NOT NULL DEFAULT nextval('oncall_seq'),
	body bytea NOT NULL,
	PRIMARY KEY (incident_id, id)
);

CREATE TABLE pages (
	incident_id bigint NOT NULL,
	id bigint NOT NULL DEFAULT nextval('oncall_seq'),
	key bytea NOT NULL UNIQUE,
	body bytea NOT NULL,
	PRIMARY KEY (incident_id, id)
);

CREATE TABLE page_tokens (
	hash bytea PRIMARY KEY,
	incident_id bigint NOT NULL,
	page bigint NOT NULL,
	expires_ns bigint NOT NULL
);

CREATE TABLE overrides (
	id bigint PRIMARY KEY DEFAULT nextval('oncall_seq'),
	end_ns bigint NOT NULL,
	body bytea NOT NULL
);
