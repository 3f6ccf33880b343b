package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
)

// benchParallelism times GOMAXPROCS is how many webhooks are in flight at
// once in the parallel benchmarks: HTTP handlers mostly wait, so there are
// many more of them than cores.
const benchParallelism = 32

// notification returns the Update a webhook makes for one notification of
// group: update the group's open incident, or open one, and append five
// timeline entries. Every tenth notification resolves the incident, so
// creation and update both happen.
func notification(group string, n int) func(tx bot.Tx) error {
	return func(tx bot.Tx) error {
		now := time.Now().UTC()
		inc, err := tx.LatestInGroup("team", group)
		switch {
		case errors.Is(err, bot.ErrNotFound) || err == nil && !inc.Open():
			inc = &bot.Incident{Title: group, Severity: bot.SEV2, Status: bot.StatusInvestigating,
				Receiver: "team", GroupKey: group, CreatedAt: now, DetectedAt: now,
				Alerts: []bot.Alert{{Fingerprint: "f1", Status: bot.AlertFiring, StartsAt: now,
					Labels: map[string]string{"alertname": "HighErrorRate", "service": "payments", "severity": "critical"}}}}
			err = tx.CreateIncident(inc)
		case err == nil:
			inc.TruncatedAlerts = n
			if n%10 == 9 {
				inc.Status, inc.ResolvedAt = bot.StatusResolved, &now
			}
			err = tx.UpdateIncident(inc)
		}
		if err != nil {
			return err
		}
		entries := make([]*bot.TimelineEntry, 5)
		for i := range entries {
			entries[i] = &bot.TimelineEntry{IncidentID: inc.ID, At: now, Kind: bot.KindAlertFired,
				Actor: "alertmanager", Text: "HighErrorRate fired: error rate 7% on payments", RecordedAt: now}
		}
		return tx.Append(entries...)
	}
}

func benchStore(b *testing.B) *Store {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// reportGrouping adds how many Updates each commit carried, and how long
// a commit took (mostly fsync, which is what grouping shares).
func reportGrouping(b *testing.B, s *Store, before Stats) {
	after := s.Stats()
	if commits := after.Commits - before.Commits; commits > 0 {
		b.ReportMetric(float64(after.Updates-before.Updates)/float64(commits), "updates/commit")
		b.ReportMetric(float64(after.CommitTime-before.CommitTime)/float64(commits)/1e6, "ms/commit")
	}
}

// BenchmarkUpdateSerial is the baseline: one webhook at a time, one fsync each.
func BenchmarkUpdateSerial(b *testing.B) {
	s := benchStore(b)
	before := s.Stats()
	n := 0
	for b.Loop() {
		if err := s.Update(context.Background(), notification("serial", n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportGrouping(b, s, before)
}

// BenchmarkUpdateParallel is a webhook storm: many groups at once, grouped
// into shared commits by the writer.
func BenchmarkUpdateParallel(b *testing.B) {
	s := benchStore(b)
	before := s.Stats()
	storm(b, benchParallelism, func(fn func(bot.Tx) error) error { return s.Update(context.Background(), fn) })
	reportGrouping(b, s, before)
}

// BenchmarkUpdateFewWriters is light load: two webhooks per core in flight.
func BenchmarkUpdateFewWriters(b *testing.B) {
	s := benchStore(b)
	before := s.Stats()
	storm(b, 2, func(fn func(bot.Tx) error) error { return s.Update(context.Background(), fn) })
	reportGrouping(b, s, before)
}

// BenchmarkBBoltBatchParallel is the storm through bbolt's own Batch, for
// comparison: under full load it groups about as well.
func BenchmarkBBoltBatchParallel(b *testing.B) {
	s := benchStore(b)
	storm(b, benchParallelism, func(fn func(bot.Tx) error) error {
		return s.db.Batch(func(btx *bolt.Tx) error { return fn(&tx{btx: btx}) })
	})
}

// BenchmarkBBoltBatchFewWriters is light load through bbolt's Batch, which
// waits up to MaxBatchDelay (10ms) for company that does not come.
func BenchmarkBBoltBatchFewWriters(b *testing.B) {
	s := benchStore(b)
	storm(b, 2, func(fn func(bot.Tx) error) error {
		return s.db.Batch(func(btx *bolt.Tx) error { return fn(&tx{btx: btx}) })
	})
}

// storm runs notifications through update from parallelism*GOMAXPROCS
// goroutines, one alert group each, and reports the mean latency of one
// update as seen by its caller.
func storm(b *testing.B, parallelism int, update func(fn func(bot.Tx) error) error) {
	var groups, calls, waited atomic.Int64
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		group := fmt.Sprint("group-", groups.Add(1))
		for n := 0; pb.Next(); n++ {
			start := time.Now()
			if err := update(notification(group, n)); err != nil {
				b.Error(err)
				return
			}
			waited.Add(int64(time.Since(start)))
			calls.Add(1)
		}
	})
	if n := calls.Load(); n > 0 {
		b.ReportMetric(float64(waited.Load())/float64(n)/1e6, "ms/update")
	}
}
