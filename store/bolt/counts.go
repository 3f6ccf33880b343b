package bolt

import (
	"encoding/json"
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

// OpenIncidents counts every incident not resolved, for a gauge read at
// every scrape. It counts the keys of the open index, which holds the open
// incidents alone: the cost follows how many are open, never the history.
// Errors wrap bot.ErrUnavailable.
func (s *Store) OpenIncidents() (int, error) {
	open := 0
	err := s.read(func(btx *bolt.Tx) error {
		open = btx.Bucket(bucketOpen).Stats().KeyN
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

// FileStats returns the size of the database file and how many bytes of
// it are free pages, which bbolt reuses for new writes before it grows the
// file: after retention deletes, the file stops growing until the free
// pages are used up; it never shrinks while open (see `bbolt compact`).
// Errors wrap bot.ErrUnavailable.
func (s *Store) FileStats() (size, free int64, err error) {
	if err := s.read(func(btx *bolt.Tx) error {
		size = btx.Size()
		return nil
	}); err != nil {
		return 0, 0, err
	}
	return size, int64(s.db.Stats().FreeAlloc), nil
}
