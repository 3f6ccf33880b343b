package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// testNumbering: incidents are INC-1, INC-2, INC-3... A failed Update
// consumes no number, and never makes a committed number come round again.
func testNumbering(t *testing.T, s bot.Store) {
	var got []int64
	for i := range 3 {
		got = append(got, create(t, s, minimal(fmt.Sprint("one-by-one ", i))))
	}
	update(t, s, func(tx bot.Tx) error {
		got = got[:3] // fn may run more than once
		for i := range 2 {
			inc := minimal(fmt.Sprint("same tx ", i))
			if err := tx.CreateIncident(inc); err != nil {
				return err
			}
			got = append(got, inc.ID)
		}
		return nil
	})
	if want := []int64{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("numbers: got %v, want %v", got, want)
	}

	err := s.Update(context.Background(), func(tx bot.Tx) error {
		if err := tx.CreateIncident(minimal("failed")); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("failing Update: got error %v, want %v as is", err, errBoom)
	}
	if id := create(t, s, minimal("after failure")); id != 6 {
		t.Errorf("number after a failed Update: got %d, want 6 (the failed one left nothing behind)", id)
	}
	want := map[string]int64{"one-by-one 0": 1, "one-by-one 1": 2, "one-by-one 2": 3, "same tx 0": 4, "same tx 1": 5, "after failure": 6}
	if d := diff(titles(t, s), want); d != "" {
		t.Errorf("stored incidents, title -> number (got vs want):\n%s", d)
	}
}

// testRoundTrip: what goes in comes back, every field, through Create,
// Update and reads in the same and in later transactions.
func testRoundTrip(t *testing.T, s bot.Store) {
	berlin := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name          string
		create, later func() *bot.Incident
	}{
		{"every field set, then changed", func() *bot.Incident { return full(1) }, func() *bot.Incident { return full(2) }},
		{"nil pointers stay nil", func() *bot.Incident { return minimal("bare") }, func() *bot.Incident { return minimal("still bare") }},
		{"set pointers, then cleared", func() *bot.Incident { return full(3) }, func() *bot.Incident { return minimal("cleared") }},
		{"times in another zone keep their instant", func() *bot.Incident {
			inc := full(4)
			inc.CreatedAt, inc.AcknowledgedAt = inc.CreatedAt.In(berlin), new(inc.AcknowledgedAt.In(berlin))
			return inc
		}, func() *bot.Incident { return full(5) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inTx *bot.Incident
			update(t, s, func(tx bot.Tx) (err error) {
				inc := tt.create()
				if err := tx.CreateIncident(inc); err != nil {
					return err
				}
				inTx, err = tx.Incident(inc.ID)
				return err
			})
			want := tt.create()
			want.ID = inTx.ID
			if d := diff(inTx, want); d != "" {
				t.Errorf("Incident in the creating transaction (got vs want):\n%s", d)
			}
			if d := diff(get(t, s, want.ID), want); d != "" {
				t.Errorf("Incident after CreateIncident (got vs want):\n%s", d)
			}
			changed := tt.later()
			changed.ID = want.ID
			save(t, s, changed)
			alerts := want.Alerts // UpdateIncident leaves the alerts as they are
			want = tt.later()
			want.ID, want.Alerts = changed.ID, alerts
			if d := diff(get(t, s, want.ID), want); d != "" {
				t.Errorf("Incident after UpdateIncident (got vs want):\n%s", d)
			}
			header := get(t, s, want.ID)
			view(t, s, func(tx bot.Tx) (err error) {
				header, err = tx.IncidentHeader(want.ID)
				return err
			})
			want.Alerts = nil
			if d := diff(header, want); d != "" {
				t.Errorf("IncidentHeader (got vs want):\n%s", d)
			}
		})
	}
}

// testRecordsAreCopied: the store keeps no reference to what it was given
// and hands out nothing it still uses.
func testRecordsAreCopied(t *testing.T, s bot.Store) {
	var id int64
	update(t, s, func(tx bot.Tx) error {
		inc := full(1)
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		id = inc.ID
		inc.Title, inc.Alerts[0].Labels["severity"], inc.ActionItems[0].Text = "mutated", "mutated", "mutated"
		return nil
	})
	want := full(1)
	want.ID = id
	got := get(t, s, id)
	if d := diff(got, want); d != "" {
		t.Errorf("after the caller changed the record it passed in (got vs want):\n%s", d)
	}
	got.Title, got.Alerts[0].Labels["severity"], *got.ResolvedAt = "mutated", "mutated", time.Time{}
	if d := diff(get(t, s, id), want); d != "" {
		t.Errorf("after the caller changed a record it was given (got vs want):\n%s", d)
	}
}

// testNotFound: every lookup of something absent says ErrNotFound.
func testNotFound(t *testing.T, s bot.Store) {
	inc := full(1)
	create(t, s, inc) // so that absence is not just an empty store
	tests := []struct {
		name string
		call func(tx bot.Tx) error
	}{
		{"Incident of an unknown id", func(tx bot.Tx) error { _, err := tx.Incident(42); return err }},
		{"Incident 0", func(tx bot.Tx) error { _, err := tx.Incident(0); return err }},
		{"LatestInGroup of an unknown group", func(tx bot.Tx) error { _, err := tx.LatestInGroup(inc.Receiver, "other"); return err }},
		{"LatestInGroup of another receiver", func(tx bot.Tx) error { _, err := tx.LatestInGroup("other", inc.GroupKey); return err }},
		{"IncidentByRoom of an unknown room", func(tx bot.Tx) error { _, err := tx.IncidentByRoom("slack", "C404"); return err }},
		{"IncidentByRoom of no room", func(tx bot.Tx) error { _, err := tx.IncidentByRoom("slack", ""); return err }},
		{"PutChatRecord of an unknown id", func(tx bot.Tx) error { return tx.PutChatRecord(42, "slack", bot.ChatRecord{Room: "C1"}) }},
		{"UpdateIncident of an unknown id", func(tx bot.Tx) error { return tx.UpdateIncident(&bot.Incident{ID: 42, Title: "x", Severity: bot.SEV2}) }},
		{"SaveDelivery of an unknown id", func(tx bot.Tx) error { return tx.SaveDelivery(&bot.Delivery{ID: 42, Kind: "x"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(context.Background(), tt.call)
			if !errors.Is(err, bot.ErrNotFound) {
				t.Errorf("got error %v, want one wrapping %v", err, bot.ErrNotFound)
			}
		})
	}
}

// testLatestInGroup: a group's newest incident, open or not; groups are
// told apart by receiver and key together.
func testLatestInGroup(t *testing.T, s bot.Store) {
	grouped := func(receiver, key string) *bot.Incident {
		inc := minimal(receiver + "/" + key)
		inc.Receiver, inc.GroupKey = receiver, key
		return inc
	}
	create(t, s, grouped("r1", "g1"))
	create(t, s, grouped("r1", "g2"))
	newest := create(t, s, grouped("r1", "g1"))
	otherReceiver := create(t, s, grouped("r2", "g1"))
	joined := create(t, s, grouped("ab", "c"))
	create(t, s, minimal("declared by hand"))
	resolved := get(t, s, newest)
	resolved.Status, resolved.ResolvedAt = bot.StatusResolved, new(t0.Add(time.Hour))
	save(t, s, resolved)

	var sameTx, sameTxGot int64
	update(t, s, func(tx bot.Tx) error {
		inc := grouped("r1", "g2")
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		latest, err := tx.LatestInGroup("r1", "g2")
		if err != nil {
			return err
		}
		sameTx, sameTxGot = inc.ID, latest.ID
		return nil
	})
	if sameTxGot != sameTx {
		t.Errorf("LatestInGroup in the creating transaction: got %d, want %d", sameTxGot, sameTx)
	}
	tests := []struct {
		receiver, key string
		want          int64 // 0: ErrNotFound
	}{
		{"r1", "g1", newest}, // resolved, still the latest
		{"r1", "g2", sameTx},
		{"r2", "g1", otherReceiver},
		{"ab", "c", joined},
		{"a", "bc", 0},
		{"r3", "g1", 0},
		{"", "", 0}, // incidents declared by hand belong to no group
	}
	for _, tt := range tests {
		what := fmt.Sprintf("LatestInGroup(%q, %q)", tt.receiver, tt.key)
		got := lookup(t, s, what, func(tx bot.Tx) (*bot.Incident, error) { return tx.LatestInGroup(tt.receiver, tt.key) })
		if got != tt.want {
			t.Errorf("%s: got incident %d, want %d (0 = ErrNotFound)", what, got, tt.want)
		}
	}
	if got := get(t, s, newest); got.Status != bot.StatusResolved {
		t.Errorf("LatestInGroup's incident status: got %q, want %q", got.Status, bot.StatusResolved)
	}
}

// testIncidents: listing is newest first, filtered by status, capped by
// Limit, paged by Before.
func testIncidents(t *testing.T, s bot.Store) {
	if got := list(t, s, bot.IncidentFilter{}); len(got) != 0 {
		t.Errorf("Incidents of an empty store: got %v, want none", got)
	}
	for i, open := range []bool{false, true, false, true, true, false} { // incidents 1...6
		inc := minimal(fmt.Sprint(i + 1))
		if !open {
			inc.Status, inc.ResolvedAt = bot.StatusResolved, new(t0)
		}
		create(t, s, inc)
	}
	yes, no := new(true), new(false)
	tests := []struct {
		name string
		f    bot.IncidentFilter
		want []int64
	}{
		{"all", bot.IncidentFilter{}, []int64{6, 5, 4, 3, 2, 1}},
		{"open", bot.IncidentFilter{Open: yes}, []int64{5, 4, 2}},
		{"resolved", bot.IncidentFilter{Open: no}, []int64{6, 3, 1}},
		{"limit", bot.IncidentFilter{Limit: 2}, []int64{6, 5}},
		{"limit above count", bot.IncidentFilter{Limit: 10}, []int64{6, 5, 4, 3, 2, 1}},
		{"before", bot.IncidentFilter{Before: 4}, []int64{3, 2, 1}},
		{"before the first", bot.IncidentFilter{Before: 1}, []int64{}},
		{"before beyond the last", bot.IncidentFilter{Before: 100}, []int64{6, 5, 4, 3, 2, 1}},
		{"open before", bot.IncidentFilter{Open: yes, Before: 4}, []int64{2}},
		{"open, limit, before", bot.IncidentFilter{Open: yes, Limit: 2, Before: 6}, []int64{5, 4}},
		{"resolved, limit", bot.IncidentFilter{Open: no, Limit: 1}, []int64{6}},
	}
	for _, tt := range tests {
		if got := list(t, s, tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Incidents(%+v): got %v, want %v", tt.name, tt.f, got, tt.want)
		}
	}
}
