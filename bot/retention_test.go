package bot

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRetentionDeletesOnlyWhatExpired(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	s := NewService(st, Options{Now: func() time.Time { return at(0) }})
	mk := func(resolvedAt *time.Time) int64 {
		inc, err := s.Declare(ctx, "x", SEV3, "U1", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if resolvedAt != nil {
			if _, err := s.Apply(ctx, inc.ID, Action{Op: OpResolve, Actor: "U1"}); err != nil {
				t.Fatal(err)
			}
			if err := st.Update(ctx, func(tx Tx) error {
				h, err := tx.IncidentHeader(inc.ID)
				if err != nil {
					return err
				}
				h.ResolvedAt = resolvedAt
				return tx.UpdateIncident(h)
			}); err != nil {
				t.Fatal(err)
			}
		}
		return inc.ID
	}
	now := at(0).Add(500 * 24 * time.Hour)
	old, young, open := mk(new(at(0))), mk(new(now.Add(-399*24*time.Hour))), mk(nil)
	var deleted []int64
	r := &Retention{Store: st, Keep: 400 * 24 * time.Hour, Now: func() time.Time { return now }, Batch: 1, Pause: time.Microsecond,
		OnDeleted: func(id int64, batches int) { deleted = append(deleted, id) }}
	n, err := r.Sweep(ctx)
	if err != nil || n != 1 || fmt.Sprint(deleted) != fmt.Sprint([]int64{old}) {
		t.Fatalf("Sweep: %d, %v, deleted %v; want 1 (incident %d)", n, err, deleted, old)
	}
	if _, err := s.Incident(ctx, old); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired incident after the sweep: %v, want ErrNotFound", err)
	}
	for _, id := range []int64{young, open} {
		if _, err := s.Incident(ctx, id); err != nil {
			t.Errorf("incident %d after the sweep: %v, want it kept", id, err)
		}
	}
	if n, err := r.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("second sweep: %d, %v; want nothing to do", n, err)
	}
}
