package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// everything is what a copy must keep, read through bot.Tx.
type everything struct {
	Incidents []*bot.Incident
	Timelines map[int64][]bot.TimelineEntry
	Pages     map[int64][]bot.Page
	Escs      map[int64][]bot.EscalationRun
	Chat      map[int64]map[string]bot.ChatRecord
	Rooms     map[string]int64
	Group     bot.GroupState
	Outbox    []bot.Delivery
	Timers    []bot.Timer
	Overrides []bot.Override
}

func readAll(t *testing.T, s bot.Store) everything {
	t.Helper()
	e := everything{Timelines: map[int64][]bot.TimelineEntry{}, Pages: map[int64][]bot.Page{}, Escs: map[int64][]bot.EscalationRun{},
		Chat: map[int64]map[string]bot.ChatRecord{}, Rooms: map[string]int64{}}
	err := s.View(context.Background(), func(tx bot.Tx) (err error) {
		if e.Incidents, err = tx.Incidents(bot.IncidentFilter{WithAlerts: true}); err != nil {
			return err
		}
		for _, inc := range e.Incidents {
			e.Timelines[inc.ID], _ = tx.Timeline(inc.ID)
			e.Pages[inc.ID], _ = tx.Pages(inc.ID)
			e.Escs[inc.ID], _ = tx.Escalations(inc.ID)
			e.Chat[inc.ID], _ = tx.ChatRecords(inc.ID)
			for adapter, r := range e.Chat[inc.ID] {
				if found, err := tx.IncidentByRoom(adapter, r.Room); err == nil {
					e.Rooms[adapter+"/"+r.Room] = found.ID
				}
			}
		}
		if e.Group, err = tx.Group("r", "g"); err != nil {
			return err
		}
		if e.Outbox, err = tx.Pending(0); err != nil {
			return err
		}
		if e.Timers, err = tx.DueTimers(time.Unix(0, math.MaxInt64), 0); err != nil {
			return err
		}
		e.Overrides, err = tx.Overrides()
		return err
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return e
}

// TestCopyFromBolt: a bbolt store with incidents (one deleted, leaving a
// gap in the numbers), alerts, timelines, a group, the outbox and on-call
// state is copied into an empty PostgreSQL store: everything reads back
// the same, new numbers continue after the copied ones, and a second copy
// is refused without writing anything.
func TestCopyFromBolt(t *testing.T) {
	dst := open(t)
	src, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	at := time.Date(2024, 3, 14, 9, 26, 53, 589793238, time.UTC)
	tokenExpiry := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond).UTC()
	ctx := context.Background()
	err = src.Update(ctx, func(tx bot.Tx) error {
		for i, title := range []string{"first", "gone", "third"} {
			inc := &bot.Incident{Title: title, Severity: bot.SEV2, Status: bot.StatusInvestigating, CreatedAt: at, DetectedAt: at,
				Alerts: []bot.Alert{
					{Fingerprint: "b" + title, Status: bot.AlertFiring, Labels: map[string]string{"alertname": title}, StartsAt: at},
					{Fingerprint: "a" + title, Status: bot.AlertFiring, Labels: map[string]string{"n": "\x00odd"}, StartsAt: at},
				}}
			if i == 2 {
				inc.Receiver, inc.GroupKey = "r", "g"
			}
			if err := tx.CreateIncident(inc); err != nil {
				return err
			}
			if err := tx.Append(&bot.TimelineEntry{IncidentID: inc.ID, At: at, Kind: "note", Text: title}); err != nil {
				return err
			}
			for _, adapter := range []string{"slack", "other"} {
				r := bot.ChatRecord{Room: "C" + title, RoomName: "inc-" + title, Data: []byte(adapter + "\x00" + title)}
				if err := tx.PutChatRecord(inc.ID, adapter, r); err != nil {
					return err
				}
			}
		}
		if _, err := tx.DeleteIncident(2, 100); err != nil {
			return err
		}
		if err := tx.SetGroupDigest("r", "g", bot.Digest{7}, true); err != nil {
			return err
		}
		if err := tx.Enqueue(&bot.Delivery{IncidentID: 3, Kind: "post", Text: "pending", CreatedAt: at}); err != nil {
			return err
		}
		run := &bot.EscalationRun{IncidentID: 3}
		if err := tx.CreateEscalation(run); err != nil {
			return err
		}
		if _, err := tx.ClaimPage(&bot.Page{IncidentID: 3, Escalation: run.ID, N: 1, Step: 1, Target: "U1", Via: "slack"}); err != nil {
			return err
		}
		if err := tx.AddTimer(&bot.Timer{Due: at.Add(time.Minute), Kind: "escalate", IncidentID: 3, Escalation: run.ID}); err != nil {
			return err
		}
		// Ack links: one still valid, one expired (not worth copying).
		if err := tx.AddPageToken("live-hash", 3, 1, tokenExpiry); err != nil {
			return err
		}
		if err := tx.AddPageToken("stale-hash", 3, 1, time.Now().Add(-time.Minute)); err != nil {
			return err
		}
		return tx.AddOverride(&bot.Override{Team: "ops", Schedule: "day", User: "U2", Start: at, End: at.Add(time.Hour), CreatedAt: at})
	})
	if err != nil {
		t.Fatalf("fill the source: %v", err)
	}
	want := readAll(t, src)

	c, err := dst.CopyFrom(ctx, src)
	if err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	if c.Incidents != 2 || c.Alerts != 4 || c.Entries != 2 || c.ChatRecords != 4 || c.Groups != 1 || c.Deliveries != 1 || c.Timers != 1 || c.Pages != 1 || c.Escalations != 1 || c.Overrides != 1 || c.Tokens != 1 {
		t.Errorf("copied %+v, want 2 incidents, 4 alerts, 2 entries, 4 chat records and one of each other", c)
	}
	if len(want.Rooms) != 4 || want.Rooms["slack/Cthird"] != 3 {
		t.Errorf("rooms in the source: %v, want 4, slack/Cthird at 3", want.Rooms)
	}
	if got := readAll(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("after the copy:\n got %+v\nwant %+v", got, want)
	}
	// An ack link sent before the move still finds its page, and expires
	// when it would have; an expired one is left behind.
	err = dst.View(ctx, func(tx bot.Tx) error {
		inc, page, exp, err := tx.PageToken("live-hash")
		if err != nil {
			return fmt.Errorf("the live ack token after the copy: %w", err)
		}
		if inc != 3 || page != 1 || !exp.Equal(tokenExpiry) {
			return fmt.Errorf("the live ack token after the copy: incident %d page %d expires %v, want 3, 1, %v", inc, page, exp, tokenExpiry)
		}
		if _, _, _, err := tx.PageToken("stale-hash"); !errors.Is(err, bot.ErrNotFound) {
			return fmt.Errorf("the expired ack token after the copy: got %v, want not found", err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	// Numbers go on after the copied ones, in every series.
	err = dst.Update(ctx, func(tx bot.Tx) error {
		inc := &bot.Incident{Title: "after", Severity: bot.SEV3, Status: bot.StatusInvestigating, CreatedAt: at, DetectedAt: at}
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		if inc.ID != 4 {
			return errors.New("the first incident after the copy is not number 4")
		}
		e := &bot.TimelineEntry{IncidentID: 3, At: at, Kind: "note", Text: "later"}
		d := &bot.Delivery{IncidentID: 3, Kind: "post", CreatedAt: at}
		tm := &bot.Timer{Due: at, Kind: "escalate", IncidentID: 3}
		o := &bot.Override{Team: "ops", Start: at, End: at, CreatedAt: at}
		if err := errors.Join(tx.Append(e), tx.Enqueue(d), tx.AddTimer(tm), tx.AddOverride(o)); err != nil {
			return err
		}
		if e.ID <= want.Timelines[3][0].ID || d.ID <= want.Outbox[0].ID || tm.ID <= want.Timers[0].ID || o.ID <= want.Overrides[0].ID {
			return errors.New("an ID after the copy is not above the copied ones")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after the copy: %v", err)
	}

	before := readAll(t, dst)
	if _, err := dst.CopyFrom(ctx, src); !errors.Is(err, bot.ErrConflict) {
		t.Errorf("second CopyFrom: got %v, want ErrConflict", err)
	}
	if got := readAll(t, dst); !reflect.DeepEqual(got, before) {
		t.Errorf("a refused copy changed the destination")
	}
}
