package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// testOnCall checks the on-call records: timers by due time, escalation
// runs, page claims, ack tokens and overrides.
func testOnCall(t *testing.T, s bot.Store) {
	for _, tt := range []struct {
		name string
		test func(t *testing.T, s bot.Store)
	}{
		{"Timers", testTimers},
		{"Escalations", testEscalations},
		{"Pages", testPages},
		{"Overrides", testOverrides},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, s) })
	}
}

func timerIDs(ts []bot.Timer) []uint64 {
	out := []uint64{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func testTimers(t *testing.T, s bot.Store) {
	view(t, s, func(tx bot.Tx) error {
		if _, err := tx.NextTimer(); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("NextTimer of an empty store: %v, want ErrNotFound", err)
		}
		if due, err := tx.DueTimers(t0, 0); err != nil || len(due) != 0 {
			t.Errorf("DueTimers of an empty store: %v %v", due, err)
		}
		return nil
	})
	// Added out of time order, one before 1970, two at the same moment.
	in := []*bot.Timer{
		{Due: t0.Add(time.Hour), Kind: bot.TimerStep, IncidentID: 1, Escalation: 2, N: 1, CreatedAt: t0},
		{Due: t0, Kind: bot.TimerPage, IncidentID: 1, Page: 7, CreatedAt: t0},
		{Due: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), Kind: bot.TimerStep, CreatedAt: t0},
		{Due: t0, Kind: bot.TimerPage, IncidentID: 2, Page: 8, CreatedAt: t0},
	}
	update(t, s, func(tx bot.Tx) error {
		for _, tm := range in {
			if err := tx.AddTimer(tm); err != nil {
				return err
			}
		}
		return nil
	})
	if in[0].ID == 0 || in[1].ID <= in[0].ID || in[3].ID <= in[2].ID {
		t.Fatalf("timer IDs not given in order: %d %d %d %d", in[0].ID, in[1].ID, in[2].ID, in[3].ID)
	}
	view(t, s, func(tx bot.Tx) error {
		due, err := tx.DueTimers(t0, 0)
		if err != nil {
			return err
		}
		if got, want := timerIDs(due), []uint64{in[2].ID, in[1].ID, in[3].ID}; diff(got, want) != "" {
			t.Errorf("DueTimers(t0) = %v, want %v (earliest first, then by ID)", got, want)
		}
		if d := diff(due[1], *in[1]); d != "" {
			t.Errorf("timer round trip: %s", d)
		}
		if due, _ := tx.DueTimers(t0.Add(2*time.Hour), 2); len(due) != 2 {
			t.Errorf("DueTimers with limit 2 returned %d", len(due))
		}
		// Read page by page: two, then the rest after the second.
		first, err := tx.TimersAfter(nil, t0.Add(2*time.Hour), 2)
		if err != nil {
			return err
		}
		rest, err := tx.TimersAfter(&first[1], t0.Add(2*time.Hour), 10)
		if err != nil {
			return err
		}
		if got, want := timerIDs(append(first, rest...)), []uint64{in[2].ID, in[1].ID, in[3].ID, in[0].ID}; diff(got, want) != "" {
			t.Errorf("TimersAfter page by page = %v, want %v", got, want)
		}
		if rest, _ := tx.TimersAfter(&first[1], t0, 10); len(rest) != 1 || rest[0].ID != in[3].ID {
			t.Errorf("TimersAfter(second, t0) = %v, want only %d (same due time, larger ID)", timerIDs(rest), in[3].ID)
		}
		next, err := tx.NextTimer()
		if err != nil || next.ID != in[2].ID {
			t.Errorf("NextTimer = %v, %v; want %d", next, err, in[2].ID)
		}
		return nil
	})
	// Moving a timer moves it in the index; deleting takes it out of both.
	update(t, s, func(tx bot.Tx) error {
		moved := *in[2]
		moved.Due = t0.Add(30 * time.Minute)
		if err := tx.SaveTimer(&moved); err != nil {
			return err
		}
		if err := tx.DeleteTimer(in[1].ID); err != nil {
			return err
		}
		return tx.DeleteTimer(9999)
	})
	view(t, s, func(tx bot.Tx) error {
		due, _ := tx.DueTimers(t0.Add(2*time.Hour), 0)
		if got, want := timerIDs(due), []uint64{in[3].ID, in[2].ID, in[0].ID}; diff(got, want) != "" {
			t.Errorf("after moving and deleting: %v, want %v", got, want)
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx bot.Tx) error { return tx.SaveTimer(&bot.Timer{ID: 9999, Due: t0}) })
	if !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("SaveTimer of an absent timer: %v, want ErrNotFound", err)
	}
	if err := s.View(t.Context(), func(tx bot.Tx) error { return tx.AddTimer(&bot.Timer{Due: t0}) }); err == nil {
		t.Error("AddTimer inside View succeeded")
	}
}

func testEscalations(t *testing.T, s bot.Store) {
	a := &bot.EscalationRun{IncidentID: 3, Team: "payments", StartedAt: t0, StartedBy: "alertmanager"}
	b := &bot.EscalationRun{IncidentID: 3, User: "U0A", StartedAt: t0, StartedBy: "<@U0B>", Message: "help"}
	c := &bot.EscalationRun{IncidentID: 4, Team: "search", StartedAt: t0}
	update(t, s, func(tx bot.Tx) error {
		for _, e := range []*bot.EscalationRun{a, b, c} {
			if err := tx.CreateEscalation(e); err != nil {
				return err
			}
		}
		a.Fired, a.FiredAt, a.StoppedAt, a.Stopped = 1, []time.Time{t0}, new(t0.Add(time.Minute)), "acknowledged"
		return tx.SaveEscalation(a)
	})
	view(t, s, func(tx bot.Tx) error {
		got, err := tx.Escalations(3)
		if err != nil {
			return err
		}
		if d := diff(got, []bot.EscalationRun{*a, *b}); d != "" {
			t.Errorf("Escalations(3): %s", d)
		}
		if got, _ := tx.Escalations(5); len(got) != 0 {
			t.Errorf("Escalations(5) = %v, want none", got)
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx bot.Tx) error {
		return tx.SaveEscalation(&bot.EscalationRun{ID: c.ID, IncidentID: 3})
	})
	if !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("SaveEscalation under the wrong incident: %v, want ErrNotFound", err)
	}
}

func testPages(t *testing.T, s bot.Store) {
	p := &bot.Page{IncidentID: 5, Escalation: 1, N: 0, Step: 1, Target: "U0A", Via: bot.ViaEmail, Address: "a@example.com",
		At: t0, Status: bot.PagePending, Team: "payments"}
	var fresh, again bool
	update(t, s, func(tx bot.Tx) error {
		var err error
		if fresh, err = tx.ClaimPage(p); err != nil {
			return err
		}
		dup := *p
		dup.ID, dup.Address = 0, "other@example.com"
		if again, err = tx.ClaimPage(&dup); err != nil {
			return err
		}
		if dup.ID != 0 {
			t.Errorf("a refused claim got ID %d", dup.ID)
		}
		other := *p
		other.ID, other.Via = 0, bot.ViaSlack
		_, err = tx.ClaimPage(&other)
		return err
	})
	if !fresh || again || p.ID == 0 {
		t.Fatalf("ClaimPage: fresh %v, again %v, id %d; want true, false, an ID", fresh, again, p.ID)
	}
	// The claim survives the transaction: a later one refuses too.
	update(t, s, func(tx bot.Tx) error {
		dup := *p
		dup.ID = 0
		ok, err := tx.ClaimPage(&dup)
		if ok {
			t.Error("a page claimed in an earlier transaction was claimed again")
		}
		return err
	})
	update(t, s, func(tx bot.Tx) error {
		p.Status, p.Attempts, p.SentAt = bot.PageSent, 1, new(t0.Add(time.Second))
		if err := tx.SavePage(p); err != nil {
			return err
		}
		return tx.AddPageToken("hash-1", p.IncidentID, p.ID, t0.Add(24*time.Hour))
	})
	view(t, s, func(tx bot.Tx) error {
		got, err := tx.Page(5, p.ID)
		if err != nil {
			return err
		}
		if d := diff(*got, *p); d != "" {
			t.Errorf("Page: %s", d)
		}
		all, _ := tx.Pages(5)
		if len(all) != 2 || all[0].ID != p.ID || all[1].Via != bot.ViaSlack {
			t.Errorf("Pages(5) = %+v, want the email page then the slack page", all)
		}
		if _, err := tx.Page(6, p.ID); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("Page under the wrong incident: %v, want ErrNotFound", err)
		}
		inc, id, exp, err := tx.PageToken("hash-1")
		if err != nil || inc != 5 || id != p.ID || !exp.Equal(t0.Add(24*time.Hour)) {
			t.Errorf("PageToken = %d %d %s %v", inc, id, exp, err)
		}
		if _, _, _, err := tx.PageToken("hash-2"); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("unknown token: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testOverrides(t *testing.T, s bot.Store) {
	old := &bot.Override{Team: "payments", Schedule: "primary", User: "U0A", Start: t0, End: t0.Add(time.Hour), CreatedAt: t0}
	recent := &bot.Override{Team: "payments", Schedule: "primary", User: "U0B", Start: t0.Add(10 * 24 * time.Hour),
		End: t0.Add(11 * 24 * time.Hour), CreatedAt: t0.Add(2 * 24 * time.Hour), By: "<@U0C>"}
	update(t, s, func(tx bot.Tx) error { return tx.AddOverride(old) })
	update(t, s, func(tx bot.Tx) error { return tx.AddOverride(recent) })
	view(t, s, func(tx bot.Tx) error {
		got, err := tx.Overrides()
		if d := diff(got, []bot.Override{*old, *recent}); err != nil || d != "" {
			t.Errorf("Overrides: %v %s", err, d)
		}
		return nil
	})
	// An override created more than a week after the old one ended
	// forgets it.
	late := &bot.Override{Team: "search", Schedule: "day", User: "U0D", Start: t0.Add(9 * 24 * time.Hour),
		End: t0.Add(10 * 24 * time.Hour), CreatedAt: t0.Add(9 * 24 * time.Hour)}
	update(t, s, func(tx bot.Tx) error { return tx.AddOverride(late) })
	view(t, s, func(tx bot.Tx) error {
		got, _ := tx.Overrides()
		if d := diff(got, []bot.Override{*recent, *late}); d != "" {
			t.Errorf("after forgetting: %s", d)
		}
		return nil
	})
}
