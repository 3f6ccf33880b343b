package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// testRetention: expired incidents are the resolved ones resolved before
// the cutoff, listed in ID order and paged; deleting one in small steps
// removes its alerts, timeline, channel, group row, escalations and pages
// (and their claims), and nothing of the others.
func testRetention(t *testing.T, s bot.Store) {
	cutoff := t0.Add(24 * time.Hour)
	mk := func(title string, resolved *time.Time, channel string) int64 {
		inc := minimal(title)
		inc.Receiver, inc.GroupKey = "r", title
		inc.Alerts = []bot.Alert{alertN(1, bot.AlertResolved), alertN(2, bot.AlertResolved), alertN(3, bot.AlertFiring)}
		if resolved != nil {
			inc.Status, inc.ResolvedAt = bot.StatusResolved, resolved
		}
		id := create(t, s, inc)
		update(t, s, func(tx bot.Tx) error {
			if channel != "" {
				for _, adapter := range []string{"slack", "other"} {
					if err := tx.PutChatRecord(id, adapter, bot.ChatRecord{Room: channel, Data: []byte(adapter)}); err != nil {
						return err
					}
				}
			}
			return tx.Append(entry(id, t0, "a"), entry(id, t0, "b"), entry(id, t0, "c"))
		})
		return id
	}
	old1 := mk("old1", new(t0), "C1")
	recent := mk("recent", new(cutoff.Add(time.Minute)), "C2")
	open := mk("open", nil, "C3")
	old2 := mk("old2", new(cutoff.Add(-time.Nanosecond)), "")
	// Escalations and pages are the incident's too (a page holds the
	// person's email address or webhook URL).
	page := func(id int64) *bot.Page {
		return &bot.Page{IncidentID: id, Escalation: 1, Target: "U0A", Via: bot.ViaEmail, Address: "a@example.com", At: t0, Status: bot.PageSent}
	}
	for _, id := range []int64{old1, recent} {
		update(t, s, func(tx bot.Tx) error {
			if err := tx.CreateEscalation(&bot.EscalationRun{IncidentID: id, Team: "payments", StartedAt: t0}); err != nil {
				return err
			}
			_, err := tx.ClaimPage(page(id))
			return err
		})
	}

	var all []int64
	for after, calls := int64(0), 0; ; calls++ {
		if calls > 10 {
			t.Fatalf("ExpiredIncidents: no end after %d calls", calls)
		}
		var ids []int64
		var next int64
		view(t, s, func(tx bot.Tx) (err error) {
			ids, next, err = tx.ExpiredIncidents(cutoff, after, 1)
			return err
		})
		if len(ids) > 1 {
			t.Fatalf("ExpiredIncidents(limit 1): got %v", ids)
		}
		all = append(all, ids...)
		if next == 0 {
			break
		}
		if next < after {
			t.Fatalf("ExpiredIncidents: next %d went back from %d", next, after)
		}
		after = next
	}
	if want := []int64{old1, old2}; !slices.Equal(all, want) {
		t.Errorf("expired, paged one by one: got %v, want %v", all, want)
	}

	steps := 0
	for gone := false; !gone; steps++ {
		if steps > 10 {
			t.Fatal("DeleteIncident(max 2): not gone after 10 calls")
		}
		update(t, s, func(tx bot.Tx) (err error) {
			gone, err = tx.DeleteIncident(old1, 2)
			return err
		})
	}
	if steps < 3 {
		t.Errorf("DeleteIncident(max 2) took %d calls for 3 alerts and 3 entries, want at least 3", steps)
	}
	update(t, s, func(tx bot.Tx) error {
		gone, err := tx.DeleteIncident(old1, 2)
		if err == nil && !gone {
			t.Errorf("DeleteIncident of a deleted incident: not gone")
		}
		return err
	})
	view(t, s, func(tx bot.Tx) error {
		if _, err := tx.Incident(old1); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("Incident after delete: %v, want ErrNotFound", err)
		}
		for _, adapter := range []string{"slack", "other"} {
			if _, err := tx.IncidentByRoom(adapter, "C1"); !errors.Is(err, bot.ErrNotFound) {
				t.Errorf("IncidentByRoom(%s, C1) after delete: %v, want ErrNotFound", adapter, err)
			}
		}
		if recs, err := tx.ChatRecords(old1); err != nil || len(recs) != 0 {
			t.Errorf("ChatRecords after delete: %v, %v; want none", recs, err)
		}
		if _, err := tx.Group("r", "old1"); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("Group after delete: %v, want ErrNotFound", err)
		}
		if tl, err := tx.Timeline(old1); err != nil || len(tl) != 0 {
			t.Errorf("Timeline after delete: %d entries, %v; want none", len(tl), err)
		}
		if d, err := tx.AlertDigests(old1, []string{"0001", "0003"}); err != nil || !d[0].IsZero() || !d[1].IsZero() {
			t.Errorf("AlertDigests after delete: %x, %v; want none", d, err)
		}
		if runs, err := tx.Escalations(old1); err != nil || len(runs) != 0 {
			t.Errorf("Escalations after delete: %d, %v; want none", len(runs), err)
		}
		if ps, err := tx.Pages(old1); err != nil || len(ps) != 0 {
			t.Errorf("Pages after delete: %d, %v; want none", len(ps), err)
		}
		if runs, _ := tx.Escalations(recent); len(runs) != 1 {
			t.Errorf("Escalations of another incident after delete: %d, want 1", len(runs))
		}
		if ps, _ := tx.Pages(recent); len(ps) != 1 {
			t.Errorf("Pages of another incident after delete: %d, want 1", len(ps))
		}
		for _, id := range []int64{recent, open, old2} {
			inc, err := tx.Incident(id)
			if err != nil || len(inc.Alerts) != 3 {
				t.Errorf("incident %d after deleting another: %v; want it whole", id, err)
				continue
			}
			if tl, _ := tx.Timeline(id); len(tl) != 3 {
				t.Errorf("incident %d's timeline after deleting another: %d entries, want 3", id, len(tl))
			}
		}
		if inc, err := tx.IncidentByRoom("slack", "C2"); err != nil || inc.ID != recent {
			t.Errorf("IncidentByRoom(slack, C2) after deleting another: %v", err)
		}
		if rec, err := tx.ChatRecord(recent, "other"); err != nil || string(rec.Data) != "other" {
			t.Errorf("ChatRecord of another incident after delete: %+v, %v", rec, err)
		}
		return nil
	})
	if got := list(t, s, bot.IncidentFilter{Open: new(true)}); !slices.Equal(got, []int64{open}) {
		t.Errorf("open incidents after delete: %v, want [%d]", got, open)
	}
}
