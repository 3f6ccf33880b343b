// Package postgres is a bot.Store in PostgreSQL, for running several
// replicas of incidentbot against one database.
//
// Every Update is one SERIALIZABLE transaction; when PostgreSQL reports a
// serialization failure or a deadlock (40001, 40P01) fn runs again in a new
// transaction, as the bot.Store contract allows. Incident numbers come
// from a counter row taken in the same transaction, so they stay 1, 2,
// 3... without gaps: concurrent opens wait for each other. Unique keys make
// duplicates impossible whichever replica writes: one group row per
// (receiver, group key), one event row per event ID, one page per key.
//
// The schema is embedded (migrations/*.sql) and applied by Open under an
// advisory lock, so replicas starting together apply it once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var _ bot.Store = (*Store)(nil)

// Options tune a Store; the zero value is fine.
type Options struct {
	// Schema, when set, is the schema the store's tables live in (created
	// if absent), instead of the URL's search_path.
	Schema string
	// NoMigrate leaves the schema as it is, applied or not: for
	// `incidentbot migrate status`.
	NoMigrate bool
}

// Store is a bot.Store over a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	// wpool holds the writers' connections, so that a batch never waits
	// for a connection behind the Views of a webhook storm.
	wpool *pgxpool.Pool
	b     *batcher
	// onWake is what the lease holder calls on a NOTIFY (wake.go).
	onWake atomic.Pointer[func()]
}

// maxAttempts bounds how often fn runs for one Update when transactions
// keep conflicting.
const maxAttempts = 100

// defaultMaxConns is the pool size unless the URL sets pool_max_conns:
// the writers plus room for concurrent reads.
const defaultMaxConns = 16

// Open connects to url, applies the embedded migrations and returns the
// store. The URL is a PostgreSQL connection string (postgres://...).
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w: %w", bot.ErrInvalid, err)
	}
	if o.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = o.Schema
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (the CPU count, at least 4) leaves Views, most
		// of the webhook traffic, queueing behind the writers.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
	}
	s := &Store{pool: pool}
	if o.Schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{o.Schema}.Sanitize()); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: create schema %q: %w: %w", o.Schema, bot.ErrUnavailable, err)
		}
	}
	if !o.NoMigrate {
		_, err = s.Migrate(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	wcfg := pool.Config()
	wcfg.MaxConns, wcfg.MinConns = writers, 0
	if s.wpool, err = pgxpool.NewWithConfig(ctx, wcfg); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
	}
	s.startWriters()
	return s, nil
}

// Close finishes the Updates already queued, then closes the pool's
// connections. Later Updates fail with ErrUnavailable.
func (s *Store) Close() error {
	s.stopWriters()
	s.wpool.Close()
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers: for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
	}
	return nil
}

// Pool is the store's connection pool, for the lease and for tools.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// retryable reports whether a transaction failed only because it lost a
// race with another: then running it again is right.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// alone runs fn in transactions of its own until one commits, fn fails,
// or the conflicts go on too long.
func (s *Store) alone(ctx context.Context, fn func(tx bot.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
	}
	for attempt := 1; ; attempt++ {
		err, again := s.attempt(ctx, fn)
		if !again {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("postgres: %w: gave up after %d conflicting attempts: %w", bot.ErrUnavailable, attempt, err)
		}
		// A short random pause lets the winner finish.
		wait := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// attempt runs fn in one transaction; again reports a conflict worth a
// new attempt.
func (s *Store) attempt(ctx context.Context, fn func(tx bot.Tx) error) (err error, again bool) {
	c, err := s.acquire(ctx, s.wpool, beginWrite)
	if err != nil {
		return err, false
	}
	t := &tx{ctx: ctx, c: c, write: true}
	ferr := fn(t)
	if t.failed != nil || ferr != nil {
		_ = c.finish(ctx, false)
		if t.failed != nil {
			return unavailable(ctx, t.failed), retryable(t.failed)
		}
		return ferr, false
	}
	if err := c.finish(ctx, true); err != nil {
		return unavailable(ctx, err), retryable(err)
	}
	return nil, false
}

func unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
}

// View implements bot.Store: a read-only snapshot.
func (s *Store) View(ctx context.Context, fn func(tx bot.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
	}
	c, err := s.acquire(ctx, s.pool, beginRead)
	if err != nil {
		return err
	}
	t := &tx{ctx: ctx, c: c}
	ferr := fn(t)
	_ = c.finish(ctx, false)
	if t.failed != nil {
		return unavailable(ctx, t.failed)
	}
	return ferr
}

var _ bot.GroupPeeker = (*Store)(nil)

// PeekGroup implements bot.GroupPeeker: one statement, which sees one
// snapshot, on a connection of the read pool.
func (s *Store) PeekGroup(ctx context.Context, receiver, groupKey string) (g bot.GroupState, stored, open bool, err error) {
	if err := ctx.Err(); err != nil {
		return g, false, false, fmt.Errorf("postgres: %w: %w", bot.ErrUnavailable, err)
	}
	var digest []byte
	var latestOpen *bool
	err = s.pool.QueryRow(ctx, `SELECT g.incident, g.rev, g.digest, g.open, i.open
		FROM groups g LEFT JOIN incidents i ON i.id = g.incident WHERE g.receiver = $1 AND g.group_key = $2`,
		[]byte(receiver), []byte(groupKey)).Scan(&g.Incident, &g.Rev, &digest, &g.Open, &latestOpen)
	if errors.Is(err, pgx.ErrNoRows) {
		return g, false, false, fmt.Errorf("incident for receiver %q group_key %q: %w", receiver, groupKey, bot.ErrNotFound)
	}
	if err != nil {
		return g, false, false, unavailable(ctx, err)
	}
	copy(g.Digest[:], digest)
	if latestOpen != nil {
		stored, open = true, *latestOpen
	}
	return g, stored, open, nil
}
