package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

func entry(incident int64, at time.Time, text string) *bot.TimelineEntry {
	return &bot.TimelineEntry{IncidentID: incident, At: at, Kind: bot.KindNote, Actor: "U1", Text: text, RecordedAt: t0.Add(time.Hour)}
}

func timeline(t *testing.T, s bot.Store, id int64) []bot.TimelineEntry {
	t.Helper()
	var got []bot.TimelineEntry
	view(t, s, func(tx bot.Tx) (err error) {
		got, err = tx.Timeline(id)
		return err
	})
	return got
}

func pending(t *testing.T, s bot.Store, limit int) []bot.Delivery {
	t.Helper()
	var got []bot.Delivery
	view(t, s, func(tx bot.Tx) (err error) {
		got, err = tx.Pending(limit)
		return err
	})
	return got
}

// testTimeline: entries come back per incident, in append order (not time
// order), with every field, and IDs that only grow.
func testTimeline(t *testing.T, s bot.Store) {
	one, two, quiet := create(t, s, minimal("one")), create(t, s, minimal("two")), create(t, s, minimal("quiet"))
	first := []*bot.TimelineEntry{entry(one, t0.Add(3*time.Minute), "a"), entry(two, t0, "b"), entry(one, t0.Add(time.Minute), "c")}
	second := []*bot.TimelineEntry{entry(one, t0, "d"), entry(two, t0.Add(-time.Hour), "e")}
	update(t, s, func(tx bot.Tx) error { return tx.Append(first...) })
	update(t, s, func(tx bot.Tx) error { return tx.Append() })
	update(t, s, func(tx bot.Tx) error { return tx.Append(second...) })

	appended := append(first, second...)
	for i := 1; i < len(appended); i++ {
		if appended[i].ID <= appended[i-1].ID {
			t.Errorf("entry %q got ID %d after entry %q got %d: want IDs that grow with every append",
				appended[i].Text, appended[i].ID, appended[i-1].Text, appended[i-1].ID)
		}
	}
	tests := []struct {
		incident int64
		want     []*bot.TimelineEntry
	}{
		{one, []*bot.TimelineEntry{first[0], first[2], second[0]}},
		{two, []*bot.TimelineEntry{first[1], second[1]}},
		{quiet, nil},
	}
	for _, tt := range tests {
		want := []bot.TimelineEntry{}
		for _, e := range tt.want {
			want = append(want, *e)
		}
		if d := diff(timeline(t, s, tt.incident), want); d != "" {
			t.Errorf("Timeline(%d) (got vs want):\n%s", tt.incident, d)
		}
	}
}

// testOutbox: deliveries are numbered upwards, listed lowest first, saved
// in place and removed idempotently.
func testOutbox(t *testing.T, s bot.Store) {
	inc := create(t, s, minimal("x"))
	delivery := func(text string) *bot.Delivery {
		return &bot.Delivery{IncidentID: inc, Kind: "post", Text: text, Ref: "ref-" + text, Actor: "U1", CreatedAt: t0}
	}
	d1, d2, d3 := delivery("1"), delivery("2"), delivery("3")
	update(t, s, func(tx bot.Tx) error { return errors.Join(tx.Enqueue(d1), tx.Enqueue(d2)) })
	update(t, s, func(tx bot.Tx) error { return tx.Enqueue(d3) })
	if !(d1.ID < d2.ID && d2.ID < d3.ID) {
		t.Fatalf("delivery IDs in Enqueue order: got %d, %d, %d, want increasing", d1.ID, d2.ID, d3.ID)
	}
	if d := diff(pending(t, s, 2), []bot.Delivery{*d1, *d2}); d != "" {
		t.Errorf("Pending(2) (got vs want):\n%s", d)
	}
	for _, tc := range []struct {
		after uint64
		limit int
		want  []bot.Delivery
	}{
		{0, 0, []bot.Delivery{*d1, *d2, *d3}},
		{d1.ID, 1, []bot.Delivery{*d2}},
		{d1.ID, 0, []bot.Delivery{*d2, *d3}},
		{d3.ID, 5, nil},
	} {
		var got []bot.Delivery
		view(t, s, func(tx bot.Tx) (err error) {
			got, err = tx.PendingAfter(tc.after, tc.limit)
			return err
		})
		if d := diff(got, tc.want); d != "" {
			t.Errorf("PendingAfter(%d, %d) (got vs want):\n%s", tc.after, tc.limit, d)
		}
	}
	d2.Attempts, d2.NotBefore, d2.LastError = 3, t0.Add(time.Minute), "rate limited"
	update(t, s, func(tx bot.Tx) error { return tx.SaveDelivery(d2) })
	if d := diff(pending(t, s, 10), []bot.Delivery{*d1, *d2, *d3}); d != "" {
		t.Errorf("Pending(10) after SaveDelivery (got vs want):\n%s", d)
	}
	for _, id := range []uint64{d1.ID, d1.ID, d3.ID + 100} {
		if err := s.Update(context.Background(), func(tx bot.Tx) error { return tx.Done(id) }); err != nil {
			t.Errorf("Done(%d): got error %v, want nil (removing an absent delivery is no error)", id, err)
		}
	}
	if d := diff(pending(t, s, 10), []bot.Delivery{*d2, *d3}); d != "" {
		t.Errorf("Pending(10) after Done(%d) (got vs want):\n%s", d1.ID, d)
	}
	d4 := delivery("4")
	update(t, s, func(tx bot.Tx) error { return tx.Enqueue(d4) })
	if d4.ID <= d3.ID {
		t.Errorf("delivery ID after removals: got %d, want more than %d", d4.ID, d3.ID)
	}
}

// testMarkEvent: an event ID is fresh once, then remembered for keep, then
// forgotten (so a store's record of events stays bounded).
func testMarkEvent(t *testing.T, s bot.Store) {
	const keep = time.Hour
	steps := []struct {
		name  string
		id    string
		at    time.Duration // after t0
		fresh bool
	}{
		{"first sight", "Ev1", 0, true},
		{"seen again", "Ev1", time.Minute, false},
		{"another event", "Ev2", 30 * time.Minute, true},
		{"another event seen again", "Ev2", 31 * time.Minute, false},
		{"first still remembered", "Ev1", 59 * time.Minute, false},
		{"second still remembered", "Ev2", 89 * time.Minute, false},
		// Whether a repeat extends the stay is left open: these times are
		// past keep both from first and from last sight.
		{"first forgotten after keep", "Ev1", 59*time.Minute + keep + 2*time.Minute, true},
		{"first remembered again", "Ev1", 150 * time.Minute, false},
		{"second forgotten after keep", "Ev2", 89*time.Minute + keep + 2*time.Minute, true},
		{"first forgotten again", "Ev1", 4 * keep, true},
	}
	for _, st := range steps {
		var fresh bool
		update(t, s, func(tx bot.Tx) (err error) {
			fresh, err = tx.MarkEvent(st.id, t0.Add(st.at), keep)
			return err
		})
		if fresh != st.fresh {
			t.Errorf("%s: MarkEvent(%q, t0+%s, %s): got fresh %v, want %v", st.name, st.id, st.at, keep, fresh, st.fresh)
		}
	}
}
