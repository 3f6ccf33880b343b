package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/incidentbot/incidentbot/store/postgres"
)

const migrateUsage = `usage: incidentbot migrate up|status [-db URL]

  up      apply the schema steps this build has and the database lacks
          (serve does the same at start; this is for running it as its own step)
  status  list the schema steps and whether each is applied

The database is INCIDENTBOT_DB (or -db): a postgres:// URL. A bbolt file
needs no migrate: it upgrades itself when opened.
`

// migrate is `incidentbot migrate`: the PostgreSQL schema as a separate
// step, for operators who do not let the service change it at start.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "status") {
		fmt.Fprint(stderr, migrateUsage)
		return exitCode(2)
	}
	cmd := args[0]
	fs := flag.NewFlagSet("incidentbot migrate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, migrateUsage) }
	db := fs.String("db", getenv("INCIDENTBOT_DB"), "the PostgreSQL URL (env INCIDENTBOT_DB)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitCode(2)
	}
	if !isPostgres(*db) {
		fmt.Fprintf(stderr, "incidentbot migrate: INCIDENTBOT_DB is %q, not a postgres:// URL; a bbolt file upgrades itself when opened\n", *db)
		return exitCode(2)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, *db, postgres.Options{NoMigrate: true})
	if err != nil {
		return fmt.Errorf("open %s: %w", storeName(*db), err)
	}
	defer s.Close()
	if cmd == "up" {
		applied, err := s.Migrate(ctx)
		for _, v := range applied {
			fmt.Fprintf(stdout, "applied step %04d\n", v)
		}
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "the schema is up to date")
		}
		return nil
	}
	steps, err := s.MigrationStatus(ctx)
	for _, m := range steps {
		state := "pending"
		if m.Applied {
			state = "applied"
		}
		fmt.Fprintf(stdout, "%-30s %s\n", m.Name, state)
	}
	return err
}
