package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// countTimeout bounds a scrape's queries.
const countTimeout = 2 * time.Second

// OutboxStats counts the deliveries waiting and returns the creation time
// of the oldest (lowest ID), for main's metrics. Errors wrap
// bot.ErrUnavailable.
func (s *Store) OutboxStats() (depth int, oldest time.Time, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&depth); err != nil {
		return 0, time.Time{}, unavailable(ctx, err)
	}
	var body []byte
	err = s.pool.QueryRow(ctx, "SELECT body FROM outbox ORDER BY id LIMIT 1").Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return depth, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, unavailable(ctx, err)
	}
	var d struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return 0, time.Time{}, fmt.Errorf("postgres: decode delivery: %w", err)
	}
	return depth, d.CreatedAt, nil
}

// OpenIncidents counts the incidents not resolved (an index holds them).
func (s *Store) OpenIncidents() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM incidents WHERE open").Scan(&n); err != nil {
		return 0, unavailable(ctx, err)
	}
	return n, nil
}

// FileStats has no meaning for a database: it always fails, and the
// file series are left out.
func (s *Store) FileStats() (size, free int64, err error) {
	return 0, 0, errors.New("postgres: no store file")
}
