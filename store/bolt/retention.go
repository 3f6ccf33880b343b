package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
)

// maxExamined bounds the incident headers one ExpiredIncidents call
// decodes, so that a file of many recent incidents costs each call the
// same.
const maxExamined = 2000

// ExpiredIncidents implements bot.Tx. It reads only the fields it needs
// of each header.
func (t *tx) ExpiredIncidents(cutoff time.Time, after int64, limit int) ([]int64, int64, error) {
	var ids []int64
	after = max(after, 0)
	c := t.btx.Bucket(bucketIncidents).Cursor()
	examined := 0
	for k, v := c.Seek(incidentKey(after + 1)); k != nil; k, v = c.Next() {
		id := int64(binary.BigEndian.Uint64(k))
		if (limit > 0 && len(ids) == limit) || examined == maxExamined {
			return ids, id - 1, nil
		}
		examined++
		var h struct {
			Status     bot.Status `json:"status"`
			ResolvedAt *time.Time `json:"resolved_at"`
		}
		if err := json.Unmarshal(v, &h); err != nil {
			return nil, 0, fmt.Errorf("bolt: decode incident %d: %w", id, err)
		}
		if h.Status == bot.StatusResolved && h.ResolvedAt != nil && h.ResolvedAt.Before(cutoff) {
			ids = append(ids, id)
		}
	}
	return ids, 0, nil
}

// DeleteIncident implements bot.Tx.
func (t *tx) DeleteIncident(id int64, max int) (bool, error) {
	if err := t.writable("DeleteIncident"); err != nil {
		return false, err
	}
	if max < 1 {
		max = 1
	}
	left := max
	for _, name := range [][]byte{bucketAlerts, bucketTimeline} {
		n, err := deletePrefix(t.btx.Bucket(name), incidentKey(id), left)
		if err != nil {
			return false, fmt.Errorf("bolt: delete %s of incident %d: %w", name, id, err)
		}
		if left -= n; left == 0 {
			return false, nil
		}
	}
	v := t.btx.Bucket(bucketIncidents).Get(incidentKey(id))
	if v == nil {
		return true, nil
	}
	inc, err := decodeIncident(v)
	if err != nil {
		return false, err
	}
	if err := t.deleteOnCall(id); err != nil {
		return false, err
	}
	if err := t.deleteChat(id); err != nil {
		return false, err
	}
	if inc.GroupKey != "" {
		if g, err := t.Group(inc.Receiver, inc.GroupKey); err == nil && g.Incident == id {
			if err := t.btx.Bucket(bucketGroups).Delete(groupKey(inc.Receiver, inc.GroupKey)); err != nil {
				return false, fmt.Errorf("bolt: delete group of incident %d: %w", id, err)
			}
		}
	}
	for _, name := range [][]byte{bucketOpen, bucketIncidents} {
		if err := t.btx.Bucket(name).Delete(incidentKey(id)); err != nil {
			return false, fmt.Errorf("bolt: delete incident %d: %w", id, err)
		}
	}
	return true, nil
}

// deletePrefix deletes up to max keys that start with prefix and returns
// how many it deleted. Keys are collected first: a bbolt cursor may skip
// keys deleted under it.
func deletePrefix(b *bolt.Bucket, prefix []byte, max int) (int, error) {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < max; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// deleteOnCall deletes an incident's escalation runs, its pages with their
// claims, and its ack tokens. An incident has a few of each: they are
// deleted in the transaction that deletes its header.
func (t *tx) deleteOnCall(id int64) error {
	prefix := incidentKey(id)
	if b := t.btx.Bucket(bucketPages); b != nil {
		keys := t.btx.Bucket(bucketPageKeys)
		var doomed [][]byte
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
			var p bot.Page
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("bolt: decode page of incident %d: %w", id, err)
			}
			if keys != nil {
				if err := keys.Delete([]byte(p.Key())); err != nil {
					return fmt.Errorf("bolt: delete page claim of incident %d: %w", id, err)
				}
			}
		}
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("bolt: delete page of incident %d: %w", id, err)
			}
		}
	}
	if b := t.btx.Bucket(bucketEscalations); b != nil {
		if _, err := deletePrefix(b, prefix, math.MaxInt); err != nil {
			return fmt.Errorf("bolt: delete escalations of incident %d: %w", id, err)
		}
	}
	if b := t.btx.Bucket(bucketPageTokens); b != nil {
		var doomed [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			if bytes.HasPrefix(v, prefix) {
				doomed = append(doomed, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("bolt: delete ack token of incident %d: %w", id, err)
			}
		}
	}
	return nil
}
