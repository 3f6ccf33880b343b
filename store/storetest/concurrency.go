package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
)

// testLostUpdates: concurrent read-modify-writes of one incident, with no
// incident opened in between (an open may serialize a store's writers by
// itself), lose nothing: the isolation the contract asks for.
func testLostUpdates(t *testing.T, s bot.Store) {
	const n = 30
	shared := create(t, s, minimal("shared"))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(context.Background(), func(tx bot.Tx) error {
				inc, err := tx.IncidentHeader(shared)
				if err != nil {
					return err
				}
				inc.TruncatedAlerts++
				return tx.UpdateIncident(inc)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: Update: %v", i, err)
		}
	}
	if inc := get(t, s, shared); inc.TruncatedAlerts != n {
		t.Errorf("counter after %d concurrent increments: got %d (an Update saw a stale incident)", n, inc.TruncatedAlerts)
	}
}

// testOneIncidentPerGroup: notifications of one new group arriving at once
// (two Alertmanagers of an HA pair, at two replicas) each look the group
// up and open an incident when there is none. Exactly one is opened; the
// others add their alerts to it.
func testOneIncidentPerGroup(t *testing.T, s bot.Store) {
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(context.Background(), func(tx bot.Tx) error {
				a := alertN(i, bot.AlertFiring)
				g, err := tx.Group("r", "g")
				switch {
				case errors.Is(err, bot.ErrNotFound):
					inc := minimal(fmt.Sprint("from ", i))
					inc.Receiver, inc.GroupKey, inc.Alerts = "r", "g", []bot.Alert{a}
					return tx.CreateIncident(inc)
				case err != nil:
					return err
				}
				return tx.PutAlerts(g.Incident, []bot.Alert{a}, digests(a))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: Update: %v", i, err)
		}
	}
	if got := titles(t, s); len(got) != 1 {
		t.Fatalf("incidents opened for one group by %d concurrent notifications: got %v, want exactly one", n, got)
	}
	if inc := get(t, s, 1); len(inc.Alerts) != n {
		t.Errorf("alerts of the group's incident: got %d, want %d", len(inc.Alerts), n)
	}
}
