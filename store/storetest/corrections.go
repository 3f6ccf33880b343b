package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// testReplaceEntry: a corrected entry replaces the stored one in its
// place, with its history; replacing an absent entry changes nothing.
func testReplaceEntry(t *testing.T, s bot.Store) {
	one, two := create(t, s, minimal("one")), create(t, s, minimal("two"))
	a, b, c := entry(one, t0, "a"), entry(one, t0.Add(time.Minute), "b"), entry(two, t0, "c")
	update(t, s, func(tx bot.Tx) error { return tx.Append(a, b, c) })

	edited := t0.Add(time.Hour)
	fixed := *a
	fixed.At, fixed.Text, fixed.Struck, fixed.EditedAt = t0.Add(2*time.Minute), "a, corrected", true, &edited
	fixed.History = []bot.EntryVersion{{At: a.At, Text: a.Text, By: "U1", ReplacedAt: edited}}
	update(t, s, func(tx bot.Tx) error { return tx.ReplaceEntry(&fixed) })
	update(t, s, func(tx bot.Tx) error { return tx.ReplaceEntry(&fixed) }) // idempotent
	if d := diff(timeline(t, s, one), []bot.TimelineEntry{fixed, *b}); d != "" {
		t.Errorf("after ReplaceEntry, Timeline (got vs want):\n%s", d)
	}
	if d := diff(timeline(t, s, two), []bot.TimelineEntry{*c}); d != "" {
		t.Errorf("ReplaceEntry changed another incident's timeline (got vs want):\n%s", d)
	}
	for name, e := range map[string]bot.TimelineEntry{
		"unknown entry":               {IncidentID: one, ID: c.ID + 100, Text: "x"},
		"entry of another incident":   {IncidentID: two, ID: a.ID, Text: "x"},
		"entry of a missing incident": {IncidentID: 999, ID: a.ID, Text: "x"},
	} {
		err := s.Update(t.Context(), func(tx bot.Tx) error { return tx.ReplaceEntry(&e) })
		if !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("ReplaceEntry of an %s = %v, want ErrNotFound", name, err)
		}
	}
	if d := diff(timeline(t, s, one), []bot.TimelineEntry{fixed, *b}); d != "" {
		t.Errorf("a failed ReplaceEntry changed the timeline (got vs want):\n%s", d)
	}
}
