package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema's steps, NNNN_what.sql, applied in order, each
// in its own transaction, and recorded in schema_migrations.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Migration is one embedded schema step.
type Migration struct {
	Version int
	Name    string
	// Applied is false for a step this build has and the database not yet.
	Applied bool
}

func embedded() ([]Migration, map[int]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, nil, err
	}
	var out []Migration
	sql := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, nil, fmt.Errorf("postgres: migration %s: name is not NNNN_what.sql", base)
		}
		b, err := migrations.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := sql[v]; dup {
			return nil, nil, fmt.Errorf("postgres: two migrations numbered %d", v)
		}
		sql[v] = string(b)
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(base, ".sql")})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, sql, nil
}

// lockKey names the advisory lock that migrations take, per schema, so
// that replicas starting together apply each step once.
const lockSQL = "SELECT pg_advisory_lock(hashtext('incidentbot migrate ' || current_schema()))"
const unlockSQL = "SELECT pg_advisory_unlock(hashtext('incidentbot migrate ' || current_schema()))"

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version integer PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the embedded steps the database lacks, under an
// advisory lock, and returns the versions it applied. A database with a
// step this build does not know is refused (a newer build wrote it).
func (s *Store) Migrate(ctx context.Context) (applied []int, err error) {
	all, sql, err := embedded()
	if err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, lockSQL); err != nil {
		return nil, fmt.Errorf("postgres: migration lock: %w", unavailable(ctx, err))
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), unlockSQL) }()
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return nil, fmt.Errorf("postgres: create schema_migrations: %w", unavailable(ctx, err))
	}
	done, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	if err := tooNew(all, done); err != nil {
		return nil, err
	}
	for _, m := range all {
		if done[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sql[m.Version]); err != nil {
				return err
			}
			if step := goSteps[m.Version]; step != nil {
				if err := step(ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// MigrationStatus lists the embedded steps and whether each is applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]Migration, error) {
	all, _, err := embedded()
	if err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	defer conn.Release()
	done, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	for i := range all {
		all[i].Applied = done[all[i].Version]
	}
	return all, tooNew(all, done)
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, unavailable(ctx, err)
	}
	done := map[int]bool{}
	if !exists {
		return done, nil
	}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	for _, v := range vs {
		done[int(v)] = true
	}
	return done, nil
}

func tooNew(all []Migration, done map[int]bool) error {
	known := map[int]bool{}
	for _, m := range all {
		known[m.Version] = true
	}
	for v := range done {
		if !known[v] {
			return fmt.Errorf("postgres: the database has schema step %d, which this build does not know: it was written by a newer incidentbot", v)
		}
	}
	return nil
}
