package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/postgres"
	"github.com/jackc/pgx/v5"
)

// TestMigrateMovesSlackStateOut fills a database as schema step 1 left
// it (the Slack fields inside the incident body, the channel column) and
// checks that migrating moves them into the Slack adapter's chat record
// and room index, the posted runbooks into Checklists, keeps the rest of
// the incident (a NUL in the title included, which jsonb would refuse),
// and drops the channel column.
func TestMigrateMovesSlackStateOut(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "incidentbot_test_" + hex.EncodeToString(b)
	s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.Pool().Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		s.Close()
	})
	step1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	chat := `{"topic":"t","message_hash":"h1","runbooks":[{"name":"memory-leak","ts":"1.3","done":2,"steps":12}],"invited":["U1"],"steps":["pin"]}`
	old := `{"id":1,"title":"nul \u0000 here","severity":"SEV2","status":"investigating","created_at":"2025-01-02T03:04:05Z","detected_at":"2025-01-02T03:04:05Z",` +
		`"acknowledged_at":null,"acknowledged_by":"","lead":"","mitigated_at":null,"resolved_at":null,"impact":"","cause":"","action_items":null,"alerts":null,"silences":null,` +
		`"slack_channel_id":"C1","slack_channel_name":"inc-1-x","slack_message_ts":"1.1","slack_headline_ts":"2.2","chat":` + chat + `}`
	plain := `{"id":2,"title":"no channel","severity":"SEV3","status":"investigating","created_at":"2025-01-02T03:04:05Z","detected_at":"2025-01-02T03:04:05Z","alerts":null}`
	err = pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		for _, q := range []string{
			`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
			string(step1),
			`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init')`,
			`UPDATE counters SET n = 2 WHERE name = 'incident'`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO incidents (id, channel, open, body) VALUES (1, $1, true, $2)", []byte("C1"), []byte(old)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO incidents (id, channel, open, body) VALUES (2, NULL, true, $1)", []byte(plain))
		return err
	})
	if err != nil {
		t.Fatalf("fill as step 1: %v", err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || !slices.Contains(applied, 2) {
		t.Fatalf("Migrate: %v, %v; want step 2 applied", applied, err)
	}

	var got, byRoom *bot.Incident
	var rec, none bot.ChatRecord
	err = s.View(ctx, func(tx bot.Tx) (err error) {
		if got, err = tx.Incident(1); err != nil {
			return err
		}
		if byRoom, err = tx.IncidentByRoom("slack", "C1"); err != nil {
			return err
		}
		if rec, err = tx.ChatRecord(1, "slack"); err != nil {
			return err
		}
		none, err = tx.ChatRecord(2, "slack")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "nul \x00 here" || got.Severity != bot.SEV2 {
		t.Errorf("incident after the move: %+v, want it as it was", got)
	}
	if want := []bot.Checklist{{Runbook: "memory-leak", Steps: 12}}; !slices.Equal(got.Checklists, want) {
		t.Errorf("checklists: got %+v, want %+v", got.Checklists, want)
	}
	if byRoom.ID != 1 || rec.Room != "C1" || rec.RoomName != "inc-1-x" {
		t.Errorf("room: incident %d, record %q %q; want 1, C1, inc-1-x", byRoom.ID, rec.Room, rec.RoomName)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		t.Fatalf("chat record data %q: %v", rec.Data, err)
	}
	if string(data["slack_message_ts"]) != `"1.1"` || string(data["slack_headline_ts"]) != `"2.2"` || string(data["chat"]) != chat {
		t.Errorf("chat record data: got %s, want the old fields verbatim", rec.Data)
	}
	if !none.IsZero() {
		t.Errorf("chat record of the incident without a channel: %+v", none)
	}
	var body []byte
	var columns int
	err = s.Pool().QueryRow(ctx, "SELECT body, (SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'incidents' AND column_name = 'channel') FROM incidents WHERE id = 1",
		schema).Scan(&body, &columns)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"slack_channel_id", "slack_channel_name", "slack_message_ts", "slack_headline_ts", "chat"} {
		if _, ok := raw[k]; ok {
			t.Errorf("incident body still holds %s", k)
		}
	}
	if columns != 0 {
		t.Errorf("incidents.channel is still there")
	}
}
