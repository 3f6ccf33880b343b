package postgres

import (
	"context"
	"fmt"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/internal/legacy"
	"github.com/jackc/pgx/v5"
)

// ChatRecord implements bot.Tx.
func (t *tx) ChatRecord(id int64, adapter string) (bot.ChatRecord, error) {
	var r bot.ChatRecord
	var room, name, data []byte
	found, err := t.row("read chat record", "SELECT room, room_name, data FROM chat_records WHERE incident_id = $1 AND adapter = $2",
		[]any{id, []byte(adapter)}, &room, &name, &data)
	if err != nil || !found {
		return r, err
	}
	return chatRecord(room, name, data), nil
}

func chatRecord(room, name, data []byte) bot.ChatRecord {
	r := bot.ChatRecord{Room: string(room), RoomName: string(name)}
	if len(data) > 0 {
		r.Data = data
	}
	return r
}

// ChatRecords implements bot.Tx.
func (t *tx) ChatRecords(id int64) (map[string]bot.ChatRecord, error) {
	out := map[string]bot.ChatRecord{}
	_, err := t.run("read chat records", "SELECT adapter, room, room_name, data FROM chat_records WHERE incident_id = $1", []any{id},
		func(rows pgx.Rows) error {
			var adapter, room, name, data []byte
			_, err := pgx.ForEachRow(rows, []any{&adapter, &room, &name, &data}, func() error {
				out[string(adapter)] = chatRecord(room, name, append([]byte(nil), data...))
				return nil
			})
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutChatRecord implements bot.Tx.
func (t *tx) PutChatRecord(id int64, adapter string, r bot.ChatRecord) error {
	if err := t.writable("PutChatRecord"); err != nil {
		return err
	}
	if adapter == "" {
		return fmt.Errorf("postgres: chat record of incident %d without an adapter name: %w", id, bot.ErrInvalid)
	}
	if _, found, err := t.exists(id); err != nil {
		return err
	} else if !found {
		return fmt.Errorf("incident %d: %w", id, bot.ErrNotFound)
	}
	old, err := t.ChatRecord(id, adapter)
	if err != nil {
		return err
	}
	if err := t.indexRoom(id, adapter, old.Room, r.Room); err != nil {
		return err
	}
	if r.IsZero() {
		return t.later("delete chat record", "DELETE FROM chat_records WHERE incident_id = $1 AND adapter = $2", id, []byte(adapter))
	}
	return t.later("store chat record", `INSERT INTO chat_records (incident_id, adapter, room, room_name, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (incident_id, adapter) DO UPDATE SET room = excluded.room, room_name = excluded.room_name, data = excluded.data`,
		id, []byte(adapter), []byte(r.Room), []byte(r.RoomName), orEmpty(r.Data))
}

// orEmpty copies b (the write may wait for the next round trip, and the
// caller keeps b), never nil.
func orEmpty(b []byte) []byte {
	return append([]byte{}, b...)
}

// indexRoom moves incident id's room index row from old to cur; the old
// row goes only if it still names id.
func (t *tx) indexRoom(id int64, adapter, old, cur string) error {
	if old == cur {
		return nil
	}
	if old != "" {
		if _, err := t.exec("unindex room", "DELETE FROM chat_rooms WHERE adapter = $1 AND room = $2 AND incident_id = $3",
			[]byte(adapter), []byte(old), id); err != nil {
			return err
		}
	}
	if cur != "" {
		if _, err := t.exec("index room", `INSERT INTO chat_rooms (adapter, room, incident_id) VALUES ($1, $2, $3)
			ON CONFLICT (adapter, room) DO UPDATE SET incident_id = excluded.incident_id`,
			[]byte(adapter), []byte(cur), id); err != nil {
			return err
		}
	}
	return nil
}

// IncidentByRoom implements bot.Tx.
func (t *tx) IncidentByRoom(adapter, room string) (*bot.Incident, error) {
	var id int64
	found := false
	if room != "" {
		var err error
		found, err = t.row("find incident by room", "SELECT incident_id FROM chat_rooms WHERE adapter = $1 AND room = $2",
			[]any{[]byte(adapter), []byte(room)}, &id)
		if err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, fmt.Errorf("incident for %s room %q: %w", adapter, room, bot.ErrNotFound)
	}
	return t.Incident(id)
}

// goSteps are the schema steps that move data in Go, right after their
// SQL, in the same transaction.
var goSteps = map[int]func(ctx context.Context, tx pgx.Tx) error{2: moveChatOut}

// moveChatOut moves the Slack fields out of every incident body into the
// Slack adapter's chat record and room index (step 2), then drops the
// channel column they replace. Bodies are JSON in bytea, which jsonb could
// not hold (it refuses \u0000): the move is done here, not in SQL.
func moveChatOut(ctx context.Context, ptx pgx.Tx) error {
	rows, err := ptx.Query(ctx, "SELECT id, body FROM incidents ORDER BY id")
	if err != nil {
		return err
	}
	type moved struct {
		id   int64
		body []byte
		rec  bot.ChatRecord
	}
	var todo []moved
	var id int64
	var body []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &body}, func() error {
		out, rec, changed, err := legacy.SlackOut(body)
		if err != nil {
			return fmt.Errorf("incident %d: %w", id, err)
		}
		if changed {
			todo = append(todo, moved{id, out, rec})
		}
		return nil
	}); err != nil {
		return err
	}
	t := &tx{ctx: ctx, c: newTxn(ptx, ""), write: true}
	for _, m := range todo {
		if _, err := ptx.Exec(ctx, "UPDATE incidents SET body = $2 WHERE id = $1", m.id, m.body); err != nil {
			return err
		}
		if m.rec.IsZero() {
			continue
		}
		if err := t.PutChatRecord(m.id, legacy.Adapter, m.rec); err != nil {
			return err
		}
	}
	if _, err := t.run("move chat records", "", nil, nil); err != nil { // the writes that wait
		return err
	}
	if t.failed != nil {
		return t.failed
	}
	_, err = ptx.Exec(ctx, "ALTER TABLE incidents DROP COLUMN channel")
	return err
}
