package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tx is one bot.Tx over a database transaction (txn), which the tx of
// every fn of a batch share. The first database error is kept in failed:
// the transaction is aborted from then on, and Update reports it
// (ErrUnavailable, or runs fn again after a conflict) whatever fn made of
// it.
type tx struct {
	ctx    context.Context
	c      *txn
	write  bool
	failed error
}

var errReadOnly = errors.New("postgres: write inside View")

func (t *tx) writable(method string) error {
	if !t.write {
		return fmt.Errorf("%s: %w", method, errReadOnly)
	}
	return nil
}

// fail records a database error and returns it wrapped for fn.
func (t *tx) fail(what string, err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return fmt.Errorf("postgres: %s: %w: %w", what, bot.ErrUnavailable, err)
}

func (t *tx) exec(what, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.run(what, sql, args, nil)
}

// row scans one row; found is false (and err nil) when there is none.
func (t *tx) row(what, sql string, args []any, dest ...any) (found bool, err error) {
	_, err = t.run(what, sql, args, func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		found = true
		return rows.Scan(dest...)
	})
	if err != nil && t.failed == nil {
		return false, t.fail(what, err) // a scan error: the row is not what the schema says
	}
	return found, err
}

// bodies runs a query whose rows are (id, JSON body) and decodes each
// body into a new T, setting its ID with setID.
func bodies[T any](t *tx, what, sql string, args []any, setID func(*T, int64)) ([]T, error) {
	out := []T{}
	_, err := t.run(what, sql, args, func(rows pgx.Rows) error {
		var id int64
		var body []byte
		_, err := pgx.ForEachRow(rows, []any{&id, &body}, func() error {
			var v T
			if err := json.Unmarshal(body, &v); err != nil {
				return fmt.Errorf("postgres: decode %s %d: %w", what, id, err)
			}
			setID(&v, id)
			out = append(out, v)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func ns(at time.Time) int64 { return at.UnixNano() }

func fromNS(v int64) time.Time { return time.Unix(0, v).UTC() }

// Incidents.

func (t *tx) IncidentHeader(id int64) (*bot.Incident, error) {
	if known, ok := t.c.known[id]; ok && (!known || t.c.heads[id] != nil) {
		if !known {
			return nil, fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
		}
		return decodeIncident(id, t.c.heads[id])
	}
	var body []byte
	found, err := t.row("read incident", "SELECT body FROM incidents WHERE id = $1", []any{id}, &body)
	if err != nil {
		return nil, err
	}
	if !found {
		t.c.setAbsent(id)
		return nil, fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
	}
	t.c.setHead(id, body)
	return decodeIncident(id, body)
}

func decodeIncident(id int64, body []byte) (*bot.Incident, error) {
	inc := new(bot.Incident)
	if err := json.Unmarshal(body, inc); err != nil {
		return nil, fmt.Errorf("postgres: decode incident %d: %w", id, err)
	}
	inc.ID = id
	inc.Alerts = nil
	return inc, nil
}

func (t *tx) Incident(id int64) (*bot.Incident, error) {
	inc, err := t.IncidentHeader(id)
	if err != nil {
		return nil, err
	}
	if inc.Alerts, err = t.alerts(id); err != nil {
		return nil, err
	}
	return inc, nil
}

func (t *tx) alerts(id int64) ([]bot.Alert, error) {
	all, err := bodies(t, "alert", "SELECT seq, body FROM alerts WHERE incident_id = $1 ORDER BY seq", []any{id},
		func(*bot.Alert, int64) {})
	if len(all) == 0 {
		return nil, err
	}
	return all, err
}

func (t *tx) LatestInGroup(receiver, groupKey string) (*bot.Incident, error) {
	g, err := t.Group(receiver, groupKey)
	if err != nil {
		return nil, err
	}
	return t.Incident(g.Incident)
}

func (t *tx) Incidents(f bot.IncidentFilter) ([]*bot.Incident, error) {
	if f.Before < 0 {
		return []*bot.Incident{}, nil
	}
	sql := "SELECT id, body FROM incidents WHERE ($1::boolean IS NULL OR open = $1) AND ($2 = 0 OR id < $2) ORDER BY id DESC"
	args := []any{f.Open, f.Before}
	if f.Limit > 0 {
		sql += " LIMIT $3"
		args = append(args, f.Limit)
	}
	out := []*bot.Incident{}
	_, err := t.run("list incidents", sql, args, func(rows pgx.Rows) error {
		var id int64
		var body []byte
		_, err := pgx.ForEachRow(rows, []any{&id, &body}, func() error {
			inc, err := decodeIncident(id, body)
			out = append(out, inc)
			return err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if f.WithAlerts {
		for _, inc := range out {
			if inc.Alerts, err = t.alerts(inc.ID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (t *tx) CreateIncident(inc *bot.Incident) error {
	if err := t.writable("CreateIncident"); err != nil {
		return err
	}
	var id int64
	if _, err := t.row("number incident", "UPDATE counters SET n = n + 1 WHERE name = 'incident' RETURNING n", nil, &id); err != nil {
		return err
	}
	rec := *inc
	rec.ID = id
	if err := t.putIncident(&rec, true); err != nil {
		return err
	}
	if rec.GroupKey != "" {
		if err := t.later("index incident by group", `INSERT INTO groups (receiver, group_key, incident, rev, digest, open)
			VALUES ($1, $2, $3, 1, $4, false)
			ON CONFLICT (receiver, group_key) DO UPDATE SET incident = excluded.incident, rev = groups.rev + 1,
				digest = excluded.digest, open = false`,
			[]byte(rec.Receiver), []byte(rec.GroupKey), id, make([]byte, len(bot.Digest{}))); err != nil {
			return err
		}
		t.c.groups[groupID{rec.Receiver, rec.GroupKey}] = true
	}
	if len(rec.Alerts) > 0 {
		digests := make([]bot.Digest, len(rec.Alerts))
		for i := range rec.Alerts {
			digests[i] = bot.AlertDigest(&rec.Alerts[i])
		}
		if err := t.PutAlerts(id, rec.Alerts, digests); err != nil {
			return err
		}
	}
	inc.ID = id
	return nil
}

// putIncident stores the header. A new incident's row, and the new header
// of one this transaction knows to exist, wait for the next round trip.
func (t *tx) putIncident(inc *bot.Incident, create bool) error {
	h := *inc
	h.Alerts = nil
	body, err := json.Marshal(&h)
	if err != nil {
		return fmt.Errorf("encode incident %d: %w", inc.ID, err)
	}
	var resolved *int64
	if !inc.Open() && inc.ResolvedAt != nil {
		resolved = new(int64)
		*resolved = ns(*inc.ResolvedAt)
	}
	if create {
		if err := t.later("store incident", "INSERT INTO incidents (id, open, resolved_ns, body) VALUES ($1, $2, $3, $4)",
			inc.ID, inc.Open(), resolved, body); err != nil {
			return err
		}
		t.c.setHead(inc.ID, body)
		return nil
	}
	const update = "UPDATE incidents SET open = $2, resolved_ns = $3, body = $4 WHERE id = $1"
	if t.c.known[inc.ID] {
		// Known to exist in this snapshot: a concurrent delete makes the
		// UPDATE fail with a serialization error, never miss its row.
		if err := t.later("store incident", update, inc.ID, inc.Open(), resolved, body); err != nil {
			return err
		}
		t.c.setHead(inc.ID, body)
		return nil
	}
	tag, err := t.exec("store incident", update, inc.ID, inc.Open(), resolved, body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		t.c.setAbsent(inc.ID)
		return fmt.Errorf("incident %d: %w", inc.ID, bot.ErrNotFound)
	}
	t.c.setHead(inc.ID, body)
	return nil
}

func (t *tx) UpdateIncident(inc *bot.Incident) error {
	if err := t.writable("UpdateIncident"); err != nil {
		return err
	}
	return t.putIncident(inc, false)
}

// exists reports whether the incidents exist, asking the database only
// about those this transaction does not know; missing is the first that
// does not.
func (t *tx) exists(ids ...int64) (missing int64, ok bool, err error) {
	var ask []int64
	for _, id := range ids {
		known, seen := t.c.known[id]
		switch {
		case !seen:
			if !slices.Contains(ask, id) {
				ask = append(ask, id)
			}
		case !known:
			return id, false, nil
		}
	}
	if len(ask) > 0 {
		found := map[int64]bool{}
		_, err := t.run("check incident", "SELECT id FROM incidents WHERE id = ANY($1)", []any{ask}, func(rows pgx.Rows) error {
			var id int64
			_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
				found[id] = true
				return nil
			})
			return err
		})
		if err != nil {
			return 0, false, err
		}
		for _, id := range ask {
			if found[id] {
				t.c.known[id] = true
			} else {
				t.c.setAbsent(id)
			}
		}
	}
	for _, id := range ids {
		if !t.c.known[id] {
			return id, false, nil
		}
	}
	return 0, true, nil
}

// Groups and alerts.

// Group reads the group's row and, in the same statement, its latest
// incident's header, which ingest asks for next.
func (t *tx) Group(receiver, groupKey string) (bot.GroupState, error) {
	var g bot.GroupState
	var digest, body []byte
	found, err := t.row("read group", `SELECT g.incident, g.rev, g.digest, g.open, i.body
		FROM groups g LEFT JOIN incidents i ON i.id = g.incident WHERE g.receiver = $1 AND g.group_key = $2`,
		[]any{[]byte(receiver), []byte(groupKey)}, &g.Incident, &g.Rev, &digest, &g.Open, &body)
	if err != nil {
		return g, err
	}
	key := groupID{receiver, groupKey}
	if !found {
		t.c.groups[key] = false
		return g, fmt.Errorf("incident for receiver %q group_key %q: %w", receiver, groupKey, bot.ErrNotFound)
	}
	t.c.groups[key] = true
	if body != nil {
		t.c.setHead(g.Incident, body)
	} else {
		t.c.setAbsent(g.Incident)
	}
	copy(g.Digest[:], digest)
	return g, nil
}

func (t *tx) SetGroupDigest(receiver, groupKey string, d bot.Digest, open bool) error {
	if err := t.writable("SetGroupDigest"); err != nil {
		return err
	}
	const update = "UPDATE groups SET rev = rev + 1, digest = $3, open = $4 WHERE receiver = $1 AND group_key = $2"
	if t.c.groups[groupID{receiver, groupKey}] {
		return t.later("store group digest", update, []byte(receiver), []byte(groupKey), d[:], open)
	}
	tag, err := t.exec("store group digest", update, []byte(receiver), []byte(groupKey), d[:], open)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("incident for receiver %q group_key %q: %w", receiver, groupKey, bot.ErrNotFound)
	}
	t.c.groups[groupID{receiver, groupKey}] = true
	return nil
}

func fingerprintKeys(fps []string) [][]byte {
	keys := make([][]byte, len(fps))
	for i, fp := range fps {
		keys[i] = []byte(fp)
	}
	return keys
}

// prefetchAlerts is the number of fingerprints up to which AlertDigests
// reads the alerts' bodies too: ingest asks for those that changed next,
// and a few bodies cost less than a round trip.
const prefetchAlerts = 32

func (t *tx) AlertDigests(incidentID int64, fingerprints []string) ([]bot.Digest, error) {
	out := make([]bot.Digest, len(fingerprints))
	if len(fingerprints) == 0 {
		return out, nil
	}
	cache := t.c.alertsOf(incidentID)
	var ask []string
	for _, fp := range fingerprints {
		if _, ok := cache[fp]; !ok {
			ask = append(ask, fp)
		}
	}
	if len(ask) > 0 {
		bodies := len(ask) <= prefetchAlerts
		sql := "SELECT fingerprint, digest, NULL::bytea FROM alerts WHERE incident_id = $1 AND fingerprint = ANY($2)"
		if bodies {
			sql = "SELECT fingerprint, digest, body FROM alerts WHERE incident_id = $1 AND fingerprint = ANY($2)"
		}
		_, err := t.run("read alert digests", sql, []any{incidentID, fingerprintKeys(ask)}, func(rows pgx.Rows) error {
			var fp, digest, body []byte
			_, err := pgx.ForEachRow(rows, []any{&fp, &digest, &body}, func() error {
				cache[string(fp)] = alertRow{digest: digest, body: body}
				return nil
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, fp := range ask {
			if _, ok := cache[fp]; !ok {
				cache[fp] = alertRow{absent: true}
			}
		}
	}
	for i, fp := range fingerprints {
		copy(out[i][:], cache[fp].digest)
	}
	return out, nil
}

func (t *tx) AlertsByFingerprint(incidentID int64, fingerprints []string) (map[string]bot.Alert, error) {
	out := map[string]bot.Alert{}
	if len(fingerprints) == 0 {
		return out, nil
	}
	decode := func(body []byte) error {
		var a bot.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			return fmt.Errorf("postgres: decode alert of incident %d: %w", incidentID, err)
		}
		out[a.Fingerprint] = a
		return nil
	}
	cache := t.c.alerts[incidentID]
	cached := cache != nil
	for _, fp := range fingerprints {
		if r, ok := cache[fp]; !ok || (!r.absent && r.body == nil) {
			cached = false
			break
		}
	}
	if cached {
		for _, fp := range fingerprints {
			if r := cache[fp]; !r.absent {
				if err := decode(r.body); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	_, err := t.run("read alerts", "SELECT body FROM alerts WHERE incident_id = $1 AND fingerprint = ANY($2)",
		[]any{incidentID, fingerprintKeys(fingerprints)}, func(rows pgx.Rows) error {
			var body []byte
			_, err := pgx.ForEachRow(rows, []any{&body}, func() error { return decode(body) })
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *tx) PutAlerts(incidentID int64, alerts []bot.Alert, digests []bot.Digest) error {
	if err := t.writable("PutAlerts"); err != nil {
		return err
	}
	if len(alerts) != len(digests) {
		return fmt.Errorf("%w: %d alerts with %d digests", bot.ErrInvalid, len(alerts), len(digests))
	}
	if _, ok, err := t.exists(incidentID); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("alerts of incident %d: %w", incidentID, bot.ErrNotFound)
	}
	if len(alerts) == 0 {
		return nil
	}
	// One statement for the lot; a fingerprint named twice keeps its
	// first place and its last value, as a row written twice would.
	at := map[string]int{}
	var fps, ds, bs [][]byte
	for i := range alerts {
		body, err := json.Marshal(&alerts[i])
		if err != nil {
			return fmt.Errorf("encode alert %q of incident %d: %w", alerts[i].Fingerprint, incidentID, err)
		}
		d := digests[i]
		if j, ok := at[alerts[i].Fingerprint]; ok {
			ds[j], bs[j] = d[:], body
			continue
		}
		at[alerts[i].Fingerprint] = len(fps)
		fps, ds, bs = append(fps, []byte(alerts[i].Fingerprint)), append(ds, d[:]), append(bs, body)
	}
	if err := t.later("store alerts", `INSERT INTO alerts (incident_id, fingerprint, digest, body)
		SELECT $1, f, d, b FROM unnest($2::bytea[], $3::bytea[], $4::bytea[]) WITH ORDINALITY AS u(f, d, b, o) ORDER BY o
		ON CONFLICT (incident_id, fingerprint) DO UPDATE SET digest = excluded.digest, body = excluded.body`,
		incidentID, fps, ds, bs); err != nil {
		return err
	}
	cache := t.c.alertsOf(incidentID)
	for i, fp := range fps {
		cache[string(fp)] = alertRow{digest: ds[i], body: bs[i]}
	}
	return nil
}

// Retention.

func (t *tx) ExpiredIncidents(cutoff time.Time, after int64, limit int) ([]int64, int64, error) {
	after = max(after, 0)
	sql := "SELECT id FROM incidents WHERE id > $1 AND resolved_ns < $2 ORDER BY id"
	args := []any{after, ns(cutoff)}
	if limit > 0 {
		sql += " LIMIT $3"
		args = append(args, limit)
	}
	var ids []int64
	_, err := t.run("find expired incidents", sql, args, func(rows pgx.Rows) error {
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if limit > 0 && len(ids) == limit {
		return ids, ids[len(ids)-1], nil
	}
	return ids, 0, nil
}

func (t *tx) DeleteIncident(id int64, max int) (bool, error) {
	if err := t.writable("DeleteIncident"); err != nil {
		return false, err
	}
	if max < 1 {
		max = 1
	}
	// What this transaction knew of the incident, its alerts and its
	// group is about to change.
	delete(t.c.alerts, id)
	clear(t.c.groups)
	left := int64(max)
	for _, table := range []string{"alerts", "timeline"} {
		tag, err := t.exec("delete "+table, "DELETE FROM "+table+" WHERE ctid IN (SELECT ctid FROM "+table+
			" WHERE incident_id = $1 LIMIT $2)", id, left)
		if err != nil {
			return false, err
		}
		if left -= tag.RowsAffected(); left == 0 {
			return false, nil
		}
	}
	// Its escalation runs, pages (which hold addresses) and ack tokens:
	// a few rows each.
	for _, table := range []string{"escalations", "pages", "page_tokens", "chat_records", "chat_rooms"} {
		if err := t.later("delete "+table, "DELETE FROM "+table+" WHERE incident_id = $1", id); err != nil {
			return false, err
		}
	}
	if err := t.later("delete group row", "DELETE FROM groups WHERE incident = $1", id); err != nil {
		return false, err
	}
	if _, err := t.exec("delete incident", "DELETE FROM incidents WHERE id = $1", id); err != nil {
		return false, err
	}
	t.c.setAbsent(id)
	return true, nil
}

// Timeline.

func (t *tx) Append(entries ...*bot.TimelineEntry) error {
	if err := t.writable("Append"); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	ids := make([]int64, len(entries))
	bodies := make([][]byte, len(entries))
	for i, e := range entries {
		ids[i] = e.IncidentID
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode timeline entry for incident %d: %w", e.IncidentID, err)
		}
		bodies[i] = body
	}
	if missing, ok, err := t.exists(ids...); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("timeline entry for incident %d: %w", missing, bot.ErrNotFound)
	}
	// The IDs come from the sequence, taken a few dozen at a time per
	// transaction, so that the insert can wait for the next round trip.
	if len(t.c.entryIDs) < len(entries) {
		var got []int64
		_, err := t.run("number timeline entries", "SELECT nextval('timeline_seq') FROM generate_series(1, $1)",
			[]any{max(len(entries), reserveIDs)}, func(rows pgx.Rows) error {
				var err error
				got, err = pgx.CollectRows(rows, pgx.RowTo[int64])
				return err
			})
		if err != nil {
			return err
		}
		slices.Sort(got)
		t.c.entryIDs = got
	}
	for i, e := range entries {
		e.ID = uint64(t.c.entryIDs[i])
	}
	if err := t.later("append timeline entries", `INSERT INTO timeline (incident_id, id, body)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])`, ids, t.c.entryIDs[:len(entries)], bodies); err != nil {
		return err
	}
	t.c.entryIDs = t.c.entryIDs[len(entries):]
	return nil
}

func (t *tx) Timeline(incidentID int64) ([]bot.TimelineEntry, error) {
	return bodies(t, "timeline entry", "SELECT id, body FROM timeline WHERE incident_id = $1 ORDER BY id", []any{incidentID},
		func(e *bot.TimelineEntry, id int64) { e.ID, e.IncidentID = uint64(id), incidentID })
}

func (t *tx) ReplaceEntry(e *bot.TimelineEntry) error {
	if err := t.writable("ReplaceEntry"); err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode timeline entry %d: %w", e.ID, err)
	}
	tag, err := t.exec("replace timeline entry", "UPDATE timeline SET body = $3 WHERE incident_id = $1 AND id = $2",
		e.IncidentID, int64(e.ID), body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("timeline entry %d of incident %d: %w", e.ID, e.IncidentID, bot.ErrNotFound)
	}
	return nil
}

// Outbox.

func (t *tx) Enqueue(d *bot.Delivery) error {
	if err := t.writable("Enqueue"); err != nil {
		return err
	}
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	if err := t.notify(); err != nil {
		return err
	}
	var id uint64
	if _, err := t.row("enqueue delivery", "INSERT INTO outbox (body) VALUES ($1) RETURNING id", []any{body}, &id); err != nil {
		return err
	}
	d.ID = id
	return nil
}

func (t *tx) Pending(limit int) ([]bot.Delivery, error) { return t.PendingAfter(0, limit) }

func (t *tx) PendingAfter(after uint64, limit int) ([]bot.Delivery, error) {
	sql := "SELECT id, body FROM outbox WHERE id > $1 ORDER BY id"
	args := []any{int64(after)}
	if limit > 0 {
		sql += " LIMIT $2"
		args = append(args, limit)
	}
	return bodies(t, "delivery", sql, args, func(d *bot.Delivery, id int64) { d.ID = uint64(id) })
}

func (t *tx) SaveDelivery(d *bot.Delivery) error {
	if err := t.writable("SaveDelivery"); err != nil {
		return err
	}
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery %d: %w", d.ID, err)
	}
	tag, err := t.exec("save delivery", "UPDATE outbox SET body = $2 WHERE id = $1", int64(d.ID), body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delivery %d: %w", d.ID, bot.ErrNotFound)
	}
	return nil
}

func (t *tx) Done(id uint64) error {
	if err := t.writable("Done"); err != nil {
		return err
	}
	return t.later("remove delivery", "DELETE FROM outbox WHERE id = $1", int64(id))
}

// maxPrune bounds how many forgotten events one MarkEvent deletes.
const maxPrune = 1000

func (t *tx) MarkEvent(id string, now time.Time, keep time.Duration) (bool, error) {
	if err := t.writable("MarkEvent"); err != nil {
		return false, err
	}
	if id == "" {
		return false, fmt.Errorf("%w: event id is empty", bot.ErrInvalid)
	}
	if err := t.later("forget events", "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at_ns < $1 LIMIT $2)",
		ns(now.Add(-keep)), maxPrune); err != nil {
		return false, err
	}
	tag, err := t.exec("mark event", "INSERT INTO events (id, at_ns) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", []byte(id), ns(now))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
