package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// txn is one database transaction, shared by the tx of every fn of a
// batch. On a busy machine each round trip is a PostgreSQL backend woken
// on a saturated CPU, so txn saves them three ways (docs/performance.md
// §9):
//   - BEGIN goes out with the transaction's first statement, in one
//     pipeline (pgx.Batch), not on its own;
//   - a write whose outcome fn does not need (its row is known to exist in
//     this transaction, or the statement cannot fail on a missing one)
//     waits, and goes out with the next statement or with COMMIT;
//   - what a statement read (an incident's header, a group, an alert's
//     digest and body) is kept for the rest of the transaction, in step
//     with the transaction's own writes: every statement of a transaction
//     sees the same snapshot, so only its own writes can change it.
type txn struct {
	conn querier
	// pooled is conn when it came from the pool, to give back at the end.
	pooled *pgxpool.Conn
	// begin is the BEGIN statement until it is sent.
	begin string
	// later holds the writes waiting for the next round trip.
	later []deferred
	// known says whether an incident exists (true) or not (false), when
	// this transaction knows; heads holds the stored header of those that
	// exist, when read or written.
	known  map[int64]bool
	heads  map[int64][]byte
	groups map[groupID]bool
	// alerts holds, per incident, what this transaction knows of alerts by
	// fingerprint.
	alerts map[int64]map[string]alertRow
	// entryIDs are timeline IDs taken from the sequence and not used yet.
	entryIDs []int64
	// notified is set once the transaction queued its NOTIFY (wake.go).
	notified bool
}

type deferred struct {
	what, sql string
	args      []any
}

type groupID struct{ receiver, groupKey string }

// alertRow is an alert as this transaction knows it: absent, or stored with
// its digest and, when read, its body.
type alertRow struct {
	absent       bool
	digest, body []byte
}

// reserveIDs is how many timeline IDs a transaction takes at once.
const reserveIDs = 64

// maxLater bounds the writes waiting in one transaction: past it they are
// sent on their own.
const maxLater = 256

// querier is a connection, or a transaction begun by pgx (copy-store).
type querier interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

func newTxn(conn querier, begin string) *txn {
	return &txn{conn: conn, begin: begin, known: map[int64]bool{}, heads: map[int64][]byte{},
		groups: map[groupID]bool{}, alerts: map[int64]map[string]alertRow{}}
}

func (c *txn) setHead(id int64, body []byte) {
	c.known[id], c.heads[id] = true, body
}

func (c *txn) setAbsent(id int64) {
	c.known[id] = false
	delete(c.heads, id)
	delete(c.alerts, id)
}

func (c *txn) alertsOf(id int64) map[string]alertRow {
	m := c.alerts[id]
	if m == nil {
		m = map[string]alertRow{}
		c.alerts[id] = m
	}
	return m
}

// later queues a write that needs no answer before the next statement.
func (t *tx) later(what, sql string, args ...any) error {
	t.c.later = append(t.c.later, deferred{what: what, sql: sql, args: args})
	if len(t.c.later) >= maxLater {
		_, err := t.run("", "", nil, nil)
		return err
	}
	return nil
}

// run sends, in one round trip, BEGIN if not sent yet, the writes that wait,
// and sql (none when empty); scan, when not nil, reads sql's rows. A
// database error fails the transaction (see tx.fail); an error scan
// returns is returned as is.
func (t *tx) run(what, sql string, args []any, scan func(pgx.Rows) error) (pgconn.CommandTag, error) {
	c := t.c
	if t.failed != nil {
		return pgconn.CommandTag{}, t.fail(what, t.failed)
	}
	b := &pgx.Batch{}
	began, later := c.begin != "", c.later
	if began {
		b.Queue(c.begin)
	}
	for _, d := range later {
		b.Queue(d.sql, d.args...)
	}
	if sql != "" {
		b.Queue(sql, args...)
	}
	if b.Len() == 0 {
		return pgconn.CommandTag{}, nil
	}
	c.begin, c.later = "", nil
	br := c.conn.SendBatch(t.ctx, b)
	failed := func(w string, err error) (pgconn.CommandTag, error) {
		_ = br.Close()
		return pgconn.CommandTag{}, t.fail(w, err)
	}
	if began {
		if _, err := br.Exec(); err != nil {
			return failed("begin", err)
		}
	}
	for _, d := range later {
		if _, err := br.Exec(); err != nil {
			return failed(d.what, err)
		}
	}
	var tag pgconn.CommandTag
	var scanErr error
	switch {
	case sql == "":
	case scan == nil:
		var err error
		if tag, err = br.Exec(); err != nil {
			return failed(what, err)
		}
	default:
		rows, err := br.Query()
		if err != nil {
			return failed(what, err)
		}
		scanErr = scan(rows)
		rows.Close()
		if err := rows.Err(); err != nil {
			return failed(what, err)
		}
		tag = rows.CommandTag()
	}
	if err := br.Close(); err != nil {
		return pgconn.CommandTag{}, t.fail(what, err)
	}
	return tag, scanErr
}

// finish ends the transaction: with COMMIT (sent with the writes that
// wait) when commit is set and something was written, else with ROLLBACK
// when anything was sent. A COMMIT whose answer is lost returns an error
// that is not retryable: its outcome is unknown. The connection goes back
// to the pool, or is closed if it is left inside a transaction.
func (c *txn) finish(ctx context.Context, commit bool) error {
	defer c.pooled.Release()
	if commit && (c.begin == "" || len(c.later) > 0) {
		// The commit is not cancelled with ctx: the answer must be the
		// truth, and a COMMIT cut off mid-way leaves it unknown.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		t := &tx{ctx: cctx, c: c, write: true}
		_, err := t.run("commit", "COMMIT", nil, nil)
		if err != nil {
			c.rollback(cctx)
			return t.failed
		}
		return nil
	}
	if c.begin == "" { // BEGIN went out
		c.rollback(ctx)
	}
	return nil
}

// rollback ends a transaction left open or aborted. It needs no answer: a
// dropped connection rolls back too, and the pool closes a connection
// left inside a transaction.
func (c *txn) rollback(ctx context.Context) {
	if c.pooled.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = c.pooled.Exec(rctx, "ROLLBACK")
}

// acquire takes a connection of pool for a transaction that starts with
// begin.
func (s *Store) acquire(ctx context.Context, pool *pgxpool.Pool, begin string) (*txn, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	c := newTxn(conn, begin)
	c.pooled = conn
	return c, nil
}

const (
	beginWrite = "BEGIN ISOLATION LEVEL SERIALIZABLE"
	beginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
)
