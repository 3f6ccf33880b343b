package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// snapshot is everything the suite can observe of a store, to compare
// before and after something that must change nothing.
type snapshot struct {
	Incidents []*bot.Incident
	Timeline  []bot.TimelineEntry
	Pending   []bot.Delivery
	Channels  map[string]int64
	Chat      map[string]bot.ChatRecord
	Group     int64
	GroupRev  uint64
}

// seed stores one incident (channel C1, group r/g) with a timeline entry,
// two deliveries and one seen event, for tests that then try to change it.
func seed(t *testing.T, s bot.Store) (inc *bot.Incident, d1, d2 *bot.Delivery) {
	t.Helper()
	inc = full(1)
	inc.Receiver, inc.GroupKey = "r", "g"
	d1 = &bot.Delivery{Kind: "post", Text: "one", CreatedAt: t0}
	d2 = &bot.Delivery{Kind: "post", Text: "two", CreatedAt: t0}
	update(t, s, func(tx bot.Tx) error {
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		if err := tx.PutChatRecord(inc.ID, "slack", bot.ChatRecord{Room: "C1", RoomName: "inc-1", Data: []byte(`{"ts":"1.1"}`)}); err != nil {
			return err
		}
		d1.IncidentID, d2.IncidentID = inc.ID, inc.ID
		_, err := tx.MarkEvent("E1", t0, 24*time.Hour)
		return errors.Join(err, tx.Append(entry(inc.ID, t0, "seeded")), tx.Enqueue(d1), tx.Enqueue(d2))
	})
	return inc, d1, d2
}

func take(t *testing.T, s bot.Store, id int64) snapshot {
	t.Helper()
	snap := snapshot{Channels: map[string]int64{}}
	view(t, s, func(tx bot.Tx) (err error) {
		if snap.Incidents, err = tx.Incidents(bot.IncidentFilter{WithAlerts: true}); err != nil {
			return err
		}
		g, err := tx.Group("r", "g")
		if err != nil {
			return err
		}
		snap.GroupRev = g.Rev
		if snap.Timeline, err = tx.Timeline(id); err != nil {
			return err
		}
		if snap.Chat, err = tx.ChatRecords(id); err != nil {
			return err
		}
		snap.Pending, err = tx.Pending(0)
		return err
	})
	for _, ch := range []string{"C1", "C2", "C9"} {
		snap.Channels[ch] = lookup(t, s, "IncidentByRoom", func(tx bot.Tx) (*bot.Incident, error) { return tx.IncidentByRoom("slack", ch) })
	}
	snap.Group = lookup(t, s, "LatestInGroup", func(tx bot.Tx) (*bot.Incident, error) { return tx.LatestInGroup("r", "g") })
	return snap
}

// markFresh reports whether event id is new, in its own Update.
func markFresh(t *testing.T, s bot.Store, id string) bool {
	t.Helper()
	var fresh bool
	update(t, s, func(tx bot.Tx) (err error) {
		fresh, err = tx.MarkEvent(id, t0.Add(time.Hour), 24*time.Hour)
		return err
	})
	return fresh
}

// writes calls every write method of tx, each changing the seeded data,
// and returns the errors they gave by name.
func writes(tx bot.Tx, inc *bot.Incident, d1, d2 *bot.Delivery) map[string]error {
	changed := *inc
	changed.Title = "changed"
	created := minimal("created")
	created.Receiver, created.GroupKey = "r", "g"
	saved := *d1
	saved.Attempts, saved.LastError = 9, "changed"
	put := alertN(99, bot.AlertFiring)
	errs := map[string]error{
		"PutAlerts":      tx.PutAlerts(inc.ID, []bot.Alert{put}, digests(put)),
		"SetGroupDigest": tx.SetGroupDigest("r", "g", bot.Digest{9}, true),
		"DeleteIncident": deleteErr(tx.DeleteIncident(inc.ID, 1)),
		"CreateIncident": tx.CreateIncident(created),
		"UpdateIncident": tx.UpdateIncident(&changed),
		"PutChatRecord":  tx.PutChatRecord(inc.ID, "slack", bot.ChatRecord{Room: "C2", Data: []byte("changed")}),
		"Append":         tx.Append(entry(inc.ID, t0, "written")),
		"Enqueue":        tx.Enqueue(&bot.Delivery{IncidentID: inc.ID, Kind: "post", CreatedAt: t0}),
		"SaveDelivery":   tx.SaveDelivery(&saved),
		"Done":           tx.Done(d2.ID),
	}
	_, errs["MarkEvent"] = tx.MarkEvent("E2", t0.Add(time.Hour), 24*time.Hour)
	return errs
}

// testErrorRollsBack: when fn fails, nothing it wrote stays, whatever
// method wrote it, and its error comes back untouched.
func testErrorRollsBack(t *testing.T, s bot.Store) {
	inc, d1, d2 := seed(t, s)
	before := take(t, s, inc.ID)
	err := s.Update(context.Background(), func(tx bot.Tx) error {
		for name, err := range writes(tx, inc, d1, d2) {
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("Update: got error %v, want %v as is", err, errBoom)
	}
	if d := diff(take(t, s, inc.ID), before); d != "" {
		t.Errorf("after a failed Update (got vs want):\n%s", d)
	}
	if !markFresh(t, s, "E2") {
		t.Errorf("MarkEvent(E2) after the failed Update that marked it: got not fresh, want fresh")
	}
	if markFresh(t, s, "E1") {
		t.Errorf("MarkEvent(E1) seen before the failed Update: got fresh, want not fresh")
	}
}

// testViewIsReadOnly: every write method fails inside View and changes
// nothing.
func testViewIsReadOnly(t *testing.T, s bot.Store) {
	inc, d1, d2 := seed(t, s)
	before := take(t, s, inc.ID)
	var errs map[string]error
	view(t, s, func(tx bot.Tx) error {
		errs = writes(tx, inc, d1, d2)
		return nil
	})
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s inside View: got no error, want one", name)
		}
	}
	if d := diff(take(t, s, inc.ID), before); d != "" {
		t.Errorf("after writes inside View (got vs want):\n%s", d)
	}
	if !markFresh(t, s, "E2") {
		t.Errorf("MarkEvent(E2) after MarkEvent(E2) inside View: got not fresh, want fresh")
	}
}

// testConcurrentUpdates: 50 goroutines create an incident each and all
// change one shared incident. Every Update lands, numbers are unique and
// dense, and no change to the shared incident is lost.
func testConcurrentUpdates(t *testing.T, s bot.Store) {
	const n = 50
	shared := create(t, s, minimal("shared"))
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(context.Background(), func(tx bot.Tx) error {
				if err := tx.CreateIncident(minimal(fmt.Sprint("g", i))); err != nil {
					return err
				}
				inc, err := tx.Incident(shared)
				if err != nil {
					return err
				}
				inc.TruncatedAlerts++ // a counter: a lost update shows
				if err := tx.UpdateIncident(inc); err != nil {
					return err
				}
				return tx.Append(entry(shared, t0, fmt.Sprint("g", i)))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: Update: %v", i, err)
		}
	}
	got := titles(t, s)
	if len(got) != n+1 {
		t.Errorf("incidents stored: got %d, want %d", len(got), n+1)
	}
	for i, id := range sortedIDs(got) {
		if id != int64(i+1) {
			t.Fatalf("incident numbers: got %v, want 1...%d, each once", sortedIDs(got), n+1)
		}
	}
	if inc := get(t, s, shared); inc.TruncatedAlerts != n {
		t.Errorf("shared counter: got %d, want %d (an Update saw a stale incident)", inc.TruncatedAlerts, n)
	}
	if entries := timeline(t, s, shared); len(entries) != n {
		t.Errorf("shared timeline: got %d entries, want %d", len(entries), n)
	}
}

func deleteErr(_ bool, err error) error { return err }
