package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/jackc/pgx/v5"
)

// Copied counts what CopyFrom wrote.
type Copied struct {
	Incidents, Alerts, Entries, Groups, Deliveries, Timers, Escalations, Pages, Overrides, Tokens, ChatRecords int
}

// TokenLister is a source that can list its ack links' token hashes, as
// bolt.Store can; a bot.Tx can only look one up.
type TokenLister interface {
	PageTokens(ctx context.Context, fn func(hash string, incidentID int64, page uint64, expires time.Time) error) error
}

type pageToken struct {
	hash     string
	incident int64
	page     uint64
	expires  time.Time
}

// CopyFrom copies everything src holds that a bot.Tx can list into this
// store, which must hold no incident yet: incidents keep their numbers,
// chat adapters' records (rooms indexed) and alerts (in their order), timelines their entry IDs, groups
// their state, and the outbox, timers, escalation runs, pages and
// overrides theirs, so that what was pending goes on. When src is a
// TokenLister, the ack links' token hashes that have not expired come
// along with their expiry, so links sent before the move still work. It
// is one transaction: on any error nothing is written. Not copied: the
// seen Slack event IDs (kept a day).
func (s *Store) CopyFrom(ctx context.Context, src bot.Store) (Copied, error) {
	var c Copied
	var (
		incs      []*bot.Incident
		timelines = map[int64][]bot.TimelineEntry{}
		escs      = map[int64][]bot.EscalationRun{}
		chat      = map[int64]map[string]bot.ChatRecord{}
		pages     = map[int64][]bot.Page{}
		groups    = map[[2]string]bot.GroupState{}
		outbox    []bot.Delivery
		timers    []bot.Timer
		overrides []bot.Override
	)
	err := src.View(ctx, func(tx bot.Tx) (err error) {
		if incs, err = tx.Incidents(bot.IncidentFilter{WithAlerts: true}); err != nil {
			return err
		}
		for _, inc := range incs {
			if timelines[inc.ID], err = tx.Timeline(inc.ID); err != nil {
				return err
			}
			if escs[inc.ID], err = tx.Escalations(inc.ID); err != nil {
				return err
			}
			if chat[inc.ID], err = tx.ChatRecords(inc.ID); err != nil {
				return err
			}
			if pages[inc.ID], err = tx.Pages(inc.ID); err != nil {
				return err
			}
			if inc.GroupKey != "" {
				k := [2]string{inc.Receiver, inc.GroupKey}
				g, err := tx.Group(inc.Receiver, inc.GroupKey)
				switch {
				case err == nil:
					groups[k] = g
				case !errors.Is(err, bot.ErrNotFound):
					return err
				}
			}
		}
		if outbox, err = tx.Pending(0); err != nil {
			return err
		}
		if timers, err = tx.DueTimers(time.Unix(0, math.MaxInt64), 0); err != nil {
			return err
		}
		overrides, err = tx.Overrides()
		return err
	})
	var tokens []pageToken
	if l, ok := src.(TokenLister); ok && err == nil {
		now := time.Now()
		err = l.PageTokens(ctx, func(hash string, incident int64, page uint64, expires time.Time) error {
			if expires.After(now) {
				tokens = append(tokens, pageToken{hash, incident, page, expires})
			}
			return nil
		})
	}
	if err != nil {
		return c, fmt.Errorf("read the source: %w", err)
	}

	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(ptx pgx.Tx) error {
		t := &tx{ctx: ctx, c: newTxn(ptx, ""), write: true}
		var n int
		if err := ptx.QueryRow(ctx, "SELECT count(*) FROM incidents").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: the destination holds %d incidents already; copy into an empty database", bot.ErrConflict, n)
		}
		// Oldest first, so that alert order numbers follow the source's.
		for i := len(incs) - 1; i >= 0; i-- {
			inc := incs[i]
			if err := t.putIncident(inc, true); err != nil {
				return err
			}
			digests := make([]bot.Digest, len(inc.Alerts))
			for j := range inc.Alerts {
				digests[j] = bot.AlertDigest(&inc.Alerts[j])
			}
			if err := t.PutAlerts(inc.ID, inc.Alerts, digests); err != nil {
				return err
			}
			c.Incidents++
			c.Alerts += len(inc.Alerts)
			for _, adapter := range slices.Sorted(maps.Keys(chat[inc.ID])) {
				if err := t.PutChatRecord(inc.ID, adapter, chat[inc.ID][adapter]); err != nil {
					return err
				}
				c.ChatRecords++
			}
			for _, e := range timelines[inc.ID] {
				if err := insertBody(t, "timeline", "INSERT INTO timeline (incident_id, id, body) VALUES ($1, $2, $3)", inc.ID, e.ID, e); err != nil {
					return err
				}
				c.Entries++
			}
			for _, e := range escs[inc.ID] {
				if err := insertBody(t, "escalation", "INSERT INTO escalations (incident_id, id, body) VALUES ($1, $2, $3)", inc.ID, e.ID, e); err != nil {
					return err
				}
				c.Escalations++
			}
			for _, p := range pages[inc.ID] {
				body, err := json.Marshal(p)
				if err != nil {
					return err
				}
				if _, err := t.exec("copy page", "INSERT INTO pages (incident_id, id, key, body) VALUES ($1, $2, $3, $4)",
					inc.ID, int64(p.ID), []byte(p.Key()), body); err != nil {
					return err
				}
				c.Pages++
			}
		}
		for k, g := range groups {
			if _, err := t.exec("copy group", "INSERT INTO groups (receiver, group_key, incident, rev, digest, open) VALUES ($1, $2, $3, $4, $5, $6)",
				[]byte(k[0]), []byte(k[1]), g.Incident, int64(g.Rev), g.Digest[:], g.Open); err != nil {
				return err
			}
			c.Groups++
		}
		for _, d := range outbox {
			body, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if _, err := t.exec("copy delivery", "INSERT INTO outbox (id, body) VALUES ($1, $2)", int64(d.ID), body); err != nil {
				return err
			}
			c.Deliveries++
		}
		for _, tm := range timers {
			body, err := json.Marshal(tm)
			if err != nil {
				return err
			}
			if _, err := t.exec("copy timer", "INSERT INTO timers (id, due_ns, body) VALUES ($1, $2, $3)", int64(tm.ID), ns(tm.Due), body); err != nil {
				return err
			}
			c.Timers++
		}
		for _, o := range overrides {
			body, err := json.Marshal(o)
			if err != nil {
				return err
			}
			if _, err := t.exec("copy override", "INSERT INTO overrides (id, end_ns, body) VALUES ($1, $2, $3)", int64(o.ID), ns(o.End), body); err != nil {
				return err
			}
			c.Overrides++
		}
		for _, k := range tokens {
			if err := t.AddPageToken(k.hash, k.incident, k.page, k.expires); err != nil {
				return err
			}
			c.Tokens++
		}
		// Numbers continue after the copied ones.
		for _, q := range []string{
			"UPDATE counters SET n = (SELECT coalesce(max(id), 0) FROM incidents) WHERE name = 'incident'",
			"SELECT setval('alert_seq', (SELECT coalesce(max(seq), 0) + 1 FROM alerts), false)",
			"SELECT setval('timeline_seq', (SELECT coalesce(max(id), 0) + 1 FROM timeline), false)",
			"SELECT setval(pg_get_serial_sequence('outbox', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM outbox), false)",
			"SELECT setval(pg_get_serial_sequence('timers', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM timers), false)",
			`SELECT setval('oncall_seq', (SELECT coalesce(max(m), 0) + 1 FROM (SELECT max(id) AS m FROM escalations
				UNION ALL SELECT max(id) FROM pages UNION ALL SELECT max(id) FROM overrides) AS x), false)`,
		} {
			if _, err := t.exec("continue numbering", q); err != nil {
				return err
			}
		}
		if _, err := t.run("copy", "", nil, nil); err != nil { // the writes that wait
			return err
		}
		return t.failed
	})
	if err != nil {
		return Copied{}, fmt.Errorf("write the copy: %w", err)
	}
	return c, nil
}

// insertBody inserts v's JSON as the body of the row (incident, id).
func insertBody(t *tx, what, sql string, incident int64, id uint64, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %d: %w", what, id, err)
	}
	_, err = t.exec("copy "+what, sql, incident, int64(id), body)
	return err
}
