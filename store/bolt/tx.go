package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The buckets. Keys holding numbers are 8-byte big-endian, so that bbolt's
// byte order is numeric order and cursors list by ID.
var (
	// incidents: id -> the incident's header, Incident JSON without its
	// alerts; its sequence numbers incidents.
	bucketIncidents = []byte("incidents")
	// alerts: incident id + fingerprint -> alertRecord (order, digest,
	// Alert JSON); its sequence orders alerts as first seen.
	bucketAlerts = []byte("alerts")
	// open: id -> nothing, for every incident not resolved, so that open
	// incidents are counted and listed without reading the others.
	bucketOpen = []byte("open")
	// groups: groupKey(receiver, groupKey) -> groupRecord (the group's
	// latest incident, revision, last notification's digest).
	bucketGroups = []byte("groups")
	// channels: Slack channel ID -> incident id, in version 2 files only
	// (rooms replaced it).
	bucketChannels = []byte("channels")
	// chat: incident id + adapter name -> bot.ChatRecord JSON, what each
	// chat adapter keeps for the incident.
	bucketChat = []byte("chat")
	// rooms: groupKey(adapter, room) -> incident id, for IncidentByRoom.
	bucketRooms = []byte("rooms")
	// timeline: incident id + entry id -> TimelineEntry JSON; its sequence
	// numbers entries, so IDs grow across all incidents.
	bucketTimeline = []byte("timeline")
	// outbox: delivery id -> Delivery JSON; its sequence numbers deliveries.
	bucketOutbox = []byte("outbox")
	// events: event ID -> time key when first seen.
	bucketEvents = []byte("events")
	// eventTimes: time key + event ID -> nothing, so the oldest events are
	// found, and forgotten, without scanning them all.
	bucketEventTimes = []byte("event_times")
	// meta: "version" -> the data format version.
	bucketMeta = []byte("meta")
)

// schemaVersion is the data format this code reads and writes. A change
// that older code would misread must raise it. Version 1 kept each
// incident's alerts inside its record; version 2 keeps them beside it.
// Version 2 also kept Slack's state (channel, message IDs, what it showed)
// inside the incident record, with a channel index; version 3 keeps it in
// the Slack adapter's chat record beside it, indexed by room.
const schemaVersion = 3

var keyVersion = []byte("version")

// initSchema creates the buckets of a new file, moves an older format's
// data to this one, and refuses a file written by a newer format it would
// misread.
func initSchema(btx *bolt.Tx) error {
	for _, name := range [][]byte{bucketIncidents, bucketAlerts, bucketOpen, bucketGroups, bucketChat, bucketRooms, bucketTimeline,
		bucketOutbox, bucketEvents, bucketEventTimes, bucketMeta} {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := btx.Bucket(bucketMeta)
	v := meta.Get(keyVersion)
	if v == nil {
		return meta.Put(keyVersion, u64(schemaVersion))
	}
	if len(v) != 8 || binary.BigEndian.Uint64(v) > schemaVersion {
		return fmt.Errorf("data format version %x is newer than this build reads (%d)", v, schemaVersion)
	}
	// Slack's fields first: the move of the alerts decodes the records as
	// this build's Incident, which would drop them.
	if binary.BigEndian.Uint64(v) < 3 {
		if err := moveChatOut(btx); err != nil {
			return fmt.Errorf("move Slack state out of incident records: %w", err)
		}
	}
	if binary.BigEndian.Uint64(v) < 2 {
		if err := migrateAlertsOut(btx); err != nil {
			return fmt.Errorf("move alerts out of incident records: %w", err)
		}
	}
	return meta.Put(keyVersion, u64(schemaVersion))
}

// tx implements bot.Tx over one bbolt transaction.
type tx struct {
	btx *bolt.Tx
	// wrote is set by the first write method called: a batch that wrote
	// nothing has nothing to sync, and the writer rolls it back.
	wrote bool
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func incidentKey(id int64) []byte { return u64(uint64(id)) }

// groupKey joins receiver and group key, the receiver length first so that
// ("ab", "c") and ("a", "bc") stay apart whatever bytes they hold.
func groupKey(receiver, key string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(receiver)+len(key)), uint64(len(receiver)))
	return append(append(b, receiver...), key...)
}

// writable guards the write methods: bbolt would refuse the write too, but
// only after a sequence number or a decode, and with a vaguer message. It
// also marks the transaction as written (even if the method then changes
// nothing, which only costs a commit).
func (t *tx) writable(method string) error {
	if !t.btx.Writable() {
		return fmt.Errorf("bolt: %s inside View: %w", method, berrors.ErrTxNotWritable)
	}
	t.wrote = true
	return nil
}

func decodeIncident(v []byte) (*bot.Incident, error) {
	inc := new(bot.Incident)
	if err := json.Unmarshal(v, inc); err != nil {
		return nil, fmt.Errorf("bolt: decode incident: %w", err)
	}
	return inc, nil
}

// IncidentHeader implements bot.Tx.
func (t *tx) IncidentHeader(id int64) (*bot.Incident, error) {
	v := t.btx.Bucket(bucketIncidents).Get(incidentKey(id))
	if v == nil {
		return nil, fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
	}
	return decodeIncident(v)
}

// Incident implements bot.Tx.
func (t *tx) Incident(id int64) (*bot.Incident, error) {
	inc, err := t.IncidentHeader(id)
	if err != nil {
		return nil, err
	}
	if inc.Alerts, err = t.alerts(id); err != nil {
		return nil, err
	}
	return inc, nil
}

// LatestInGroup implements bot.Tx.
func (t *tx) LatestInGroup(receiver, key string) (*bot.Incident, error) {
	g, err := t.Group(receiver, key)
	if err != nil {
		return nil, err
	}
	return t.Incident(g.Incident)
}

// Incidents implements bot.Tx, walking the IDs backwards from f.Before:
// those of the open index when only open incidents are asked for.
func (t *tx) Incidents(f bot.IncidentFilter) ([]*bot.Incident, error) {
	out := []*bot.Incident{}
	if f.Before < 0 {
		return out, nil
	}
	onlyOpen := f.Open != nil && *f.Open
	b := t.btx.Bucket(bucketIncidents)
	c := b.Cursor()
	if onlyOpen {
		c = t.btx.Bucket(bucketOpen).Cursor()
	}
	for k, v := lastBefore(c, f.Before); k != nil; k, v = c.Prev() {
		if onlyOpen {
			v = b.Get(k)
		}
		inc, err := decodeIncident(v)
		if err != nil {
			return nil, err
		}
		if f.Open != nil && inc.Open() != *f.Open {
			continue
		}
		if f.WithAlerts {
			if inc.Alerts, err = t.alerts(inc.ID); err != nil {
				return nil, err
			}
		}
		out = append(out, inc)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// lastBefore moves c to the last incident with an ID below before, or to
// the last of all when before is 0.
func lastBefore(c *bolt.Cursor, before int64) (k, v []byte) {
	if before == 0 {
		return c.Last()
	}
	// Seek lands on the first ID >= before, or nowhere if all are smaller.
	if k, _ = c.Seek(incidentKey(before)); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// CreateIncident implements bot.Tx. The number comes from the bucket's
// sequence, which rolls back with the transaction: a failed Update leaves
// no gap.
func (t *tx) CreateIncident(inc *bot.Incident) error {
	if err := t.writable("CreateIncident"); err != nil {
		return err
	}
	b := t.btx.Bucket(bucketIncidents)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: number incident: %w", err)
	}
	rec := *inc
	rec.ID = int64(seq)
	if err := t.putIncident(&rec, true); err != nil {
		return err
	}
	if rec.GroupKey != "" {
		if err := t.newGroupIncident(rec.Receiver, rec.GroupKey, rec.ID); err != nil {
			return err
		}
	}
	if len(rec.Alerts) > 0 {
		digests := make([]bot.Digest, len(rec.Alerts))
		for i := range rec.Alerts {
			digests[i] = bot.AlertDigest(&rec.Alerts[i])
		}
		if err := t.PutAlerts(rec.ID, rec.Alerts, digests); err != nil {
			return err
		}
	}
	inc.ID = rec.ID
	return nil
}

// UpdateIncident implements bot.Tx.
func (t *tx) UpdateIncident(inc *bot.Incident) error {
	if err := t.writable("UpdateIncident"); err != nil {
		return err
	}
	v := t.btx.Bucket(bucketIncidents).Get(incidentKey(inc.ID))
	if v == nil {
		return fmt.Errorf("incident %d: %w", inc.ID, bot.ErrNotFound)
	}
	var old struct {
		Status bot.Status `json:"status"`
	}
	if err := json.Unmarshal(v, &old); err != nil {
		return fmt.Errorf("bolt: decode incident %d: %w", inc.ID, err)
	}
	return t.putIncident(inc, old.Status != bot.StatusResolved)
}

// putIncident stores inc's header and keeps the open index in step; wasOpen
// says whether the index has it now.
func (t *tx) putIncident(inc *bot.Incident, wasOpen bool) error {
	h := *inc
	h.Alerts = nil
	v, err := json.Marshal(&h)
	if err != nil {
		return fmt.Errorf("encode incident %d: %w", inc.ID, err)
	}
	if err := t.btx.Bucket(bucketIncidents).Put(incidentKey(inc.ID), v); err != nil {
		return fmt.Errorf("bolt: store incident %d: %w", inc.ID, err)
	}
	open := t.btx.Bucket(bucketOpen)
	switch {
	case inc.Open():
		err = open.Put(incidentKey(inc.ID), []byte{})
	case wasOpen:
		err = open.Delete(incidentKey(inc.ID))
	}
	if err != nil {
		return fmt.Errorf("bolt: index incident %d as open: %w", inc.ID, err)
	}
	return nil
}
