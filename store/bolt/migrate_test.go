package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	bolt "go.etcd.io/bbolt"
)

// TestOpenMovesVersion1AlertsOut writes a file as version 1 did (alerts
// inside the incident record, the group record a bare ID) and checks that
// opening it moves the alerts beside the incident, counts the roster,
// indexes the open incident, and still reads the group.
func TestOpenMovesVersion1AlertsOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	end := start.Add(time.Hour)
	v1 := []*bot.Incident{
		{ID: 1, Title: "open one", Severity: bot.SEV2, Status: bot.StatusInvestigating, Receiver: "r", GroupKey: "g",
			CreatedAt: start, DetectedAt: start, Alerts: []bot.Alert{
				{Fingerprint: "b2", Status: bot.AlertFiring, Labels: map[string]string{"alertname": "X"}, StartsAt: start},
				{Fingerprint: "a1", Status: bot.AlertResolved, Labels: map[string]string{"alertname": "Y"}, StartsAt: start, EndsAt: &end},
			}},
		{ID: 2, Title: "resolved one", Severity: bot.SEV3, Status: bot.StatusResolved, CreatedAt: start, DetectedAt: start, ResolvedAt: &end},
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		for _, name := range [][]byte{bucketIncidents, bucketGroups, bucketChannels, bucketTimeline, bucketOutbox,
			bucketEvents, bucketEventTimes, bucketMeta} {
			if _, err := btx.CreateBucket(name); err != nil {
				return err
			}
		}
		for _, inc := range v1 {
			v, err := json.Marshal(inc)
			if err != nil {
				return err
			}
			if err := btx.Bucket(bucketIncidents).Put(incidentKey(inc.ID), v); err != nil {
				return err
			}
		}
		if err := btx.Bucket(bucketIncidents).SetSequence(2); err != nil {
			return err
		}
		if err := btx.Bucket(bucketGroups).Put(groupKey("r", "g"), incidentKey(1)); err != nil {
			return err
		}
		return btx.Bucket(bucketMeta).Put(keyVersion, binary.BigEndian.AppendUint64(nil, 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, path, Options{})
	var got *bot.Incident
	var g bot.GroupState
	var digests []bot.Digest
	err = s.View(context.Background(), func(tx bot.Tx) (err error) {
		if got, err = tx.Incident(1); err != nil {
			return err
		}
		if digests, err = tx.AlertDigests(1, []string{"a1", "b2"}); err != nil {
			return err
		}
		g, err = tx.Group("r", "g")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Alerts) != 2 || got.Alerts[0].Fingerprint+" "+got.Alerts[1].Fingerprint != "b2 a1" {
		t.Errorf("alerts after the move: %v, want b2 then a1, as they were", got.Alerts)
	}
	if want := (bot.Roster{Alerts: 2, Firing: 1, LastEnd: end}); got.Roster != want {
		t.Errorf("roster: got %+v, want %+v", got.Roster, want)
	}
	if digests[0] != bot.AlertDigest(&got.Alerts[1]) || digests[1] != bot.AlertDigest(&got.Alerts[0]) {
		t.Errorf("digests of the moved alerts are not their AlertDigest")
	}
	if g.Incident != 1 || !g.Digest.IsZero() {
		t.Errorf("group: got %+v, want incident 1 without digest", g)
	}
	if n, err := s.OpenIncidents(); err != nil || n != 1 {
		t.Errorf("OpenIncidents: %d, %v; want 1", n, err)
	}
	err = s.read(func(btx *bolt.Tx) error {
		raw := btx.Bucket(bucketIncidents).Get(incidentKey(1))
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		if string(rec["alerts"]) != "null" {
			t.Errorf("incident record still holds its alerts: %s", rec["alerts"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenMovesVersion2SlackStateOut writes a file as version 2 did (the
// Slack fields inside the incident record, a channel index) and checks
// that opening it moves them into the Slack adapter's chat record, the
// posted runbooks into Checklists, and the channel into the room index,
// and leaves the rest of the incident as it was.
func TestOpenMovesVersion2SlackStateOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	chat := `{"topic":"SEV2 | investigating","message_hash":"h1","runbooks":[{"name":"memory-leak","ts":"1.3","done":2,"steps":12},{"name":"old","ts":"1.4","done":0}],"invited":["U1"],"steps":["invite","pin"]}`
	v2 := []string{
		`{"id":1,"title":"with a channel","severity":"SEV2","status":"investigating","receiver":"r","group_key":"g","created_at":"2025-01-02T03:04:05Z","detected_at":"2025-01-02T03:04:05Z","acknowledged_at":null,"acknowledged_by":"","lead":"","mitigated_at":null,"resolved_at":null,"impact":"","cause":"","action_items":null,"alerts":null,"silences":null,` +
			`"roster":{"alerts":0,"firing":0},"slack_channel_id":"C1","slack_channel_name":"inc-1-with-a-channel","slack_message_ts":"1.1","slack_headline_ts":"2.2","chat":` + chat + `}`,
		`{"id":2,"title":"without","severity":"SEV3","status":"investigating","created_at":"2025-01-02T03:04:05Z","detected_at":"2025-01-02T03:04:05Z","alerts":null,"roster":{"alerts":0,"firing":0}}`,
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		for _, name := range [][]byte{bucketIncidents, bucketAlerts, bucketOpen, bucketGroups, bucketChannels, bucketTimeline, bucketOutbox,
			bucketEvents, bucketEventTimes, bucketMeta} {
			if _, err := btx.CreateBucket(name); err != nil {
				return err
			}
		}
		for i, v := range v2 {
			if err := btx.Bucket(bucketIncidents).Put(incidentKey(int64(i+1)), []byte(v)); err != nil {
				return err
			}
			if err := btx.Bucket(bucketOpen).Put(incidentKey(int64(i+1)), []byte{}); err != nil {
				return err
			}
		}
		if err := btx.Bucket(bucketIncidents).SetSequence(2); err != nil {
			return err
		}
		if err := btx.Bucket(bucketChannels).Put([]byte("C1"), incidentKey(1)); err != nil {
			return err
		}
		return btx.Bucket(bucketMeta).Put(keyVersion, binary.BigEndian.AppendUint64(nil, 2))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, path, Options{})
	var got, byRoom *bot.Incident
	var rec, none bot.ChatRecord
	err = s.View(context.Background(), func(tx bot.Tx) (err error) {
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
	if got.Title != "with a channel" || got.Receiver != "r" || !got.CreatedAt.Equal(start) || got.Severity != bot.SEV2 {
		t.Errorf("incident after the move: %+v, want it as it was", got)
	}
	if want := []bot.Checklist{{Runbook: "memory-leak", Steps: 12}, {Runbook: "old"}}; !slices.Equal(got.Checklists, want) {
		t.Errorf("checklists: got %+v, want %+v", got.Checklists, want)
	}
	if byRoom.ID != 1 {
		t.Errorf("IncidentByRoom(slack, C1): got %d, want 1", byRoom.ID)
	}
	if rec.Room != "C1" || rec.RoomName != "inc-1-with-a-channel" {
		t.Errorf("chat record room: got %q %q", rec.Room, rec.RoomName)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		t.Fatalf("chat record data %q: %v", rec.Data, err)
	}
	if string(data["slack_message_ts"]) != `"1.1"` || string(data["slack_headline_ts"]) != `"2.2"` || string(data["chat"]) != chat {
		t.Errorf("chat record data: got %s, want the old fields verbatim", rec.Data)
	}
	if !none.IsZero() {
		t.Errorf("chat record of the incident without a channel: got %+v, want none", none)
	}
	err = s.read(func(btx *bolt.Tx) error {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(btx.Bucket(bucketIncidents).Get(incidentKey(1)), &raw); err != nil {
			return err
		}
		for _, k := range []string{"slack_channel_id", "slack_channel_name", "slack_message_ts", "slack_headline_ts", "chat"} {
			if _, ok := raw[k]; ok {
				t.Errorf("incident record still holds %s", k)
			}
		}
		if btx.Bucket(bucketChannels) != nil {
			t.Errorf("the version 2 channel index is still there")
		}
		if v := btx.Bucket(bucketMeta).Get(keyVersion); binary.BigEndian.Uint64(v) != schemaVersion {
			t.Errorf("version after opening: %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
