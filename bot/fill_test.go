package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// slicedStore counts, for each write transaction, the alerts it puts, and
// fails the write transactions from failAt on (1-based; 0 never), as a
// process that died there would have left the store: the earlier ones
// committed, nothing after.
type slicedStore struct {
	Store
	perTx  []int
	failAt int
}

func (s *slicedStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	n := len(s.perTx) + 1
	if s.failAt > 0 && n >= s.failAt {
		return fmt.Errorf("%w: the process died", ErrUnavailable)
	}
	put := 0
	err := s.Store.Update(ctx, func(tx Tx) error {
		put = 0
		return fn(countingTx{tx, &put})
	})
	s.perTx = append(s.perTx, put)
	return err
}

type countingTx struct {
	Tx
	put *int
}

func (t countingTx) PutAlerts(id int64, alerts []Alert, digests []Digest) error {
	*t.put += len(alerts)
	return t.Tx.PutAlerts(id, alerts, digests)
}

func bigNotification(n int) *Notification {
	alerts := make([]Alert, n)
	for i := range alerts {
		alerts[i] = firing(fmt.Sprintf("%06x", i), 0)
	}
	return &Notification{Receiver: "r", GroupKey: "big", Status: AlertFiring, Alerts: alerts}
}

// TestFillOpensABigGroupInSlices: the first notification of a group bigger
// than fillSlice is written in transactions of at most fillSlice alerts,
// and the incident it opens is whole: every alert, one entry each, one
// opening, announced once, and its repeat is a repeat.
func TestFillOpensABigGroupInSlices(t *testing.T) {
	ctx := context.Background()
	mem := newMemStore()
	st := &slicedStore{Store: mem}
	s := NewService(st, Options{Chat: true, Now: func() time.Time { return at(600) }})
	n := 2*fillSlice + 321
	res, err := s.Ingest(ctx, bigNotification(n))
	if err != nil || !res.Opened || res.Changes != n+1 {
		t.Fatalf("first notification: %+v, %v; want opened with %d changes", res, err, n+1)
	}
	if len(st.perTx) < 4 || slices.Max(st.perTx) > fillSlice {
		t.Errorf("alerts put per write transaction %v: want at least 4 transactions of at most %d", st.perTx, fillSlice)
	}
	checkWhole(t, s, mem, res.Incident, n)
	if again, err := s.Ingest(ctx, bigNotification(n)); err != nil || again != (IngestResult{Incident: res.Incident}) {
		t.Errorf("repeat: %+v, %v; want incident %d, no change", again, err, res.Incident)
	}
}

// TestFillSurvivesACrashBetweenSlices: when the process dies between two
// slices, the incident stays hidden (not found, not listed), and
// Alertmanager's retry of the same notification finishes it under the
// same number with nothing lost and nothing twice.
func TestFillSurvivesACrashBetweenSlices(t *testing.T) {
	ctx := context.Background()
	mem := newMemStore()
	st := &slicedStore{Store: mem, failAt: 3} // create, one slice, then death
	s := NewService(st, Options{Chat: true, Now: func() time.Time { return at(600) }})
	n := 3*fillSlice + 7
	if _, err := s.Ingest(ctx, bigNotification(n)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ingest while dying: %v, want ErrUnavailable", err)
	}
	if _, err := s.Incident(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("the half-filled incident is found: %v", err)
	}
	if _, err := s.Timeline(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("its timeline is found: %v", err)
	}
	if list, err := s.Incidents(ctx, IncidentFilter{Limit: 10}); err != nil || len(list) != 0 {
		t.Errorf("listed: %d incidents, %v", len(list), err)
	}
	// A small incident of another group opens meanwhile.
	other := &Notification{Receiver: "r", GroupKey: "small", Status: AlertFiring, Alerts: []Alert{firing("ffffff", 0)}}
	st.failAt = 0
	small, err := s.Ingest(ctx, other)
	if err != nil || small.Incident != 2 {
		t.Fatalf("small group: %+v, %v", small, err)
	}
	if list, err := s.Incidents(ctx, IncidentFilter{Limit: 1}); err != nil || len(list) != 1 || list[0].ID != 2 {
		t.Errorf("list of 1: %v, %v; want INC-2 (the filling INC-1 left out)", list, err)
	}
	res, err := s.Ingest(ctx, bigNotification(n)) // Alertmanager's retry
	if err != nil || res.Incident != 1 || !res.Opened {
		t.Fatalf("retry: %+v, %v; want INC-1 opened", res, err)
	}
	checkWhole(t, s, mem, 1, n)
}

// checkWhole checks that incident id shows with its n alerts, one fired
// entry each and one opening, and that it was announced once.
func checkWhole(t *testing.T, s *Service, mem *memStore, id int64, n int) {
	t.Helper()
	ctx := context.Background()
	inc, err := s.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Filling || len(inc.Alerts) != n || inc.Roster != (Roster{Alerts: n, Firing: n}) {
		t.Errorf("incident: filling %v, %d alerts, roster %+v; want %d alerts firing", inc.Filling, len(inc.Alerts), inc.Roster, n)
	}
	tl, err := s.Timeline(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	count := map[Kind]int{}
	for _, e := range tl {
		count[e.Kind]++
	}
	if count[KindOpened] != 1 || count[KindAlertFired] != n || len(tl) != n+1 {
		t.Errorf("timeline: %d entries %v; want 1 opened and %d fired", len(tl), count, n)
	}
	if tl[0].Kind != KindOpened {
		t.Errorf("first entry %s, want the opening", tl[0].Kind)
	}
	opens := 0
	if err := mem.View(ctx, func(tx Tx) error {
		ds, err := tx.Pending(1000)
		for _, d := range ds {
			if d.IncidentID == id && d.Kind == DeliveryOpen {
				opens++
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if opens != 1 {
		t.Errorf("%d open deliveries, want 1", opens)
	}
}
