package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/jackc/pgx/v5"
)

// The lease: one replica at a time runs the Slack deliveries and the
// on-call timers. It is a session advisory lock held on a connection of
// its own: PostgreSQL releases it the moment that session ends, so a
// replica killed with kill -9 (its socket closes) hands over at once, and
// one cut off by the network within the server's TCP keepalive (set to
// about 11 s on the lease's session). The holder checks its session every
// leaseCheck and stops leading when a check fails.

const (
	leaseKeySQL = "hashtext('incidentbot lease ' || current_schema())"
	// leaseCheck is how often the holder checks its session and how often
	// the others try to take the lease.
	leaseCheck = 2 * time.Second
)

// Lead blocks until this replica holds the lease or ctx ends (then it
// returns ctx's error). lost ends when the lease is lost or ctx ends;
// release gives the lease up (call it once the work it guarded stopped).
func (s *Store) Lead(ctx context.Context) (lost context.Context, release func(), err error) {
	for {
		conn, err := s.leaseConn(ctx)
		if err == nil {
			var got bool
			if err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock("+leaseKeySQL+")").Scan(&got); err == nil && got {
				return s.hold(ctx, conn)
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(leaseCheck):
		}
	}
}

// leaseConn opens a connection outside the pool, so the pool never hands
// the lease's session to anything else, with server-side keepalives short
// enough that a vanished holder's lock is freed within 15 s.
func (s *Store) leaseConn(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["tcp_keepalives_idle"] = "5"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "2"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	cfg.RuntimeParams["application_name"] = "incidentbot lease"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: lease: %w: %w", bot.ErrUnavailable, err)
	}
	return conn, nil
}

func (s *Store) hold(ctx context.Context, conn *pgx.Conn) (context.Context, func(), error) {
	lost, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	lctx, lcancel := context.WithTimeout(ctx, leaseCheck)
	schema, lerr := listen(lctx, conn)
	lcancel()
	go func() {
		defer close(stopped)
		defer cancel()
		for {
			if lerr == nil {
				// Between checks, the session waits for notifications.
				if err := waitWake(lost, conn, schema, leaseCheck, &s.onWake); err != nil {
					return
				}
			} else {
				select {
				case <-lost.Done():
					return
				case <-time.After(leaseCheck):
				}
			}
			if lost.Err() != nil {
				return
			}
			cctx, ccancel := context.WithTimeout(lost, leaseCheck)
			var held bool
			err := conn.QueryRow(cctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted)").Scan(&held)
			ccancel()
			if err != nil || !held {
				return
			}
		}
	}()
	release := func() {
		cancel()
		<-stopped
		// Closing the session frees the lock, even if the unlock is lost.
		uctx, ucancel := context.WithTimeout(context.Background(), time.Second)
		defer ucancel()
		_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock("+leaseKeySQL+")")
		conn.Close(uctx)
	}
	return lost, release, nil
}
