package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
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
