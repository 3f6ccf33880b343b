package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// roomChat is a second chat adapter, a few lines long, of a chat whose
// rooms and messages look nothing like Slack's: it opens a room, then
// keeps the ID of the last event it posted, all in its own record.
type roomChat struct{}

type roomState struct {
	LastEvent string `json:"last_event"`
	Posts     int    `json:"posts"`
}

func (roomChat) Name() string { return "matrix" }

func (roomChat) Deliver(_ context.Context, inc *bot.Incident, rec bot.ChatRecord, d bot.Delivery) (bot.ChatResult, error) {
	if rec.Room == "" {
		return bot.ChatResult{More: true, Record: &bot.ChatRecord{
			Room: fmt.Sprintf("!r%d:example.org", inc.ID), RoomName: fmt.Sprintf("incident-%d", inc.ID)}}, nil
	}
	var st roomState
	if len(rec.Data) > 0 {
		if err := json.Unmarshal(rec.Data, &st); err != nil {
			return bot.ChatResult{}, err
		}
	}
	st.Posts++
	st.LastEvent = fmt.Sprintf("$ev%d", st.Posts)
	data, err := json.Marshal(st)
	if err != nil {
		return bot.ChatResult{}, err
	}
	rec.Data = data
	return bot.ChatResult{Record: &rec}, nil
}

// TestSecondChatAdapter runs the delivery worker with roomChat over a
// real store: the adapter's room and state live in its own record,
// recorded with each step, found by its room; bot.Incident holds none
// of it, and names no chat.
func TestSecondChatAdapter(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := bot.NewWorker(st, roomChat{}, bot.WorkerOptions{Poll: 10 * time.Millisecond})
	svc := bot.NewService(st, bot.Options{Chat: true, Wake: w.Wake})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	inc, err := svc.Declare(ctx, "Checkout is down", bot.SEV2, "U1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, inc.ID, bot.Action{Op: bot.OpNote, Actor: "U1", Text: "looking"}); err != nil {
		t.Fatal(err)
	}
	waitEmptyOutbox(t, st)

	room := fmt.Sprintf("!r%d:example.org", inc.ID)
	rec, err := svc.ChatRecord(ctx, inc.ID, "matrix")
	if err != nil {
		t.Fatal(err)
	}
	var state roomState
	if err := json.Unmarshal(rec.Data, &state); err != nil || rec.Room != room || state.Posts < 1 {
		t.Errorf("matrix record: %+v (%v), want room %s and its posts", rec, err, room)
	}
	if slack, _ := svc.ChatRecord(ctx, inc.ID, "slack"); !slack.IsZero() {
		t.Errorf("a Slack record appeared: %+v", slack)
	}
	found, _, err := svc.IncidentByRoom(ctx, "matrix", room)
	if err != nil || found.ID != inc.ID {
		t.Errorf("IncidentByRoom(matrix): %v, %v", found, err)
	}
	if _, _, err := svc.IncidentByRoom(ctx, "slack", room); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("IncidentByRoom(slack) of a matrix room: %v, want ErrNotFound", err)
	}
	tl, err := svc.Timeline(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, e := range tl {
		if e.Kind == bot.KindChannelCreated && e.Text == fmt.Sprintf("channel #incident-%d created", inc.ID) {
			created++
		}
	}
	if created != 1 {
		t.Errorf("channel_created entries for the room: %d, want 1; timeline %+v", created, tl)
	}

	// The domain's incident holds nothing of the adapter's...
	stored, err := svc.Incident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{room, "incident-", state.LastEvent} {
		if strings.Contains(string(b), s) {
			t.Errorf("the stored incident holds the adapter's %q: %s", s, b)
		}
	}
	// ...and names no chat product.
	ty := reflect.TypeFor[bot.Incident]()
	for field := range ty.Fields() {
		name := strings.ToLower(field.Name + " " + field.Tag.Get("json"))
		for _, chat := range []string{"slack", "chat", "channel", "room", "message"} {
			if strings.Contains(name, chat) {
				t.Errorf("bot.Incident has the chat field %s", field.Name)
			}
		}
	}
}

func waitEmptyOutbox(t *testing.T, st bot.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := st.View(context.Background(), func(tx bot.Tx) error {
			p, err := tx.Pending(0)
			n = len(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
