package bot

import (
	"context"
	"time"
)

// Store keeps incidents, their timelines and the Slack outbox durably.
//
// Implementations live in store/...; every one must pass the conformance
// suite in store/storetest (the in-memory store of bot's own tests too).
//
// The contract, for stores with one writer (bbolt) and with many
// (PostgreSQL, several replicas):
//   - Isolation: every Update is serializable. Its reads see the state as
//     of its start plus its own writes, and its result is the same as if
//     the committed Updates had run one at a time in some order; a
//     read-modify-write never loses a concurrent one. A store gets there
//     with one writer, or by detecting conflicts and running fn again.
//   - fn may run more than once, and then only its last run counts.
//   - Incident numbers are 1, 2, 3... in commit order, with no gap a user
//     can see: an Update that fails or is cancelled gives its number back,
//     which makes concurrent opens wait for each other (they are rare).
//     (Ingest's fill, fill.go, takes a number for an incident it keeps
//     hidden while a big group is written in slices.)
//     Other IDs (timeline entries, deliveries, timers, pages...) are only
//     unique and increasing per the method's doc; they may have gaps.
//   - Duplicates are impossible by construction, not by luck: one event ID
//     is fresh once, one page Key is claimed once, whichever replica asks.
//   - A View sees one consistent state (a snapshot) and cannot write.
type Store interface {
	// Update runs fn in a read-write transaction and returns once the
	// transaction is durably committed (or has failed). If fn returns an
	// error, nothing it wrote is kept and that error is returned as is.
	//
	// fn may be called more than once (a store may group concurrent
	// updates into one commit and replay the others when one fails), so it
	// must have no effect outside tx, and it must not keep tx.
	//
	// A failure of the store itself (full queue with ctx done, disk error,
	// closed store) is returned wrapping ErrUnavailable: safe to retry.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction. Calling a write method of
	// tx inside View returns an error.
	View(ctx context.Context, fn func(tx Tx) error) error
}

// GroupPeeker is a Store that reads a group in one step outside any
// transaction. Ingest answers an exact repeat, most of Alertmanager's
// traffic, with it when the store has it (a database, where a transaction
// costs round trips), and with a View otherwise.
type GroupPeeker interface {
	// PeekGroup returns, as of one moment, the group's state and whether
	// the group's latest incident is stored (stored) and open (open). An
	// error wraps ErrNotFound when no incident was ever opened for the
	// group, ErrUnavailable when the store fails.
	PeekGroup(ctx context.Context, receiver, groupKey string) (g GroupState, stored, open bool, err error)
}

// IncidentFilter selects incidents for listing.
type IncidentFilter struct {
	// Open, when not nil, keeps only open (true) or resolved (false) incidents.
	Open *bool
	// Limit caps the number returned; 0 means no limit.
	Limit int
	// Before, when not zero, keeps only incidents with a smaller ID (paging).
	Before int64
	// WithAlerts loads each incident's alerts too; without it Alerts is
	// nil, and listing costs the same whatever the incidents' rosters.
	WithAlerts bool
}

// GroupState is what a store keeps for one Alertmanager group (receiver,
// group key): a row of its own, beside the incidents.
type GroupState struct {
	// Incident is the newest incident opened for the group.
	Incident int64
	// Rev changes with every CreateIncident and SetGroupDigest of the
	// group: a reader that saw Rev r and sees r again knows that no
	// notification was applied in between, and that nothing it read of the
	// group's alerts has changed.
	Rev uint64
	// Digest is the digest of the last notification applied to Incident
	// (zero when none was, or since a new incident took over), and Open
	// whether that incident was open just after it was applied.
	Digest Digest
	Open   bool
}

// Tx is one store transaction. Records passed in are copied; records
// returned belong to the caller.
//
// The layout is one a SQL store shares: an incident row (the header: the
// Incident without its Alerts), its alerts keyed by (incident,
// fingerprint), its timeline entries keyed by (incident, entry ID), and a
// row per Alertmanager group. Ingest reads and writes only the alerts a
// notification names, so that its cost follows the notification, not the
// incident's history.
type Tx interface {
	// Incident returns the incident with this ID and all its alerts, in
	// the order first seen, or an error wrapping ErrNotFound.
	Incident(id int64) (*Incident, error)
	// IncidentHeader returns the incident without its alerts (Alerts is
	// nil), at a cost that does not grow with them, or an error wrapping
	// ErrNotFound.
	IncidentHeader(id int64) (*Incident, error)
	// LatestInGroup returns the newest incident opened for the Alertmanager
	// group (receiver, groupKey), open or not, with its alerts, or an error
	// wrapping ErrNotFound.
	LatestInGroup(receiver, groupKey string) (*Incident, error)
	// IncidentByRoom returns the incident whose record of chat adapter
	// (ChatRecord) has this Room, with its alerts, or an error wrapping
	// ErrNotFound. When two incidents' records name the room, the one that
	// named it last has it.
	IncidentByRoom(adapter, room string) (*Incident, error)
	// Incidents lists incidents newest first; see IncidentFilter.WithAlerts.
	Incidents(f IncidentFilter) ([]*Incident, error)
	// CreateIncident gives inc the next number (1, 2, 3...) and stores it
	// with its Alerts. If inc has a group key, it becomes the group's
	// latest incident, with no digest.
	CreateIncident(inc *Incident) error
	// UpdateIncident replaces the stored incident's header with inc's (same
	// ID). inc.Alerts is ignored: alerts change only through PutAlerts, so that saving a
	// status costs the same for any roster. ErrNotFound if absent.
	UpdateIncident(inc *Incident) error

	// Group returns the group's state, or an error wrapping ErrNotFound
	// when no incident was ever opened for it.
	Group(receiver, groupKey string) (GroupState, error)
	// SetGroupDigest records d as the last notification applied to the
	// group's latest incident, and whether that incident is open, and
	// changes the group's Rev. ErrNotFound when the group has no incident.
	SetGroupDigest(receiver, groupKey string, d Digest, open bool) error
	// AlertDigests returns, for each fingerprint, the digest stored with
	// the incident's alert of that fingerprint, or the zero Digest when it
	// has none. It reads no alert.
	AlertDigests(incidentID int64, fingerprints []string) ([]Digest, error)
	// AlertsByFingerprint returns those of the incident's alerts whose
	// fingerprints are listed, keyed by fingerprint.
	AlertsByFingerprint(incidentID int64, fingerprints []string) (map[string]Alert, error)
	// PutAlerts adds or replaces alerts of the incident, matched by
	// fingerprint; new ones come after every earlier one in the incident's
	// order. digests[i] is AlertDigest(&alerts[i]), which the caller has
	// at hand. ErrNotFound when the incident is absent; ErrInvalid when
	// the lengths differ.
	PutAlerts(incidentID int64, alerts []Alert, digests []Digest) error
	// ExpiredIncidents looks at incidents with an ID above after, in ID
	// order, and returns those resolved before cutoff, at most limit. next
	// is the after of the following call, 0 once every incident was looked
	// at. A store may look at a bounded number per call and return fewer
	// (even none) with next > 0.
	ExpiredIncidents(cutoff time.Time, after int64, limit int) (ids []int64, next int64, err error)
	// DeleteIncident deletes up to max of the incident's alerts and
	// timeline entries and, once none are left, the incident itself (its
	// chat records and their rooms, and its group's row if it is the
	// group's latest). It
	// reports whether the incident is gone; deleting an absent one is not
	// an error. Calls with a small max keep each transaction short.
	DeleteIncident(id int64, max int) (gone bool, err error)

	// ChatRecord returns what chat adapter keeps for the incident, the
	// zero record when it keeps nothing (or the incident is absent).
	ChatRecord(incidentID int64, adapter string) (ChatRecord, error)
	// ChatRecords returns every chat adapter's record of the incident, by
	// adapter; empty when there is none.
	ChatRecords(incidentID int64) (map[string]ChatRecord, error)
	// PutChatRecord replaces what chat adapter keeps for the incident
	// with r, keeping the room index in step with r.Room (IncidentByRoom).
	// ErrNotFound when the incident is absent, ErrInvalid for an empty
	// adapter name.
	PutChatRecord(incidentID int64, adapter string, r ChatRecord) error

	// Append adds entries to the end of their incident's timeline, giving
	// each an ID larger than every earlier entry's.
	Append(entries ...*TimelineEntry) error
	// Timeline returns the incident's entries in the order they were appended.
	Timeline(incidentID int64) ([]TimelineEntry, error)

	// Enqueue adds d to the outbox, giving it an ID larger than every
	// earlier delivery's.
	Enqueue(d *Delivery) error
	// Pending returns up to limit deliveries, lowest ID first.
	Pending(limit int) ([]Delivery, error)
	// PendingAfter returns up to limit deliveries with an ID above after,
	// lowest first: the outbox read page by page.
	PendingAfter(after uint64, limit int) ([]Delivery, error)
	// SaveDelivery replaces the stored delivery with d (same ID), for
	// attempts and back-off. ErrNotFound if absent.
	SaveDelivery(d *Delivery) error
	// Done removes the delivery; removing an absent one is not an error.
	Done(id uint64) error

	// MarkEvent records an inbound event ID (Slack's event_id) and reports
	// whether it is new. IDs older than keep before now are forgotten, so
	// the record stays bounded.
	MarkEvent(id string, now time.Time, keep time.Duration) (fresh bool, err error)

	// On-call (bot/timer.go, bot/page.go): durable timers, escalation
	// runs, pages, ack tokens and schedule overrides.

	// AddTimer stores t, giving it an ID larger than every earlier timer's.
	AddTimer(t *Timer) error
	// DueTimers returns up to limit timers due at or before now, earliest
	// first (equal times: lowest ID first).
	DueTimers(now time.Time, limit int) ([]Timer, error)
	// TimersAfter returns up to limit timers (limit > 0) due at or before
	// until that come after `after` in that order (by due time, then ID):
	// the timers read page by page. A nil after starts at the first.
	TimersAfter(after *Timer, until time.Time, limit int) ([]Timer, error)
	// NextTimer returns the earliest timer, or an error wrapping
	// ErrNotFound when there is none.
	NextTimer() (*Timer, error)
	// SaveTimer replaces the stored timer with t (same ID), moving it to
	// its new due time. ErrNotFound if absent.
	SaveTimer(t *Timer) error
	// DeleteTimer removes the timer; removing an absent one is not an error.
	DeleteTimer(id uint64) error

	// CreateEscalation stores a new escalation run, giving it an ID.
	CreateEscalation(e *EscalationRun) error
	// SaveEscalation replaces the stored run (same incident and ID).
	// ErrNotFound if absent.
	SaveEscalation(e *EscalationRun) error
	// Escalations returns the incident's runs, oldest first.
	Escalations(incidentID int64) ([]EscalationRun, error)

	// ClaimPage stores p, giving it an ID, unless a page with the same
	// Key is stored already: then fresh is false, p is left as it was, and
	// nothing is written. This is what keeps a person from being paged
	// twice for one step.
	ClaimPage(p *Page) (fresh bool, err error)
	// SavePage replaces the stored page (same incident and ID).
	// ErrNotFound if absent.
	SavePage(p *Page) error
	// Page returns one page of an incident, or an error wrapping ErrNotFound.
	Page(incidentID int64, id uint64) (*Page, error)
	// Pages returns the incident's pages in the order they were claimed.
	Pages(incidentID int64) ([]Page, error)
	// AddPageToken records the hash of an ack link's token for a page,
	// valid until expires.
	AddPageToken(hash string, incidentID int64, page uint64, expires time.Time) error
	// PageToken returns the page a token hash was recorded for, or an
	// error wrapping ErrNotFound (unknown token).
	PageToken(hash string) (incidentID int64, page uint64, expires time.Time, err error)

	// AddOverride stores o, giving it an ID, and forgets the overrides
	// that ended more than a week before o.CreatedAt.
	AddOverride(o *Override) error
	// Overrides returns every stored override, by ID.
	Overrides() ([]Override, error)

	// ReplaceEntry replaces the stored timeline entry that has e's
	// IncidentID and ID with e, in its place in the append order: a
	// correction (the caller keeps the earlier version in e.History).
	// ErrNotFound if absent. Idempotent.
	ReplaceEntry(e *TimelineEntry) error
}

// DeliveryKind names what a delivery does in the chat.
type DeliveryKind string

// Delivery is one pending action for the chat (Slack), written in the same
// transaction as the change that caused it and removed once delivered.
type Delivery struct {
	ID         uint64       `json:"id"`
	IncidentID int64        `json:"incident_id"`
	Kind       DeliveryKind `json:"kind"`
	// Text and Ref carry what the kind needs (a message, a runbook name...).
	Text string `json:"text,omitempty"`
	Ref  string `json:"ref,omitempty"`
	// Actor is who caused it, for messages that say so.
	Actor     string    `json:"actor,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Attempts  int       `json:"attempts"`
	// NotBefore delays the next attempt (back-off, Retry-After).
	NotBefore time.Time `json:"not_before"`
	LastError string    `json:"last_error,omitempty"`
	// File is what the worker rendered for the chat to upload (a graph);
	// never stored.
	File []byte `json:"-"`
}
