package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/postgres"
)

// A request of a batch whose deferred write the server refuses (a
// constraint, at the batch's last round trip, with COMMIT) must not cost the
// other requests an ErrUnavailable: the server answered, the batch is
// rolled back for sure, and each request runs again alone.
func TestBatchServerErrorRunsRequestsAlone(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const n = 8
	// The refused request comes last: its write waits for the COMMIT
	// (an earlier one's would go out with the next request's statement).
	const bad = n - 1
	ids := make([]int64, n)
	for i := range ids {
		err := s.Update(ctx, func(tx bot.Tx) error {
			inc := &bot.Incident{Title: fmt.Sprint("b", i), Severity: bot.SEV3, Status: bot.StatusInvestigating,
				CreatedAt: time.Unix(0, 0).UTC(), DetectedAt: time.Unix(0, 0).UTC()}
			if err := tx.CreateIncident(inc); err != nil {
				return err
			}
			ids[i] = inc.ID
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var schema string
	if err := s.Pool().QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `ALTER TABLE chat_records ADD CONSTRAINT no_bad CHECK (room_name <> convert_to('bad', 'UTF8'))`); err != nil {
		t.Fatalf("add constraint (schema %s): %v", schema, err)
	}

	// Hold the only writer, queue the requests behind it, then let go:
	// they share one batch.
	entered, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.Update(ctx, func(bot.Tx) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			return nil
		})
	}()
	<-entered
	errs := make([]chan error, n)
	for i, id := range ids {
		name := fmt.Sprint("room-", i)
		if i == bad {
			name = "bad"
		}
		errs[i] = make(chan error, 1)
		go func() {
			errs[i] <- s.Update(ctx, func(tx bot.Tx) error {
				return tx.PutChatRecord(id, "test", bot.ChatRecord{Room: fmt.Sprint("C", i), RoomName: name})
			})
		}()
		for postgres.Queued(s) < i+1 { // in order
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for i := range errs {
		err := <-errs[i]
		if i == bad {
			if err == nil {
				t.Errorf("request %d, refused by the constraint: no error", i)
			}
			continue
		}
		if err != nil {
			t.Errorf("request %d: %v; want it run alone and committed", i, err)
		}
	}
	err := s.View(ctx, func(tx bot.Tx) error {
		for i, id := range ids {
			r, err := tx.ChatRecord(id, "test")
			if err != nil {
				return err
			}
			if want := fmt.Sprint("room-", i); i != bad && r.RoomName != want {
				t.Errorf("incident %d: room name %q, want %q", id, r.RoomName, want)
			}
			if i == bad && r.RoomName != "" {
				t.Errorf("incident %d: room name %q stored despite the constraint", id, r.RoomName)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
