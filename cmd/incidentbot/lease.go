package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// leaser is a store that several replicas share: only the holder of its
// lease runs the deliveries and the timers.
type leaser interface {
	Lead(ctx context.Context) (lost context.Context, release func(), err error)
}

// waker is a store that tells the lease holder when another replica
// committed deliveries or timers (PostgreSQL: LISTEN/NOTIFY), so that it
// runs them now rather than at its next poll.
type waker interface {
	OnWake(f func())
}

// lead runs start (the outbox worker and the on-call engine) on the
// replica that holds the store's lease, at once on a store that has none
// (bbolt: one replica). A replica that loses the lease (its database
// session ended) stops that work, waits for it to finish, and queues for
// the lease again; the next holder takes over meanwhile, and its engine
// settles the pages the old holder was sending. The channels close once
// ctx has ended and the work stopped.
func lead(ctx context.Context, store appStore, m *metrics, log *slog.Logger,
	start func(ctx context.Context) (work, timers <-chan struct{})) (work, timers <-chan struct{}) {
	leader := prometheus.NewGauge(prometheus.GaugeOpts{Name: "incidentbot_leader",
		Help: "1 on the replica that holds the lease (runs Slack deliveries and on-call timers), 0 on the others."})
	m.reg.MustRegister(leader)
	l, ok := store.(leaser)
	if !ok {
		leader.Set(1)
		return start(ctx)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			log.Info("waiting for the lease to run deliveries and timers")
			lost, release, err := l.Lead(ctx)
			if err != nil {
				return
			}
			leader.Set(1)
			log.Info("holding the lease: running deliveries and timers")
			work, timers := start(lost)
			<-lost.Done()
			leader.Set(0)
			<-work
			<-timers
			release()
			if ctx.Err() == nil {
				log.Warn("lost the lease (database session gone): deliveries and timers stopped here until this replica holds it again")
			}
		}
	}()
	return done, done
}
