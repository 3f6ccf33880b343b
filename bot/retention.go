package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Retention deletes incidents resolved longer ago than Keep, with
// everything of theirs (alerts, timeline, chat records and rooms, group row), a few
// hundred records per transaction, so that the single store writer is
// never held for long and ingest goes on between the batches.
type Retention struct {
	Store Store
	// Blobs, when set, holds the incidents' heap profiles: they are
	// deleted with the incident, before its records, so that a crash
	// between the two leaves no file that nothing names.
	Blobs ProfileBlobs
	// Keep is how long a resolved incident is kept after it resolved.
	Keep time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives a line per sweep that deleted something; nil discards.
	Log *slog.Logger
	// Batch is how many records one transaction deletes; 0 means 500.
	Batch int
	// Pause is how long to wait between transactions; 0 means 5 ms.
	Pause time.Duration
	// Every is how often to sweep; 0 means a minute.
	Every time.Duration
	// OnDeleted, when set, is told of each incident deleted and of how
	// many transactions it took.
	OnDeleted func(id int64, batches int)
}

func (r *Retention) defaults() {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.Batch <= 0 {
		r.Batch = 500
	}
	if r.Pause <= 0 {
		r.Pause = 5 * time.Millisecond
	}
	if r.Every <= 0 {
		r.Every = time.Minute
	}
}

// Run sweeps at once and then every r.Every until ctx ends. A failed
// sweep is logged and tried again at the next.
func (r *Retention) Run(ctx context.Context) {
	r.defaults()
	t := time.NewTicker(r.Every)
	defer t.Stop()
	for {
		n, err := r.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.Log.Warn("retention: sweep failed; trying again later", "err", err, "deleted", n)
		case n > 0:
			r.Log.Info("retention: deleted resolved incidents", "deleted", n, "keep", r.Keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deletes every incident resolved before now - Keep and returns how
// many it deleted.
func (r *Retention) Sweep(ctx context.Context) (int, error) {
	r.defaults()
	if r.Keep <= 0 {
		return 0, errors.New("retention: Keep is not positive")
	}
	cutoff := r.Now().Add(-r.Keep)
	deleted := 0
	for after := int64(0); ; {
		var ids []int64
		var next int64
		err := r.Store.View(ctx, func(tx Tx) (err error) {
			ids, next, err = tx.ExpiredIncidents(cutoff, after, 100)
			return err
		})
		if err != nil {
			return deleted, err
		}
		for _, id := range ids {
			if err := r.delete(ctx, id); err != nil {
				return deleted, err
			}
			deleted++
		}
		if next == 0 {
			return deleted, nil
		}
		after = next
	}
}

// delete deletes one incident in batches, pausing between them, after
// its profile files.
func (r *Retention) delete(ctx context.Context, id int64) error {
	if r.Blobs != nil {
		if err := r.Blobs.DeleteIncident(id); err != nil {
			return fmt.Errorf("retention: profiles of incident %d: %w", id, err)
		}
	}
	for batches := 1; ; batches++ {
		var gone bool
		err := r.Store.Update(ctx, func(tx Tx) (err error) {
			gone, err = tx.DeleteIncident(id, r.Batch)
			return err
		})
		if err != nil {
			return err
		}
		if gone {
			if r.OnDeleted != nil {
				r.OnDeleted(id, batches)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.Pause):
		}
	}
}
