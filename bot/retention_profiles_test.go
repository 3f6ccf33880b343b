package bot_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/bot/heapprofile"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// TestRetentionDeletesProfileFiles captures a heap profile for an incident
// into the real profile directory, lets retention delete the incident, and
// checks that its files went with it while another incident's stayed.
func TestRetentionDeletesProfileFiles(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root := filepath.Join(t.TempDir(), "bot.db.profiles")
	dir, err := heapprofile.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	fp := &fakeProfiler{answers: []fetched{{data: []byte("first")}}}
	svc := bot.NewService(st, bot.Options{Now: func() time.Time { return now }, Profiler: fp, ProfileBlobs: dir,
		ProfileTargets: func(a bot.Alert) []bot.ProfileTarget {
			return []bot.ProfileTarget{{URL: "http://" + a.Labels["instance"] + "/debug/pprof/heap", Allow: []string{"10.0.0.0/8"}}}
		}})
	old := mustIngest(t, svc, notification(leakAlert("pg-1", 0, -1))).Incident
	runEngine(t, svc, func() time.Time { return now })
	var file string
	for deadline := time.Now().Add(5 * time.Second); file == ""; time.Sleep(10 * time.Millisecond) {
		if caps, _, _ := svc.Profiles(ctx, old); len(caps) == 1 {
			file = caps[0].File
		}
		if time.Now().After(deadline) {
			t.Fatal("no profile captured within 5s")
		}
	}
	kept, err := svc.Declare(ctx, "another", bot.SEV3, "U1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	keptFile := fmt.Sprintf("inc-%d/20261202T140000.000000000.x.pb.gz", kept.ID)
	if err := dir.Put(keptFile, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, old, bot.Action{Op: bot.OpResolve, Actor: "U1"}); err != nil {
		t.Fatal(err)
	}
	r := &bot.Retention{Store: st, Blobs: dir, Keep: time.Hour, Now: func() time.Time { return now.Add(2 * time.Hour) }}
	if n, err := r.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep: %d, %v; want the resolved incident deleted", n, err)
	}
	if _, err := dir.Get(file); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("the deleted incident's profile %s: %v, want it gone", file, err)
	}
	if _, err := os.Stat(filepath.Join(root, fmt.Sprintf("inc-%d", old))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted incident's profile directory is still there: %v", err)
	}
	if b, err := dir.Get(keptFile); err != nil || string(b) != "kept" {
		t.Errorf("the open incident's profile: %q, %v; want it kept", b, err)
	}
	if err := dir.DeleteIncident(old); err != nil {
		t.Errorf("deleting again: %v, want nil (idempotent)", err)
	}
}
