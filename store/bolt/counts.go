package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
)

// OutboxStats returns how many deliveries wait in the outbox and when the
// oldest of them was enqueued (zero when there is none), for the gauges
// read at every scrape. The count comes from the bucket's page headers
// and the age from its first record: no delivery is decoded, so a scrape
// stays cheap while Slack is down and the outbox grows. Lower IDs were
// enqueued earlier, so the first record is the oldest.
//
// It is not part of bot.Store: it is the embedded store's own view, for
// main's metrics. Errors wrap bot.ErrUnavailable.
func (s *Store) OutboxStats() (depth int, oldest time.Time, err error) {
	err = s.read(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketOutbox)
		depth = b.Stats().KeyN
		k, v := b.Cursor().First()
		if k == nil {
			return nil
		}
		var d struct {
			CreatedAt time.Time `json:"created_at"`
		}
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("bolt: decode delivery: %w", err)
		}
		oldest = d.CreatedAt
		return nil
	})
	return depth, oldest, err
}

// OpenIncidents counts the incidents not resolved among the newest limit
// ones (all of them when limit <= 0), for a gauge read at every scrape.
// Each record is read only as far as its status, which comes before the
// alerts, so a storm incident of thousands of alerts costs no more than
// any other; limit bounds the rest. Errors wrap bot.ErrUnavailable.
func (s *Store) OpenIncidents(limit int) (int, error) {
	open := 0
	err := s.read(func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketIncidents).Cursor()
		seen := 0
		for k, v := c.Last(); k != nil && (limit <= 0 || seen < limit); k, v = c.Prev() {
			seen++
			st, err := incidentStatus(v)
			if err != nil {
				return err
			}
			if st != bot.StatusResolved {
				open++
			}
		}
		return nil
	})
	return open, err
}

// read runs fn in a bbolt read transaction, outside bot.Tx.
func (s *Store) read(fn func(btx *bolt.Tx) error) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return fmt.Errorf("%w: store is closed", bot.ErrUnavailable)
	}
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("%w: %w", bot.ErrUnavailable, err)
	}
	return nil
}

// incidentStatus reads an incident record's top-level "status" and stops
// there. Alerts carry a "status" too, which is why the record is walked
// token by token rather than searched. A record without one has the empty
// status, which is open, as bot.Incident.Open says.
func incidentStatus(v []byte) (bot.Status, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", errors.New("bolt: decode incident: not a JSON object")
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("bolt: decode incident: %w", err)
		}
		if k == "status" {
			var st bot.Status
			if err := dec.Decode(&st); err != nil {
				return "", fmt.Errorf("bolt: decode incident status: %w", err)
			}
			return st, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", fmt.Errorf("bolt: decode incident: %w", err)
		}
	}
	return "", nil
}
