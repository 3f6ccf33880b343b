package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/storetest"
	bolt "go.etcd.io/bbolt"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) bot.Store { return open(t, filepath.Join(t.TempDir(), "bot.db"), Options{}) })
}

// open opens path and closes it when the test ends.
func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func incident(title string) *bot.Incident {
	return &bot.Incident{Title: title, Severity: bot.SEV2, Status: bot.StatusInvestigating, CreatedAt: time.Now().UTC()}
}

// createIn returns an Update fn that creates an incident titled title.
func createIn(title string) func(tx bot.Tx) error {
	return func(tx bot.Tx) error { return tx.CreateIncident(incident(title)) }
}

// titles maps every stored incident's title to its number.
func titles(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	err := s.View(context.Background(), func(tx bot.Tx) error {
		incs, err := tx.Incidents(bot.IncidentFilter{})
		for _, inc := range incs {
			m[inc.Title] = inc.ID
		}
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return m
}

// hold starts an Update that blocks the writer until release is called;
// waitFor waits until that many Updates are queued behind it.
func hold(t *testing.T, s *Store) (waitFor func(queued int), release func() error) {
	t.Helper()
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	go func() {
		done <- s.Update(context.Background(), func(tx bot.Tx) error {
			once.Do(func() { close(started) })
			<-gate
			return tx.CreateIncident(incident("blocker"))
		})
	}()
	var opened sync.Once
	letGo := func() { opened.Do(func() { close(gate) }) }
	t.Cleanup(letGo)
	<-started
	waitFor = func(queued int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); s.Stats().Queued < queued; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("queued Updates: got %d, want %d", s.Stats().Queued, queued)
			}
		}
	}
	return waitFor, func() error { letGo(); return <-done }
}

func TestReopenKeepsDataAndNumbering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var entry bot.TimelineEntry
	var delivery bot.Delivery
	for i := range 3 {
		err := s.Update(context.Background(), func(tx bot.Tx) error {
			inc := incident(fmt.Sprint("before ", i))
			entry = bot.TimelineEntry{Kind: bot.KindOpened, Text: "opened"}
			delivery = bot.Delivery{Kind: "post"}
			if err := tx.CreateIncident(inc); err != nil {
				return err
			}
			entry.IncidentID, delivery.IncidentID = inc.ID, inc.ID
			_, err := tx.MarkEvent(fmt.Sprint("Ev", i), time.Now(), time.Hour)
			return errors.Join(err, tx.Append(&entry), tx.Enqueue(&delivery))
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path, Options{})
	var fresh bool
	var inc *bot.Incident
	var e bot.TimelineEntry
	var d bot.Delivery
	err = s.Update(context.Background(), func(tx bot.Tx) (err error) {
		inc, e, d = incident("after"), bot.TimelineEntry{Kind: bot.KindOpened}, bot.Delivery{Kind: "post"}
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		e.IncidentID, d.IncidentID = inc.ID, inc.ID
		fresh, err = tx.MarkEvent("Ev1", time.Now(), time.Hour)
		return errors.Join(err, tx.Append(&e), tx.Enqueue(&d))
	})
	if err != nil {
		t.Fatalf("Update after reopening: %v", err)
	}
	want := map[string]int64{"before 0": 1, "before 1": 2, "before 2": 3, "after": 4}
	if got := titles(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("incidents after reopening, title -> number: got %v, want %v", got, want)
	}
	if e.ID <= entry.ID || d.ID <= delivery.ID {
		t.Errorf("IDs after reopening: got entry %d, delivery %d; want more than %d, %d", e.ID, d.ID, entry.ID, delivery.ID)
	}
	if fresh {
		t.Errorf("MarkEvent(Ev1) after reopening: got fresh, want remembered")
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	first := open(t, path, Options{})
	start := time.Now()
	s, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatalf("second Open: got no error, want one wrapping ErrLocked")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open: got error %q, want one wrapping ErrLocked and naming %s", err, path)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("second Open took %s, want about the 100ms lock timeout", took)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again := open(t, path, Options{LockTimeout: 100 * time.Millisecond})
	if err := again.Ping(); err != nil {
		t.Errorf("Ping after the first closed: %v", err)
	}
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	open(t, path, Options{}).Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bolt.Tx) error { return btx.Bucket(bucketMeta).Put(keyVersion, u64(schemaVersion+1)) })
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, Options{}); err == nil {
		s.Close()
		t.Errorf("Open of a newer data format: got no error, want one")
	}
}

func TestPanicInFnIsReturned(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bot.db"), Options{})
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx bot.Tx) error {
		if err := tx.CreateIncident(incident("panicked")); err != nil {
			return err
		}
		panic(boom)
	})
	var pe *PanicError
	if !errors.As(err, &pe) || !errors.Is(err, boom) || len(pe.Stack) == 0 {
		t.Fatalf("Update whose fn panicked: got error %v, want a *PanicError with stack wrapping %v", err, boom)
	}
	if err := s.Update(context.Background(), createIn("after")); err != nil {
		t.Fatalf("Update after a panic: %v", err)
	}
	if got, want := titles(t, s), map[string]int64{"after": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("incidents, title -> number: got %v, want %v", got, want)
	}
}
