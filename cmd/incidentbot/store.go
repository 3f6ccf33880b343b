package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
	"github.com/incidentbot/incidentbot/store/postgres"
	"github.com/prometheus/client_golang/prometheus"
)

// appStore is what serve needs of a store beyond bot.Store: a readiness
// probe and a close.
type appStore interface {
	bot.Store
	Ping() error
	Close() error
}

// isPostgres reports whether INCIDENTBOT_DB names a PostgreSQL database
// rather than a bbolt file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// storeName is db for logs: a URL's password never shows.
func storeName(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

// openStore opens the store INCIDENTBOT_DB names and registers its
// metrics: a postgres:// URL selects PostgreSQL (schema migrated at start
// under an advisory lock), anything else is a bbolt file.
func openStore(ctx context.Context, db string, m *metrics) (appStore, error) {
	if !isPostgres(db) {
		s, err := bolt.Open(db, bolt.Options{OnCommit: m.onCommit})
		if err != nil {
			return nil, err
		}
		m.watchStore(s)
		return s, nil
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := postgres.Open(octx, db, postgres.Options{})
	if err != nil {
		return nil, err
	}
	m.reg.MustRegister(newStoreCollector(s, time.Now))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "incidentbot_store_connections",
		Help: "PostgreSQL connections the pool holds (PostgreSQL store only)."}, func() float64 { return float64(s.Pool().Stat().TotalConns()) }))
	return pgStore{s}, nil
}

// pgStore gives the PostgreSQL store the probe serve expects: one round
// trip with a deadline, so /readyz fails while the database is unreachable
// and recovers, without a restart, once the pool reconnects.
type pgStore struct{ *postgres.Store }

var _ leaser = pgStore{}

func (s pgStore) Ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.Store.Ping(ctx) != nil {
		// /readyz answers anyone: no host or user names in the reason.
		return fmt.Errorf("%w: database unreachable", bot.ErrUnavailable)
	}
	return nil
}
