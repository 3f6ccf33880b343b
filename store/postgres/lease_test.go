package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/store/postgres"
)

// TestLease: of two replicas one leads; the other takes over when the
// leader gives the lease up, and when the leader's session is killed on
// the server (as when its process dies or the network drops it), the old
// leader learns it lost the lease.
func TestLease(t *testing.T) {
	a := open(t)
	var schema string
	if err := a.Pool().QueryRow(context.Background(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.Open(context.Background(), testURL(t), postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
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
