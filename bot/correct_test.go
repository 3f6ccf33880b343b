package bot_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

func TestCorrectKeepsHistoryAndRefolds(t *testing.T) {
	s, _ := newService(t, bot.Policy{})
	ctx := context.Background()
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	for _, a := range []bot.Action{
		{Op: bot.OpAck, Actor: "U1", When: "14:15"},
		{Op: bot.OpNote, Actor: "U1", When: "14:20", Text: "bad tiem"},
		{Op: bot.OpCause, Actor: "U1", When: "14:30", Text: "DNS"},
		{Op: bot.OpCause, Actor: "U2", When: "14:40", Text: "a memory leak"},
		{Op: bot.OpAction, Actor: "U2", When: "14:50", Text: "add memory alerts"},
	} {
		if _, err := s.Apply(ctx, 1, a); err != nil {
			t.Fatal(err)
		}
	}
	byKind := func(k bot.Kind) []bot.TimelineEntry {
		tl, _ := s.Timeline(ctx, 1)
		var out []bot.TimelineEntry
		for _, e := range tl {
			if e.Kind == k {
				out = append(out, e)
			}
		}
		return out
	}
	ack, note, causes, action := byKind(bot.KindAcknowledged)[0], byKind(bot.KindNote)[0], byKind(bot.KindCause), byKind(bot.KindActionItem)[0]

	tests := []struct {
		name  string
		entry uint64
		c     bot.Correction
		want  error
		check func(inc *bot.Incident, e *bot.TimelineEntry) bool
	}{
		{"fix a typo", note.ID, bot.Correction{Text: new("bad time\x00"), By: "<@U3|carol>"}, nil,
			func(_ *bot.Incident, e *bot.TimelineEntry) bool {
				return e.Text == "bad time" && len(e.History) == 1 && e.History[0].Text == "bad tiem" && e.History[0].By == "U3" && e.EditedAt != nil
			}},
		{"move the ack moves the incident's ack", ack.ID, bot.Correction{When: "14:05", By: "U3"}, nil,
			func(inc *bot.Incident, e *bot.TimelineEntry) bool {
				return e.At.Equal(t0.Add(5*time.Minute)) && inc.AcknowledgedAt.Equal(t0.Add(5*time.Minute))
			}},
		{"strike the later cause: the earlier one counts", causes[1].ID, bot.Correction{Struck: new(true), By: "U3"}, nil,
			func(inc *bot.Incident, e *bot.TimelineEntry) bool { return e.Struck && inc.Cause == "DNS" }},
		{"restore it", causes[1].ID, bot.Correction{Struck: new(false), By: "U3"}, nil,
			func(inc *bot.Incident, e *bot.TimelineEntry) bool {
				return !e.Struck && inc.Cause == "a memory leak" && len(e.History) == 2
			}},
		{"strike an action item", action.ID, bot.Correction{Struck: new(true), By: "U3"}, nil,
			func(inc *bot.Incident, _ *bot.TimelineEntry) bool { return len(inc.ActionItems) == 0 }},
		{"before detection is fine", note.ID, bot.Correction{When: "2024-06-20 13:00", By: "U3"}, nil,
			func(_ *bot.Incident, e *bot.TimelineEntry) bool { return e.At.Equal(t0.Add(-time.Hour)) }},
		{"same again", note.ID, bot.Correction{Text: new("bad time"), By: "U3"}, bot.ErrConflict, nil},
		{"the future", note.ID, bot.Correction{When: "2030-01-01T00:00:00Z", By: "U3"}, bot.ErrInvalid, nil},
		{"nothing", note.ID, bot.Correction{By: "U3"}, bot.ErrInvalid, nil},
		{"empty text", note.ID, bot.Correction{Text: new(" \x00 "), By: "U3"}, bot.ErrInvalid, nil},
		{"nobody", note.ID, bot.Correction{Struck: new(true)}, bot.ErrInvalid, nil},
		{"no such entry", 9999, bot.Correction{Struck: new(true), By: "U3"}, bot.ErrNotFound, nil},
	}
	for _, tt := range tests {
		before, _ := s.Timeline(ctx, 1)
		e, err := s.Correct(ctx, 1, tt.entry, tt.c)
		after, _ := s.Timeline(ctx, 1)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Correct = %v, want %v", tt.name, err, tt.want)
			continue
		}
		if len(after) != len(before) {
			t.Errorf("%s: the timeline went from %d to %d entries; corrections add and delete none", tt.name, len(before), len(after))
		}
		if tt.check != nil {
			inc, _ := s.Incident(ctx, 1)
			if !tt.check(inc, e) {
				t.Errorf("%s: entry %+v, incident impact %q cause %q actions %v ack %v", tt.name, e, inc.Impact, inc.Cause, inc.ActionItems, inc.AcknowledgedAt)
			}
		}
	}
	if _, err := s.Correct(ctx, 2, note.ID, bot.Correction{Struck: new(true), By: "U3"}); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("Correct on a missing incident = %v, want ErrNotFound", err)
	}
	p, _ := s.Postmortem(ctx, 1, nil)
	md := p.Markdown()
	if _, err := s.Correct(ctx, 1, note.ID, bot.Correction{Struck: new(true), By: "U3"}); err != nil {
		t.Fatal(err)
	}
	p, _ = s.Postmortem(ctx, 1, nil)
	if struck := p.Markdown(); !strings.Contains(md, "bad time") || strings.Contains(struck, "bad time") || strings.Contains(struck, "bad tiem") {
		t.Errorf("a struck entry must leave the draft, and an edited one show its new text:\nbefore:\n%s\nafter:\n%s", md, struck)
	}
}

// TestBeforeDetectionIsStored: the mark is decided when an entry is
// recorded and when its time is corrected, and stored with it; an entry
// recorded before the mark existed still shows it, worked out from the
// incident, on the timeline and in the draft.
func TestBeforeDetectionIsStored(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := t0.Add(3 * time.Hour)
	s := bot.NewService(st, bot.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1))) // detected 14:00
	for _, a := range []bot.Action{
		{Op: bot.OpNote, Actor: "U1", When: "13:10", Text: "deploy 4411"},
		{Op: bot.OpNote, Actor: "U1", When: "14:20", Text: "restarted"},
	} {
		if _, err := s.Apply(ctx, 1, a); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() map[string]*bool {
		out := map[string]*bool{}
		err := st.View(ctx, func(tx bot.Tx) error {
			tl, err := tx.Timeline(1)
			for _, e := range tl {
				out[e.Text] = e.BeforeDetection
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	mark := func(b *bool) string {
		if b == nil {
			return "none"
		}
		return strconv.FormatBool(*b)
	}
	if got := stored(); mark(got["deploy 4411"]) != "true" || mark(got["restarted"]) != "false" {
		t.Fatalf("stored marks: deploy %s, restarted %s; want true, false", mark(got["deploy 4411"]), mark(got["restarted"]))
	}
	tl, _ := s.Timeline(ctx, 1)
	var restarted bot.TimelineEntry
	for _, e := range tl {
		if e.Text == "restarted" {
			restarted = e
		}
	}
	if _, err := s.Correct(ctx, 1, restarted.ID, bot.Correction{When: "13:50", By: "U2"}); err != nil {
		t.Fatal(err)
	}
	if got := stored(); mark(got["restarted"]) != "true" {
		t.Fatalf("after moving it to 13:50, stored mark %s, want true", mark(got["restarted"]))
	}

	// An entry recorded before marks were stored.
	old := &bot.TimelineEntry{IncidentID: 1, At: t0.Add(-30 * time.Minute), Kind: bot.KindNote, Actor: "U1", Text: "old note", RecordedAt: now}
	if err := st.Update(ctx, func(tx bot.Tx) error { return tx.Append(old) }); err != nil {
		t.Fatal(err)
	}
	if got := stored(); mark(got["old note"]) != "none" {
		t.Fatalf("the old entry was stored with a mark: %s", mark(got["old note"]))
	}
	tl, _ = s.Timeline(ctx, 1)
	inc, _ := s.Incident(ctx, 1)
	for _, e := range tl {
		if e.Text == "old note" && (e.BeforeDetection == nil || !*e.BeforeDetection) {
			t.Errorf("Timeline shows the old entry without its mark: %+v", e)
		}
	}
	md := bot.Draft(inc, tl, nil, now).Markdown()
	for _, want := range []string{"old note — U1 *(before detection)*", "deploy 4411 — U1 *(before detection)*", "restarted — U1 *(before detection)*"} {
		if !strings.Contains(md, want) {
			t.Errorf("draft lacks %q:\n%s", want, md)
		}
	}
}
