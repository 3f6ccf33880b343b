package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// TestDraftRefreshCoalesced: once the draft is in the channel, changes
// schedule its refresh through one durable timer per incident, at least
// bot.DraftRefreshEvery after the last upload; a chatty incident (a note
// every 20 s for 12 minutes) asks for three uploads, not 36; resolving and
// correcting afterwards are refreshed too. Before the export, nothing is.
func TestDraftRefreshCoalesced(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := t0.Add(time.Hour)
	clock := func() time.Time { return now }
	s := bot.NewService(st, bot.Options{Now: clock, Chat: true})
	eng := bot.NewEngine(s, bot.EngineOptions{Now: clock})
	ctx := context.Background()
	id := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1))).Incident
	note := func(text string) {
		t.Helper()
		if _, err := s.Apply(ctx, id, bot.Action{Op: bot.OpNote, Actor: "U1", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	// refreshes returns the times of the refresh uploads asked for so far.
	refreshes := func() []time.Time {
		t.Helper()
		var out []time.Time
		err := st.View(ctx, func(tx bot.Tx) error {
			ds, err := tx.PendingAfter(0, 1000)
			for _, d := range ds {
				if d.Kind == bot.DeliveryPostmortem && d.Ref == bot.DraftRefreshRef {
					out = append(out, d.CreatedAt)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	timers := func() int {
		t.Helper()
		n := 0
		err := st.View(ctx, func(tx bot.Tx) error {
			ts, err := tx.DueTimers(now.Add(24*time.Hour), 1000)
			for _, x := range ts {
				if x.Kind == bot.TimerDraft {
					n++
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	note("before the export")
	if n := timers(); n != 0 {
		t.Fatalf("%d draft timers before any export", n)
	}
	if err := s.Request(ctx, id, bot.DeliveryPostmortem, "", "U1"); err != nil {
		t.Fatal(err)
	}
	exported := now
	for i := range 36 {
		now = now.Add(20 * time.Second)
		note(fmt.Sprintf("note %d", i))
		if n := timers(); n != 1 {
			t.Fatalf("after note %d: %d draft timers, want 1", i, n)
		}
		eng.Tick(ctx)
	}
	got := refreshes()
	if len(got) != 2 || !got[0].Equal(exported.Add(bot.DraftRefreshEvery)) || !got[1].Equal(got[0].Add(bot.DraftRefreshEvery)) {
		t.Fatalf("refreshes asked for at %v; want two, %v apart from the export", got, bot.DraftRefreshEvery)
	}
	// The last notes wait for the next refresh, which resolve joins.
	if _, err := s.Apply(ctx, id, bot.Action{Op: bot.OpResolve, Actor: "U1"}); err != nil {
		t.Fatal(err)
	}
	now = got[1].Add(bot.DraftRefreshEvery)
	eng.Tick(ctx)
	if got = refreshes(); len(got) != 3 {
		t.Fatalf("after resolving: %d refreshes, want 3", len(got))
	}
	if n := timers(); n != 0 {
		t.Fatalf("%d draft timers left with nothing changed", n)
	}
	// A correction long after: refreshed at once (the last upload is old).
	now = now.Add(time.Hour)
	tl, _ := s.Timeline(ctx, id)
	if _, err := s.Correct(ctx, id, tl[len(tl)-1].ID, bot.Correction{Text: new("resolved, corrected"), By: "U2"}); err != nil {
		t.Fatal(err)
	}
	eng.Tick(ctx)
	if got = refreshes(); len(got) != 4 || !got[3].Equal(now) {
		t.Fatalf("after a correction: refreshes %v, want a 4th at %v", got, now)
	}
	inc, _ := s.Incident(ctx, id)
	if inc.Draft == nil || !inc.Draft.PostedAt.Equal(now) || inc.Draft.RefreshAt != nil {
		t.Errorf("incident's draft state: %+v", inc.Draft)
	}
}
