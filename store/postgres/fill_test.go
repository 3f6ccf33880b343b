package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// TestFillOpensABigGroup runs the first notification of a group of 1,234
// alerts through a service on PostgreSQL: ingest writes it in slices
// (bot/fill.go) through the store's PeekGroup path, and the incident shows
// whole, once, and its repeat is answered as a repeat.
func TestFillOpensABigGroup(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	now := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	s := bot.NewService(st, bot.Options{Now: func() time.Time { return now }})
	n := &bot.Notification{Receiver: "r", GroupKey: "big", Status: bot.AlertFiring}
	for i := range 1234 {
		n.Alerts = append(n.Alerts, bot.Alert{Fingerprint: fmt.Sprintf("%016x", i), Status: bot.AlertFiring,
			Labels: map[string]string{"alertname": "Big", "pod": fmt.Sprint(i)}, StartsAt: now.Add(-time.Hour)})
	}
	res, err := s.Ingest(ctx, n)
	if err != nil || !res.Opened || res.Changes != 1235 {
		t.Fatalf("first notification: %+v, %v; want opened with 1235 changes", res, err)
	}
	inc, err := s.Incident(ctx, res.Incident)
	if err != nil || inc.Filling || len(inc.Alerts) != 1234 {
		t.Fatalf("incident: %v; want 1234 alerts, not filling", err)
	}
	tl, err := s.Timeline(ctx, res.Incident)
	if err != nil || len(tl) != 1235 {
		t.Errorf("timeline: %d entries, %v; want 1235", len(tl), err)
	}
	if again, err := s.Ingest(ctx, n); err != nil || again != (bot.IngestResult{Incident: res.Incident}) {
		t.Errorf("repeat: %+v, %v", again, err)
	}
}
