package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

// chatRecord reads one adapter's record in its own View.
func chatRecord(t *testing.T, s bot.Store, id int64, adapter string) bot.ChatRecord {
	t.Helper()
	var r bot.ChatRecord
	view(t, s, func(tx bot.Tx) (err error) {
		r, err = tx.ChatRecord(id, adapter)
		return err
	})
	return r
}

func putChat(t *testing.T, s bot.Store, id int64, adapter string, r bot.ChatRecord) {
	t.Helper()
	update(t, s, func(tx bot.Tx) error { return tx.PutChatRecord(id, adapter, r) })
}

// testChatRecords: each chat adapter keeps its own record per incident,
// opaque bytes and all, apart from the incident and from the other
// adapters; UpdateIncident leaves them be; records returned are copies.
func testChatRecords(t *testing.T, s bot.Store) {
	x, y := create(t, s, full(1)), create(t, s, minimal("y"))
	if r := chatRecord(t, s, x, "slack"); !r.IsZero() {
		t.Errorf("ChatRecord before any: got %+v, want the zero record", r)
	}
	if r := chatRecord(t, s, 42, "slack"); !r.IsZero() {
		t.Errorf("ChatRecord of an absent incident: got %+v, want the zero record", r)
	}
	hostile := bot.ChatRecord{Room: "C\x00<#1>", RoomName: "inc-1-ä\x00", Data: []byte("\x00\xff{not json")}
	slack := bot.ChatRecord{Room: "C1", RoomName: "inc-1-x", Data: []byte(`{"slack_message_ts":"1.1"}`)}
	putChat(t, s, x, "slack", slack)
	putChat(t, s, x, "teams", hostile)
	putChat(t, s, y, "slack", bot.ChatRecord{Data: []byte("y")})
	if r := chatRecord(t, s, x, "slack"); !r.Equal(slack) {
		t.Errorf("ChatRecord(x, slack): got %+v, want %+v", r, slack)
	}
	if r := chatRecord(t, s, x, "teams"); !r.Equal(hostile) {
		t.Errorf("ChatRecord(x, teams): got %q, want %q: bytes must round-trip as they are", r, hostile)
	}
	var all map[string]bot.ChatRecord
	view(t, s, func(tx bot.Tx) (err error) {
		all, err = tx.ChatRecords(x)
		return err
	})
	if len(all) != 2 || !all["slack"].Equal(slack) || !all["teams"].Equal(hostile) {
		t.Errorf("ChatRecords(x): got %q, want slack and teams", all)
	}

	// The incident's own writes leave the records be, and the records
	// leave the incident be.
	inc := get(t, s, x)
	inc.Title = "changed"
	save(t, s, inc)
	if r := chatRecord(t, s, x, "slack"); !r.Equal(slack) {
		t.Errorf("ChatRecord after UpdateIncident: got %+v, want it unchanged", r)
	}
	if d := diff(get(t, s, x), inc); d != "" {
		t.Errorf("incident after its chat records were written (got vs want):\n%s", d)
	}

	// Copies: changing what came back changes nothing stored.
	view(t, s, func(tx bot.Tx) error {
		r, err := tx.ChatRecord(x, "slack")
		if err == nil && len(r.Data) > 0 {
			r.Data[0] = 'X'
		}
		return err
	})
	update(t, s, func(tx bot.Tx) error {
		r := bot.ChatRecord{Room: "C1", RoomName: "inc-1-x", Data: []byte(`{"slack_message_ts":"1.1"}`)}
		err := tx.PutChatRecord(x, "slack", r)
		r.Data[0] = 'X'
		return err
	})
	if r := chatRecord(t, s, x, "slack"); !r.Equal(slack) {
		t.Errorf("ChatRecord after changing copies: got %q, want %q", r, slack)
	}

	// Replacing with the zero record forgets it.
	putChat(t, s, y, "slack", bot.ChatRecord{})
	if r := chatRecord(t, s, y, "slack"); !r.IsZero() {
		t.Errorf("ChatRecord after the zero record was put: got %+v", r)
	}

	err := s.Update(t.Context(), func(tx bot.Tx) error { return tx.PutChatRecord(x, "", slack) })
	if !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("PutChatRecord without an adapter: got %v, want ErrInvalid", err)
	}
}

// testIncidentByRoom: the room index follows each adapter's record
// through every change, including a room passed on to another incident,
// and adapters' rooms never mix.
func testIncidentByRoom(t *testing.T, s bot.Store) {
	x, y := create(t, s, minimal("x")), create(t, s, minimal("y"))
	room := func(id int64, adapter, r string) func() {
		return func() { putChat(t, s, id, adapter, bot.ChatRecord{Room: r, RoomName: "n-" + r, Data: []byte(r)}) }
	}
	steps := []struct {
		name string
		do   func()
		want map[string]int64 // adapter/room -> incident, 0 = ErrNotFound
	}{
		{"a room", room(x, "slack", "C1"), map[string]int64{"slack/C1": x, "other/C1": 0, "slack/": 0}},
		{"another adapter, same room string", room(y, "other", "C1"), map[string]int64{"slack/C1": x, "other/C1": y}},
		{"room changed", room(x, "slack", "C2"), map[string]int64{"slack/C1": 0, "slack/C2": x, "other/C1": y}},
		{"old room given to another", room(y, "slack", "C1"), map[string]int64{"slack/C1": y, "slack/C2": x}},
		{"room taken over", room(x, "slack", "C1"), map[string]int64{"slack/C1": x, "slack/C2": 0}},
		{"the other lets it go", room(y, "slack", ""), map[string]int64{"slack/C1": x, "other/C1": y}},
		{"incident changed", func() { inc := get(t, s, x); inc.Title = "x2"; save(t, s, inc) }, map[string]int64{"slack/C1": x}},
		{"room removed", room(x, "slack", ""), map[string]int64{"slack/C1": 0, "other/C1": y}},
	}
	for _, st := range steps {
		st.do()
		for key, want := range st.want {
			adapter, r, _ := strings.Cut(key, "/")
			what := fmt.Sprintf("after %s: IncidentByRoom(%q, %q)", st.name, adapter, r)
			got := lookup(t, s, what, func(tx bot.Tx) (*bot.Incident, error) { return tx.IncidentByRoom(adapter, r) })
			if got != want {
				t.Errorf("%s: got incident %d, want %d (0 = ErrNotFound)", what, got, want)
			}
		}
	}
}
