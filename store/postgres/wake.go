package postgres

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Waking the leader. Any replica may take a webhook or a Slack request,
// but only the lease holder delivers to Slack and fires timers, and it
// would otherwise see another replica's new work only at its next poll
// (bot.WorkerOptions.Poll, 5 s for the outbox; bot.EngineOptions.Poll, 1 s
// for timers). A transaction that enqueues a delivery or adds or moves a
// timer also sends NOTIFY, which PostgreSQL delivers at commit and only
// then; the holder LISTENs on its lease session and calls the function
// given to OnWake. A lost notification costs only latency: the polls
// stay, and a new holder looks at everything once when it starts.

// notifyChannel is the channel; the payload is the schema, so that stores
// sharing a database in other schemas do not wake each other.
const notifyChannel = "incidentbot_work"

// OnWake sets what the lease holder calls when another transaction (of
// any replica) has committed new deliveries or timers. f must not block.
func (s *Store) OnWake(f func()) { s.onWake.Store(&f) }

// notify queues the NOTIFY once per transaction.
func (t *tx) notify() error {
	if t.c.notified {
		return nil
	}
	t.c.notified = true
	return t.later("wake the leader", "SELECT pg_notify('"+notifyChannel+"', current_schema())")
}

// listen subscribes the lease session; the holder then waits for
// notifications between its checks (waitWake).
func listen(ctx context.Context, conn *pgx.Conn) (schema string, err error) {
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return "", err
	}
	err = conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema)
	return schema, err
}

// waitWake waits on the lease session until d has passed or ctx ends,
// calling wake (when set) for every notification of schema. An error
// other than the wait running out means the session is broken.
func waitWake(ctx context.Context, conn *pgx.Conn, schema string, d time.Duration, wake *atomic.Pointer[func()]) error {
	deadline := time.Now().Add(d)
	for {
		wctx, cancel := context.WithDeadline(ctx, deadline)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && time.Now().After(deadline) && !conn.IsClosed() {
				return nil // the wait ran out: time for the lease check
			}
			return err
		}
		if f := wake.Load(); f != nil && n.Payload == schema {
			(*f)()
		}
	}
}
