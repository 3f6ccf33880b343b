package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

func TestOutboxStats(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{})
	ctx := context.Background()
	depth, oldest, err := s.OutboxStats()
	if err != nil || depth != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: OutboxStats() = %d, %v, %v; want 0, zero time, nil", depth, oldest, err)
	}

	var id int64
	if err := s.Update(ctx, func(tx bot.Tx) error {
		inc := incident("outbox")
		err := tx.CreateIncident(inc)
		id = inc.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 1, 14, 0, 0, 0, time.UTC)
	var ids []uint64
	// Enough deliveries to spread the bucket over several pages.
	for i := range 300 {
		d := &bot.Delivery{IncidentID: id, Kind: bot.DeliveryRefresh, CreatedAt: t0.Add(time.Duration(i) * time.Second),
			Text: fmt.Sprintf("%0200d", i)}
		if err := s.Update(ctx, func(tx bot.Tx) error { return tx.Enqueue(d) }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	check := func(wantDepth int, wantOldest time.Time) {
		t.Helper()
		depth, oldest, err := s.OutboxStats()
		if err != nil || depth != wantDepth || !oldest.Equal(wantOldest) {
			t.Fatalf("OutboxStats() = %d, %v, %v; want %d, %v, nil", depth, oldest, err, wantDepth, wantOldest)
		}
	}
	check(300, t0)

	// Delivering the oldest ages the outbox from the next one; a back-off
	// (SaveDelivery) changes neither figure.
	if err := s.Update(ctx, func(tx bot.Tx) error {
		if err := tx.Done(ids[0]); err != nil {
			return err
		}
		return tx.SaveDelivery(&bot.Delivery{ID: ids[1], IncidentID: id, Kind: bot.DeliveryRefresh,
			CreatedAt: t0.Add(time.Second), Attempts: 3, NotBefore: t0.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	check(299, t0.Add(time.Second))

	if err := s.Update(ctx, func(tx bot.Tx) error {
		for _, id := range ids[1:] {
			if err := tx.Done(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check(0, time.Time{})
}

func TestOpenIncidents(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{})
	ctx := context.Background()
	// Oldest first: 1 open, 2 resolved (with resolved alerts, whose own
	// "status" must not be taken for the incident's), 3 and 4 open.
	statuses := []bot.Status{bot.StatusInvestigating, bot.StatusResolved, bot.StatusMonitoring, bot.StatusIdentified}
	for i, st := range statuses {
		inc := incident(fmt.Sprintf("inc %d", i+1))
		inc.Status = st
		alertStatus := bot.AlertFiring
		if st == bot.StatusResolved {
			alertStatus = bot.AlertResolved
		}
		for j := range 50 {
			inc.Alerts = append(inc.Alerts, bot.Alert{Fingerprint: fmt.Sprint(j), Status: alertStatus,
				Labels: map[string]string{"status": "firing", "alertname": "X"}, StartsAt: inc.CreatedAt})
		}
		if err := s.Update(ctx, func(tx bot.Tx) error { return tx.CreateIncident(inc) }); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.OpenIncidents(); err != nil || got != 3 {
		t.Errorf("OpenIncidents() = %d, %v; want 3, nil", got, err)
	}
	// Resolving one and reopening another keep the count in step.
	if err := s.Update(ctx, func(tx bot.Tx) error {
		inc, err := tx.IncidentHeader(1)
		if err != nil {
			return err
		}
		inc.Status = bot.StatusResolved
		if err := tx.UpdateIncident(inc); err != nil {
			return err
		}
		if inc, err = tx.IncidentHeader(2); err != nil {
			return err
		}
		inc.Status = bot.StatusInvestigating
		return tx.UpdateIncident(inc)
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.OpenIncidents(); err != nil || got != 3 {
		t.Errorf("after resolving 1 and reopening 2: OpenIncidents() = %d, %v; want 3, nil", got, err)
	}
	open := true
	var ids []int64
	if err := s.View(ctx, func(tx bot.Tx) error {
		list, err := tx.Incidents(bot.IncidentFilter{Open: &open})
		for _, inc := range list {
			ids = append(ids, inc.ID)
		}
		return err
	}); err != nil || fmt.Sprint(ids) != "[4 3 2]" {
		t.Errorf("open incidents listed: %v, %v; want [4 3 2]", ids, err)
	}
}

func TestCountsOnClosedStore(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "bot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.OutboxStats(); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("OutboxStats after Close: %v, want ErrUnavailable", err)
	}
	if _, err := s.OpenIncidents(); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("OpenIncidents after Close: %v, want ErrUnavailable", err)
	}
}

// BenchmarkScrapeCounts measures what a scrape costs with a backlog of
// 20,000 deliveries and 2,000 incidents of 200 alerts each.
func BenchmarkScrapeCounts(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bot.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for range 20 {
		if err := s.Update(ctx, func(tx bot.Tx) error {
			for range 100 {
				inc := incident("big")
				for j := range 200 {
					inc.Alerts = append(inc.Alerts, bot.Alert{Fingerprint: fmt.Sprint(j), Status: bot.AlertFiring,
						Labels: map[string]string{"alertname": "X", "instance": fmt.Sprint(j)}, StartsAt: inc.CreatedAt})
				}
				if err := tx.CreateIncident(inc); err != nil {
					return err
				}
				for range 10 {
					if err := tx.Enqueue(&bot.Delivery{IncidentID: inc.ID, Kind: bot.DeliveryRefresh, CreatedAt: inc.CreatedAt}); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("OutboxStats", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.OutboxStats(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenIncidents", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.OpenIncidents(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Incidents(open)", func(b *testing.B) {
		open := true
		for b.Loop() {
			if err := s.View(ctx, func(tx bot.Tx) error {
				_, err := tx.Incidents(bot.IncidentFilter{Open: &open})
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
