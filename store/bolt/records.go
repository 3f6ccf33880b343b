package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
)

// maxPrune caps how many expired events one MarkEvent forgets, so that the
// first call after a long quiet spell does not hold every writer up.
// Each call adds one event and may forget this many: the record shrinks.
const maxPrune = 1000

// Append implements bot.Tx. An entry for an incident that does not exist is
// refused with bot.ErrNotFound: nothing could ever list it.
func (t *tx) Append(entries ...*bot.TimelineEntry) error {
	if err := t.writable("Append"); err != nil {
		return err
	}
	b := t.btx.Bucket(bucketTimeline)
	known, checked := int64(0), false
	for _, e := range entries {
		if !checked || e.IncidentID != known {
			if t.btx.Bucket(bucketIncidents).Get(incidentKey(e.IncidentID)) == nil {
				return fmt.Errorf("timeline entry for incident %d: %w", e.IncidentID, bot.ErrNotFound)
			}
			known, checked = e.IncidentID, true
		}
		seq, err := b.NextSequence()
		if err != nil {
			return fmt.Errorf("bolt: number timeline entry: %w", err)
		}
		rec := *e
		rec.ID = seq
		v, err := json.Marshal(&rec)
		if err != nil {
			return fmt.Errorf("encode timeline entry for incident %d: %w", e.IncidentID, err)
		}
		key := binary.BigEndian.AppendUint64(incidentKey(e.IncidentID), seq)
		if err := b.Put(key, v); err != nil {
			return fmt.Errorf("bolt: store timeline entry: %w", err)
		}
		e.ID = seq
	}
	return nil
}

// Timeline implements bot.Tx. Entry IDs grow with every append, so the key
// order under the incident's prefix is the append order. An incident
// without entries, or without existence, has an empty timeline.
func (t *tx) Timeline(incidentID int64) ([]bot.TimelineEntry, error) {
	out := []bot.TimelineEntry{}
	prefix := incidentKey(incidentID)
	c := t.btx.Bucket(bucketTimeline).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var e bot.TimelineEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("bolt: decode timeline entry of incident %d: %w", incidentID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// ReplaceEntry implements bot.Tx.
func (t *tx) ReplaceEntry(e *bot.TimelineEntry) error {
	if err := t.writable("ReplaceEntry"); err != nil {
		return err
	}
	b := t.btx.Bucket(bucketTimeline)
	key := binary.BigEndian.AppendUint64(incidentKey(e.IncidentID), e.ID)
	if b.Get(key) == nil {
		return fmt.Errorf("timeline entry %d of incident %d: %w", e.ID, e.IncidentID, bot.ErrNotFound)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode timeline entry %d: %w", e.ID, err)
	}
	if err := b.Put(key, v); err != nil {
		return fmt.Errorf("bolt: store timeline entry: %w", err)
	}
	return nil
}

// Enqueue implements bot.Tx.
func (t *tx) Enqueue(d *bot.Delivery) error {
	if err := t.writable("Enqueue"); err != nil {
		return err
	}
	seq, err := t.btx.Bucket(bucketOutbox).NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: number delivery: %w", err)
	}
	rec := *d
	rec.ID = seq
	if err := t.putDelivery(&rec); err != nil {
		return err
	}
	d.ID = seq
	return nil
}

// Pending implements bot.Tx; a limit of 0 or less means no limit.
func (t *tx) Pending(limit int) ([]bot.Delivery, error) { return t.PendingAfter(0, limit) }

// PendingAfter implements bot.Tx; a limit of 0 or less means no limit.
func (t *tx) PendingAfter(after uint64, limit int) ([]bot.Delivery, error) {
	out := []bot.Delivery{}
	c := t.btx.Bucket(bucketOutbox).Cursor()
	for k, v := c.Seek(u64(after + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		var d bot.Delivery
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("bolt: decode delivery %d: %w", binary.BigEndian.Uint64(k), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// SaveDelivery implements bot.Tx.
func (t *tx) SaveDelivery(d *bot.Delivery) error {
	if err := t.writable("SaveDelivery"); err != nil {
		return err
	}
	if t.btx.Bucket(bucketOutbox).Get(u64(d.ID)) == nil {
		return fmt.Errorf("delivery %d: %w", d.ID, bot.ErrNotFound)
	}
	return t.putDelivery(d)
}

func (t *tx) putDelivery(d *bot.Delivery) error {
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery %d: %w", d.ID, err)
	}
	if err := t.btx.Bucket(bucketOutbox).Put(u64(d.ID), v); err != nil {
		return fmt.Errorf("bolt: store delivery %d: %w", d.ID, err)
	}
	return nil
}

// Done implements bot.Tx.
func (t *tx) Done(id uint64) error {
	if err := t.writable("Done"); err != nil {
		return err
	}
	if err := t.btx.Bucket(bucketOutbox).Delete(u64(id)); err != nil {
		return fmt.Errorf("bolt: remove delivery %d: %w", id, err)
	}
	return nil
}

// timeKey encodes t so that byte order is time order, before 1970 too
// (flipping the sign bit maps int64 order onto uint64 order).
func timeKey(t time.Time) []byte { return u64(uint64(t.UnixNano()) ^ 1<<63) }

// MarkEvent implements bot.Tx. An event is remembered from the time it was
// first seen: seeing it again does not extend its stay.
func (t *tx) MarkEvent(id string, now time.Time, keep time.Duration) (bool, error) {
	if err := t.writable("MarkEvent"); err != nil {
		return false, err
	}
	if id == "" {
		return false, fmt.Errorf("%w: event id is empty", bot.ErrInvalid)
	}
	events, times := t.btx.Bucket(bucketEvents), t.btx.Bucket(bucketEventTimes)
	if err := pruneEvents(events, times, timeKey(now.Add(-keep))); err != nil {
		return false, err
	}
	if events.Get([]byte(id)) != nil {
		return false, nil
	}
	at := timeKey(now)
	if err := events.Put([]byte(id), at); err != nil {
		return false, fmt.Errorf("bolt: mark event %q: %w", id, err)
	}
	if err := times.Put(append(at[:8:8], id...), []byte{}); err != nil {
		return false, fmt.Errorf("bolt: mark event %q: %w", id, err)
	}
	return true, nil
}

// pruneEvents forgets events first seen before the time key before.
func pruneEvents(events, times *bolt.Bucket, before []byte) error {
	var expired [][]byte
	c := times.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], before) < 0 && len(expired) < maxPrune; k, _ = c.Next() {
		expired = append(expired, bytes.Clone(k))
	}
	// Deleting after the walk: bbolt cursors may skip keys deleted under them.
	for _, k := range expired {
		at, id := k[:8], k[8:]
		if err := times.Delete(k); err != nil {
			return fmt.Errorf("bolt: forget event %q: %w", id, err)
		}
		if bytes.Equal(events.Get(id), at) {
			if err := events.Delete(id); err != nil {
				return fmt.Errorf("bolt: forget event %q: %w", id, err)
			}
		}
	}
	return nil
}
