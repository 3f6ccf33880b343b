package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
)

// The on-call buckets. They are created by the first write that needs
// them (older files do not have them), and a read of a missing one finds
// nothing.
var (
	// timers: timer id -> Timer JSON; its sequence numbers timers.
	bucketTimers = []byte("timers")
	// timer_due: due key + timer id -> nothing: the index by due time, so
	// the next timer is the first key whatever the number pending.
	bucketTimerDue = []byte("timer_due")
	// escalations: incident id + run id -> EscalationRun JSON.
	bucketEscalations = []byte("escalations")
	// pages: incident id + page id -> Page JSON.
	bucketPages = []byte("pages")
	// page_keys: Page.Key() -> incident id + page id, the claims.
	bucketPageKeys = []byte("page_keys")
	// page_tokens: token hash -> incident id + page id + expiry key.
	bucketPageTokens = []byte("page_tokens")
	// overrides: override id -> Override JSON.
	bucketOverrides = []byte("overrides")
)

// dueKey encodes t so that byte order is time order, before 1970 too.
func dueKey(t time.Time) []byte { return u64(uint64(t.UnixNano()) ^ 1<<63) }

func pair(a int64, b uint64) []byte { return binary.BigEndian.AppendUint64(u64(uint64(a)), b) }

// bucket returns a write transaction's bucket, creating it when missing.
func (t *tx) bucket(name []byte) (*bolt.Bucket, error) {
	b, err := t.btx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, fmt.Errorf("bolt: bucket %s: %w", name, err)
	}
	return b, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any, what string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if err := b.Put(key, data); err != nil {
		return fmt.Errorf("bolt: store %s: %w", what, err)
	}
	return nil
}

// AddTimer implements bot.Tx.
func (t *tx) AddTimer(tm *bot.Timer) error {
	if err := t.writable("AddTimer"); err != nil {
		return err
	}
	b, err := t.bucket(bucketTimers)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: number timer: %w", err)
	}
	rec := *tm
	rec.ID = seq
	if err := t.putTimer(&rec); err != nil {
		return err
	}
	tm.ID = seq
	return nil
}

func (t *tx) putTimer(tm *bot.Timer) error {
	b, err := t.bucket(bucketTimers)
	if err != nil {
		return err
	}
	due, err := t.bucket(bucketTimerDue)
	if err != nil {
		return err
	}
	if err := putJSON(b, u64(tm.ID), tm, fmt.Sprintf("timer %d", tm.ID)); err != nil {
		return err
	}
	return due.Put(append(dueKey(tm.Due), u64(tm.ID)...), []byte{})
}

func (t *tx) timer(id uint64) (*bot.Timer, error) {
	b := t.btx.Bucket(bucketTimers)
	if b == nil {
		return nil, fmt.Errorf("timer %d: %w", id, bot.ErrNotFound)
	}
	v := b.Get(u64(id))
	if v == nil {
		return nil, fmt.Errorf("timer %d: %w", id, bot.ErrNotFound)
	}
	tm := new(bot.Timer)
	if err := json.Unmarshal(v, tm); err != nil {
		return nil, fmt.Errorf("bolt: decode timer %d: %w", id, err)
	}
	return tm, nil
}

// DueTimers implements bot.Tx; a limit of 0 or less means no limit.
func (t *tx) DueTimers(now time.Time, limit int) ([]bot.Timer, error) {
	out := []bot.Timer{}
	due := t.btx.Bucket(bucketTimerDue)
	if due == nil {
		return out, nil
	}
	end := dueKey(now)
	c := due.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) <= 0 && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
		tm, err := t.timer(binary.BigEndian.Uint64(k[8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, *tm)
	}
	return out, nil
}

// TimersAfter implements bot.Tx.
func (t *tx) TimersAfter(after *bot.Timer, until time.Time, limit int) ([]bot.Timer, error) {
	out := []bot.Timer{}
	due := t.btx.Bucket(bucketTimerDue)
	if due == nil {
		return out, nil
	}
	end := dueKey(until)
	c := due.Cursor()
	k, _ := c.First()
	if after != nil {
		from := append(dueKey(after.Due), u64(after.ID)...)
		if k, _ = c.Seek(from); k != nil && bytes.Equal(k, from) {
			k, _ = c.Next()
		}
	}
	for ; k != nil && bytes.Compare(k[:8], end) <= 0 && len(out) < limit; k, _ = c.Next() {
		tm, err := t.timer(binary.BigEndian.Uint64(k[8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, *tm)
	}
	return out, nil
}

// NextTimer implements bot.Tx.
func (t *tx) NextTimer() (*bot.Timer, error) {
	if due := t.btx.Bucket(bucketTimerDue); due != nil {
		if k, _ := due.Cursor().First(); k != nil {
			return t.timer(binary.BigEndian.Uint64(k[8:]))
		}
	}
	return nil, fmt.Errorf("no timer: %w", bot.ErrNotFound)
}

// SaveTimer implements bot.Tx.
func (t *tx) SaveTimer(tm *bot.Timer) error {
	if err := t.writable("SaveTimer"); err != nil {
		return err
	}
	old, err := t.timer(tm.ID)
	if err != nil {
		return err
	}
	if err := t.btx.Bucket(bucketTimerDue).Delete(append(dueKey(old.Due), u64(old.ID)...)); err != nil {
		return fmt.Errorf("bolt: move timer %d: %w", tm.ID, err)
	}
	return t.putTimer(tm)
}

// DeleteTimer implements bot.Tx.
func (t *tx) DeleteTimer(id uint64) error {
	if err := t.writable("DeleteTimer"); err != nil {
		return err
	}
	old, err := t.timer(id)
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := t.btx.Bucket(bucketTimerDue).Delete(append(dueKey(old.Due), u64(id)...)); err != nil {
		return fmt.Errorf("bolt: remove timer %d: %w", id, err)
	}
	if err := t.btx.Bucket(bucketTimers).Delete(u64(id)); err != nil {
		return fmt.Errorf("bolt: remove timer %d: %w", id, err)
	}
	return nil
}

// CreateEscalation implements bot.Tx.
func (t *tx) CreateEscalation(e *bot.EscalationRun) error {
	if err := t.writable("CreateEscalation"); err != nil {
		return err
	}
	b, err := t.bucket(bucketEscalations)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: number escalation: %w", err)
	}
	rec := *e
	rec.ID = seq
	if err := putJSON(b, pair(rec.IncidentID, seq), &rec, fmt.Sprintf("escalation %d", seq)); err != nil {
		return err
	}
	e.ID = seq
	return nil
}

// SaveEscalation implements bot.Tx.
func (t *tx) SaveEscalation(e *bot.EscalationRun) error {
	if err := t.writable("SaveEscalation"); err != nil {
		return err
	}
	b := t.btx.Bucket(bucketEscalations)
	if b == nil || b.Get(pair(e.IncidentID, e.ID)) == nil {
		return fmt.Errorf("escalation %d of incident %d: %w", e.ID, e.IncidentID, bot.ErrNotFound)
	}
	return putJSON(b, pair(e.IncidentID, e.ID), e, fmt.Sprintf("escalation %d", e.ID))
}

// Escalations implements bot.Tx.
func (t *tx) Escalations(incidentID int64) ([]bot.EscalationRun, error) {
	out := []bot.EscalationRun{}
	err := t.scan(bucketEscalations, incidentID, func(v []byte) error {
		var e bot.EscalationRun
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("bolt: decode escalation of incident %d: %w", incidentID, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// scan calls fn with every value of an incident-prefixed bucket.
func (t *tx) scan(name []byte, incidentID int64, fn func(v []byte) error) error {
	b := t.btx.Bucket(name)
	if b == nil {
		return nil
	}
	prefix := incidentKey(incidentID)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// ClaimPage implements bot.Tx.
func (t *tx) ClaimPage(p *bot.Page) (bool, error) {
	if err := t.writable("ClaimPage"); err != nil {
		return false, err
	}
	keys, err := t.bucket(bucketPageKeys)
	if err != nil {
		return false, err
	}
	if keys.Get([]byte(p.Key())) != nil {
		return false, nil
	}
	b, err := t.bucket(bucketPages)
	if err != nil {
		return false, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return false, fmt.Errorf("bolt: number page: %w", err)
	}
	rec := *p
	rec.ID = seq
	key := pair(rec.IncidentID, seq)
	if err := putJSON(b, key, &rec, fmt.Sprintf("page %d", seq)); err != nil {
		return false, err
	}
	if err := keys.Put([]byte(p.Key()), key); err != nil {
		return false, fmt.Errorf("bolt: claim page: %w", err)
	}
	p.ID = seq
	return true, nil
}

// SavePage implements bot.Tx.
func (t *tx) SavePage(p *bot.Page) error {
	if err := t.writable("SavePage"); err != nil {
		return err
	}
	b := t.btx.Bucket(bucketPages)
	if b == nil || b.Get(pair(p.IncidentID, p.ID)) == nil {
		return fmt.Errorf("page %d of incident %d: %w", p.ID, p.IncidentID, bot.ErrNotFound)
	}
	return putJSON(b, pair(p.IncidentID, p.ID), p, fmt.Sprintf("page %d", p.ID))
}

// Page implements bot.Tx.
func (t *tx) Page(incidentID int64, id uint64) (*bot.Page, error) {
	b := t.btx.Bucket(bucketPages)
	var v []byte
	if b != nil {
		v = b.Get(pair(incidentID, id))
	}
	if v == nil {
		return nil, fmt.Errorf("page %d of incident %d: %w", id, incidentID, bot.ErrNotFound)
	}
	p := new(bot.Page)
	if err := json.Unmarshal(v, p); err != nil {
		return nil, fmt.Errorf("bolt: decode page %d: %w", id, err)
	}
	return p, nil
}

// Pages implements bot.Tx.
func (t *tx) Pages(incidentID int64) ([]bot.Page, error) {
	out := []bot.Page{}
	err := t.scan(bucketPages, incidentID, func(v []byte) error {
		var p bot.Page
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("bolt: decode page of incident %d: %w", incidentID, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// AddPageToken implements bot.Tx.
func (t *tx) AddPageToken(hash string, incidentID int64, page uint64, expires time.Time) error {
	if err := t.writable("AddPageToken"); err != nil {
		return err
	}
	if hash == "" {
		return fmt.Errorf("%w: token hash is empty", bot.ErrInvalid)
	}
	b, err := t.bucket(bucketPageTokens)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(hash), append(pair(incidentID, page), dueKey(expires)...)); err != nil {
		return fmt.Errorf("bolt: store page token: %w", err)
	}
	return nil
}

// PageToken implements bot.Tx.
func (t *tx) PageToken(hash string) (int64, uint64, time.Time, error) {
	var v []byte
	if b := t.btx.Bucket(bucketPageTokens); b != nil && hash != "" {
		v = b.Get([]byte(hash))
	}
	if len(v) != 24 {
		return 0, 0, time.Time{}, fmt.Errorf("ack link: %w", bot.ErrNotFound)
	}
	incident, page, exp := decodePageToken(v)
	return incident, page, exp, nil
}

// decodePageToken reads a token's 24-byte record: incident, page, expiry.
func decodePageToken(v []byte) (int64, uint64, time.Time) {
	exp := time.Unix(0, int64(binary.BigEndian.Uint64(v[16:])^1<<63)).UTC()
	return int64(binary.BigEndian.Uint64(v[:8])), binary.BigEndian.Uint64(v[8:16]), exp
}

// AddOverride implements bot.Tx.
func (t *tx) AddOverride(o *bot.Override) error {
	if err := t.writable("AddOverride"); err != nil {
		return err
	}
	b, err := t.bucket(bucketOverrides)
	if err != nil {
		return err
	}
	old, err := t.Overrides()
	if err != nil {
		return err
	}
	for _, e := range old {
		if e.End.Before(o.CreatedAt.Add(-7 * 24 * time.Hour)) {
			if err := b.Delete(u64(e.ID)); err != nil {
				return fmt.Errorf("bolt: forget override %d: %w", e.ID, err)
			}
		}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: number override: %w", err)
	}
	rec := *o
	rec.ID = seq
	if err := putJSON(b, u64(seq), &rec, fmt.Sprintf("override %d", seq)); err != nil {
		return err
	}
	o.ID = seq
	return nil
}

// Overrides implements bot.Tx.
func (t *tx) Overrides() ([]bot.Override, error) {
	out := []bot.Override{}
	b := t.btx.Bucket(bucketOverrides)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		var o bot.Override
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("bolt: decode override: %w", err)
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// PageTokens calls fn with every ack link's token hash (as stored: the
// token itself is never kept), its incident, page and expiry, for
// copy-store. bot.Tx can look a hash up but not list them.
func (s *Store) PageTokens(ctx context.Context, fn func(hash string, incidentID int64, page uint64, expires time.Time) error) error {
	return s.View(ctx, func(btx bot.Tx) error {
		b := btx.(*tx).btx.Bucket(bucketPageTokens)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) != 24 {
				return fmt.Errorf("bolt: page token record of %d bytes, want 24", len(v))
			}
			incident, page, exp := decodePageToken(v)
			return fn(string(k), incident, page, exp)
		})
	})
}
