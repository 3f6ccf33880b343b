package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// TestLease: of two replicas one leads; the other takes over when the
// leader gives the lease up, and when the leader's session is killed on
// the server (as when its process dies or the network drops it), the old
// leader learns it lost the lease.
func TestLease(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	lostA, releaseA, err := a.Lead(ctx)
	if err != nil {
		t.Fatalf("a.Lead: %v", err)
	}
	type lead struct {
		lost    context.Context
		release func()
		err     error
	}
	bLeads := make(chan lead, 1)
	go func() {
		lost, release, err := b.Lead(ctx)
		bLeads <- lead{lost, release, err}
	}()
	select {
	case l := <-bLeads:
		t.Fatalf("b leads (%v) while a holds the lease", l.err)
	case <-time.After(5 * time.Second): // b tried twice at least
	}
	releaseA()
	if lostA.Err() == nil {
		t.Errorf("a's lost context still open after release")
	}
	var lb lead
	select {
	case lb = <-bLeads:
		if lb.err != nil {
			t.Fatalf("b.Lead: %v", lb.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("b did not take the lease within 15 s of a giving it up")
	}

	// Kill b's lease session on the server: b must notice, and a must
	// take over.
	aLeads := make(chan lead, 1)
	go func() {
		lost, release, err := a.Lead(ctx)
		aLeads <- lead{lost, release, err}
	}()
	// Only this schema's lease: other tests share the database.
	var killed int
	if err := a.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND ((classid::bigint << 32) | objid::bigint) = hashtext('incidentbot lease ' || current_schema())::bigint`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate b's lease session: killed %d, %v", killed, err)
	}
	select {
	case <-lb.lost.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("b did not notice within 15 s that its lease session was killed")
	}
	lb.release()
	select {
	case la := <-aLeads:
		if la.err != nil {
			t.Fatalf("a.Lead: %v", la.err)
		}
		la.release()
	case <-time.After(15 * time.Second):
		t.Fatal("a did not take over within 15 s of b's session dying")
	}
}

// TestLeaderWokenByOtherReplica: a delivery enqueued or a timer added on
// another replica wakes the lease holder at commit (LISTEN/NOTIFY), so it
// need not wait for its next poll; a store in another schema of the same
// database does not wake it, nor does a transaction that rolls back.
func TestLeaderWokenByOtherReplica(t *testing.T) {
	a, b := twoReplicas(t)
	other := open(t)
	woken := make(chan struct{}, 16)
	a.OnWake(func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, release, err := a.Lead(ctx)
	if err != nil {
		t.Fatalf("a.Lead: %v", err)
	}
	defer release()
	var id int64
	if err := b.Update(ctx, func(tx bot.Tx) error {
		inc := &bot.Incident{Title: "t", Severity: bot.SEV3, Status: bot.StatusInvestigating}
		if err := tx.CreateIncident(inc); err != nil {
			return err
		}
		id = inc.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case <-woken:
			t.Errorf("a woken by %s", what)
		case <-time.After(3 * time.Second): // past a lease check: the session listened through it
		}
	}
	quiet("a transaction that enqueued nothing")
	enqueue := func(s bot.Store, fail error) error {
		return s.Update(ctx, func(tx bot.Tx) error {
			if err := tx.Enqueue(&bot.Delivery{IncidentID: id, Kind: bot.DeliveryRefresh}); err != nil {
				return err
			}
			return fail
		})
	}
	if err := enqueue(other, nil); err != nil {
		t.Fatal(err)
	}
	quiet("another schema's delivery")
	boom := errors.New("boom")
	if err := enqueue(b, boom); !errors.Is(err, boom) {
		t.Fatalf("Update: got %v, want boom", err)
	}
	quiet("a delivery rolled back")
	committed := time.Now()
	if err := enqueue(b, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
		// A figure for docs/performance.md §9a, not a bound: without the
		// notification the worker would find it at its next poll.
		t.Logf("woken %v after b's Update began", time.Since(committed))
	case <-time.After(30 * time.Second):
		t.Fatal("a was not woken within 30 s by a delivery b enqueued")
	}
	if err := b.Update(ctx, func(tx bot.Tx) error {
		return tx.AddTimer(&bot.Timer{Due: time.Now(), Kind: bot.TimerStep, IncidentID: id})
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(30 * time.Second):
		t.Fatal("a was not woken within 30 s by a timer b added")
	}
}
