package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/incidentbot/incidentbot/store/bolt"
	"github.com/incidentbot/incidentbot/store/postgres"
)

const copyStoreUsage = `usage: incidentbot copy-store --from FILE --to URL

Copies a bbolt store (stop the service first: the file is locked while it
runs) into an empty PostgreSQL database, migrating its schema first.
Incidents keep their numbers and channels; timelines, groups, the outbox,
timers, pages, overrides and the hashes of unexpired ack-link tokens come
along, so ack links sent before the move keep working.
`

func copyStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("incidentbot copy-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, copyStoreUsage) }
	from := fs.String("from", "", "the bbolt file to copy from")
	to := fs.String("to", "", "the postgres:// URL to copy into")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitCode(2)
	}
	if *from == "" || !isPostgres(*to) || fs.NArg() > 0 {
		fmt.Fprint(stderr, copyStoreUsage)
		return exitCode(2)
	}
	if _, err := os.Stat(*from); err != nil {
		return fmt.Errorf("copy-store: %w", err) // bolt.Open would create it
	}
	src, err := bolt.Open(*from, bolt.Options{})
	if err != nil {
		return fmt.Errorf("open %s: %w", *from, err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to, postgres.Options{})
	if err != nil {
		return fmt.Errorf("open %s: %w", storeName(*to), err)
	}
	defer dst.Close()
	c, err := dst.CopyFrom(ctx, src)
	if err != nil {
		return fmt.Errorf("copy-store: %w", err)
	}
	fmt.Fprintf(stdout, "copied %d incidents (%d alerts, %d timeline entries, %d chat records, %d groups), %d pending deliveries, %d timers, %d escalation runs, %d pages, %d overrides, %d ack links into %s\n",
		c.Incidents, c.Alerts, c.Entries, c.ChatRecords, c.Groups, c.Deliveries, c.Timers, c.Escalations, c.Pages, c.Overrides, c.Tokens, storeName(*to))
	return nil
}
