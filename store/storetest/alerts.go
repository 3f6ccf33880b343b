package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

func alertN(n int, status bot.AlertStatus) bot.Alert {
	a := bot.Alert{Fingerprint: fmt.Sprintf("%04x", n), Status: status, StartsAt: t0.Add(time.Duration(n) * time.Minute),
		Labels: map[string]string{"alertname": "A", "n": fmt.Sprint(n)}, Annotations: map[string]string{"summary": "s"}}
	if status == bot.AlertResolved {
		a.EndsAt = new(a.StartsAt.Add(time.Hour))
	}
	return a
}

func digests(alerts ...bot.Alert) []bot.Digest {
	out := make([]bot.Digest, len(alerts))
	for i := range alerts {
		out[i] = bot.AlertDigest(&alerts[i])
	}
	return out
}

// testAlerts: alerts live beside their incident, keyed by fingerprint, in
// the order first seen; replacing one keeps its place; the header comes
// without them; digests come back as stored.
func testAlerts(t *testing.T, s bot.Store) {
	created := minimal("with alerts")
	created.Alerts = []bot.Alert{alertN(9, bot.AlertFiring), alertN(1, bot.AlertResolved)}
	id := create(t, s, created)
	other := create(t, s, minimal("other"))

	a5, a1again, a3 := alertN(5, bot.AlertFiring), alertN(1, bot.AlertFiring), alertN(3, bot.AlertFiring)
	a1again.Labels["changed"] = "yes"
	update(t, s, func(tx bot.Tx) error {
		return tx.PutAlerts(id, []bot.Alert{a5, a1again, a3}, digests(a5, a1again, a3))
	})
	update(t, s, func(tx bot.Tx) error {
		o := alertN(9, bot.AlertResolved) // same fingerprint, another incident
		return tx.PutAlerts(other, []bot.Alert{o}, digests(o))
	})
	want := []bot.Alert{created.Alerts[0], a1again, a5, a3}
	if d := diff(get(t, s, id).Alerts, want); d != "" {
		t.Errorf("Incident's alerts, in the order first seen (got vs want):\n%s", d)
	}
	if got := get(t, s, other).Alerts; len(got) != 1 || got[0].Status != bot.AlertResolved {
		t.Errorf("other incident's alerts: got %v, want its one resolved alert", got)
	}

	var got []bot.Digest
	var byFP map[string]bot.Alert
	view(t, s, func(tx bot.Tx) (err error) {
		if got, err = tx.AlertDigests(id, []string{"0003", "ffff", "0009", "0001"}); err != nil {
			return err
		}
		byFP, err = tx.AlertsByFingerprint(id, []string{"0005", "ffff", "0001"})
		return err
	})
	wantDigests := []bot.Digest{bot.AlertDigest(&a3), {}, bot.AlertDigest(&created.Alerts[0]), bot.AlertDigest(&a1again)}
	if !slices.Equal(got, wantDigests) {
		t.Errorf("AlertDigests: got %x, want %x (zero for the absent one; CreateIncident's alerts digested by the store)", got, wantDigests)
	}
	if d := diff(byFP, map[string]bot.Alert{"0005": a5, "0001": a1again}); d != "" {
		t.Errorf("AlertsByFingerprint (got vs want):\n%s", d)
	}

	var listed []*bot.Incident
	view(t, s, func(tx bot.Tx) (err error) {
		listed, err = tx.Incidents(bot.IncidentFilter{})
		return err
	})
	for _, inc := range listed {
		if len(inc.Alerts) != 0 {
			t.Errorf("Incidents without WithAlerts: incident %d came with %d alerts, want none", inc.ID, len(inc.Alerts))
		}
	}
	view(t, s, func(tx bot.Tx) (err error) {
		listed, err = tx.Incidents(bot.IncidentFilter{WithAlerts: true, Before: other})
		return err
	})
	if len(listed) != 1 || len(listed[0].Alerts) != len(want) {
		t.Errorf("Incidents WithAlerts: got %d incidents, want 1 with %d alerts", len(listed), len(want))
	}

	err := s.Update(context.Background(), func(tx bot.Tx) error { return tx.PutAlerts(42, []bot.Alert{a5}, digests(a5)) })
	if !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("PutAlerts of an unknown incident: got %v, want ErrNotFound", err)
	}
	err = s.Update(context.Background(), func(tx bot.Tx) error { return tx.PutAlerts(id, []bot.Alert{a5}, nil) })
	if !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("PutAlerts with fewer digests than alerts: got %v, want ErrInvalid", err)
	}
}

// testGroups: a group's state names its latest incident; SetGroupDigest
// records the digest and changes Rev; a new incident of the group clears
// the digest and changes Rev again.
func testGroups(t *testing.T, s bot.Store) {
	group := func(receiver, key string) (bot.GroupState, error) {
		var g bot.GroupState
		err := s.View(context.Background(), func(tx bot.Tx) (err error) {
			g, err = tx.Group(receiver, key)
			return err
		})
		return g, err
	}
	if _, err := group("r", "g"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("Group of an unknown group: got %v, want ErrNotFound", err)
	}
	err := s.Update(context.Background(), func(tx bot.Tx) error { return tx.SetGroupDigest("r", "g", bot.Digest{1}, true) })
	if !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("SetGroupDigest of a group without incident: got %v, want ErrNotFound", err)
	}
	first := minimal("first")
	first.Receiver, first.GroupKey = "r", "g"
	id := create(t, s, first)
	g0, err := group("r", "g")
	if err != nil || g0.Incident != id || !g0.Digest.IsZero() {
		t.Fatalf("Group after CreateIncident: got %+v, %v; want incident %d, no digest", g0, err, id)
	}
	update(t, s, func(tx bot.Tx) error { return tx.SetGroupDigest("r", "g", bot.Digest{7}, false) })
	g1, _ := group("r", "g")
	if g1.Incident != id || g1.Digest != (bot.Digest{7}) || g1.Open || g1.Rev == g0.Rev {
		t.Errorf("Group after SetGroupDigest: got %+v, want incident %d, digest 07..., closed, Rev not %d", g1, id, g0.Rev)
	}
	if other, err := group("r", "other"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("another group: got %+v, %v, want ErrNotFound", other, err)
	}
	update(t, s, func(tx bot.Tx) error { return tx.SetGroupDigest("r", "g", bot.Digest{7}, false) })
	g2, _ := group("r", "g")
	if g2.Rev == g1.Rev {
		t.Errorf("SetGroupDigest with the same digest: Rev stayed %d, want it changed", g2.Rev)
	}
	second := minimal("second")
	second.Receiver, second.GroupKey = "r", "g"
	id2 := create(t, s, second)
	g3, _ := group("r", "g")
	if g3.Incident != id2 || !g3.Digest.IsZero() || g3.Rev == g2.Rev || g3.Rev == g0.Rev {
		t.Errorf("Group after a new incident: got %+v, want incident %d, no digest, a Rev not seen before", g3, id2)
	}
}

// testPeekGroup checks bot.GroupPeeker, for stores that have it: it says
// what a View's Group and IncidentHeader say.
func testPeekGroup(t *testing.T, s bot.Store) {
	pk, ok := s.(bot.GroupPeeker)
	if !ok {
		t.Skip("the store is not a bot.GroupPeeker")
	}
	ctx := context.Background()
	if _, _, _, err := pk.PeekGroup(ctx, "r", "g"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("PeekGroup of an unknown group: got %v, want ErrNotFound", err)
	}
	inc := minimal("first")
	inc.Receiver, inc.GroupKey = "r", "g"
	create(t, s, inc)
	update(t, s, func(tx bot.Tx) error { return tx.SetGroupDigest("r", "g", bot.Digest{7}, true) })
	check := func(when string, wantStored, wantOpen bool) {
		t.Helper()
		var want bot.GroupState
		view(t, s, func(tx bot.Tx) (err error) {
			want, err = tx.Group("r", "g")
			return err
		})
		g, stored, open, err := pk.PeekGroup(ctx, "r", "g")
		if err != nil || g != want || stored != wantStored || open != wantOpen {
			t.Errorf("PeekGroup %s: got %+v stored %v open %v, %v; want %+v stored %v open %v", when, g, stored, open, err,
				want, wantStored, wantOpen)
		}
	}
	check("of an open incident", true, true)
	inc.Status = bot.StatusResolved
	inc.ResolvedAt = new(t0)
	save(t, s, inc)
	check("of a resolved incident", true, false)
	if _, _, _, err := pk.PeekGroup(ctx, "r", "other"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("PeekGroup of another group: got %v, want ErrNotFound", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, _, err := pk.PeekGroup(ctx, "r", "g"); !errors.Is(err, bot.ErrUnavailable) {
		t.Errorf("PeekGroup with a cancelled context: got %v, want ErrUnavailable", err)
	}
}
