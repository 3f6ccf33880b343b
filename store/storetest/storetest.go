// Package storetest is the conformance suite for bot.Store: every backend
// runs it from its own tests, so that the domain can rely on the contract
// written in bot/store.go rather than on one backend's habits.
//
// Where the contract is silent the suite asks only for what the domain
// needs: empty and nil slices or maps are alike, times must keep their
// instant (and UTC times stay UTC), and a failed Update consumes nothing,
// not even an incident number.
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

// Run runs the suite. open must return a new, empty store for each call
// and arrange (with t.Cleanup) for it to be closed.
func Run(t *testing.T, open func(t *testing.T) bot.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s bot.Store)
	}{
		{"Numbering", testNumbering},
		{"RoundTrip", testRoundTrip},
		{"RecordsAreCopied", testRecordsAreCopied},
		{"NotFound", testNotFound},
		{"LatestInGroup", testLatestInGroup},
		{"ChatRecords", testChatRecords},       // chat.go
		{"IncidentByRoom", testIncidentByRoom}, // chat.go
		{"Incidents", testIncidents},
		{"Timeline", testTimeline},
		{"Alerts", testAlerts},
		{"Groups", testGroups},
		{"PeekGroup", testPeekGroup}, // alerts.go
		{"Retention", testRetention},
		{"Outbox", testOutbox},
		{"MarkEvent", testMarkEvent},
		{"ErrorRollsBack", testErrorRollsBack},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"CancelledBeforeUpdate", testCancelledBefore},
		{"CancelledWhileWaiting", testCancelledWhileWaiting},
		{"CancelledDuringUpdate", testCancelledDuring},
		{"CancellationsAreTruthful", testCancellationsAreTruthful},
		{"OnCall", testOnCall},                           // oncall.go
		{"ReplaceEntry", testReplaceEntry},               // corrections.go
		{"LostUpdates", testLostUpdates},                 // concurrency.go
		{"OneIncidentPerGroup", testOneIncidentPerGroup}, // concurrency.go
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open(t)) })
	}
}

// errBoom is what failing fns return; Update must hand it back as is.
var errBoom = errors.New("boom")

// t0 is a fixed moment with nanoseconds, which a store must not round away.
var t0 = time.Date(2024, 3, 14, 9, 26, 53, 589793238, time.UTC)

// update runs fn in an Update and fails the test on error. fn runs on the
// store's goroutine and may run more than once: it must report problems by
// returning them, never with t.Fatal.
func update(t *testing.T, s bot.Store, fn func(tx bot.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s bot.Store, fn func(tx bot.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// create stores inc in its own Update and returns its number.
func create(t *testing.T, s bot.Store, inc *bot.Incident) int64 {
	t.Helper()
	update(t, s, func(tx bot.Tx) error { return tx.CreateIncident(inc) })
	return inc.ID
}

// save replaces inc in its own Update.
func save(t *testing.T, s bot.Store, inc *bot.Incident) {
	t.Helper()
	update(t, s, func(tx bot.Tx) error { return tx.UpdateIncident(inc) })
}

// get reads incident id in its own View.
func get(t *testing.T, s bot.Store, id int64) *bot.Incident {
	t.Helper()
	var inc *bot.Incident
	view(t, s, func(tx bot.Tx) (err error) {
		inc, err = tx.Incident(id)
		return err
	})
	return inc
}

// list returns the IDs of f's incidents, in the order the store gave them.
func list(t *testing.T, s bot.Store, f bot.IncidentFilter) []int64 {
	t.Helper()
	var incs []*bot.Incident
	view(t, s, func(tx bot.Tx) (err error) {
		incs, err = tx.Incidents(f)
		return err
	})
	ids := []int64{}
	for _, inc := range incs {
		ids = append(ids, inc.ID)
	}
	return ids
}

// titles maps every stored incident's title to its ID.
func titles(t *testing.T, s bot.Store) map[string]int64 {
	t.Helper()
	var incs []*bot.Incident
	view(t, s, func(tx bot.Tx) (err error) {
		incs, err = tx.Incidents(bot.IncidentFilter{})
		return err
	})
	m := make(map[string]int64, len(incs))
	for _, inc := range incs {
		m[inc.Title] = inc.ID
	}
	return m
}

// lookup runs one read in a View and returns the incident's ID (0 when
// not found) or fails the test on any other error.
func lookup(t *testing.T, s bot.Store, what string, find func(tx bot.Tx) (*bot.Incident, error)) int64 {
	t.Helper()
	var id int64
	err := s.View(context.Background(), func(tx bot.Tx) error {
		inc, err := find(tx)
		if err == nil {
			id = inc.ID
		}
		return err
	})
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("%s: got error %v, want an incident or ErrNotFound", what, err)
	}
	return id
}

// minimal is an incident with only what every incident has.
func minimal(title string) *bot.Incident {
	return &bot.Incident{Title: title, Severity: bot.SEV3, Status: bot.StatusInvestigating, CreatedAt: t0, DetectedAt: t0}
}

// full is an incident with every field set, variant v changing each value.
func full(v int) *bot.Incident {
	at := func(min int) time.Time { return t0.Add(time.Duration(v*1000+min)*time.Minute + time.Duration(v)) }
	s := func(name string) string { return fmt.Sprintf("%s-%d", name, v) }
	return &bot.Incident{
		Title: s("title"), Severity: bot.SEV1 + bot.Severity(v%4), SeverityByHand: true, Status: bot.StatusMonitoring,
		Receiver: s("receiver"), GroupKey: s(`{}:{alertname="X"}`), GroupLabels: map[string]string{"alertname": s("X")},
		ExternalURL: s("http://am"), DeclaredBy: s("U1"),
		CreatedAt: at(0), DetectedAt: at(-5), AcknowledgedAt: new(at(1)), AcknowledgedBy: s("U2"), Lead: s("U3"),
		MitigatedAt: new(at(2)), ResolvedAt: new(at(3)), ResolvedBy: s("U4"),
		Impact: s("impact"), Cause: s("cause"), Resolution: s("resolution"),
		ActionItems: []bot.ActionItem{{Text: s("fix"), By: s("U5"), At: at(4)}, {Text: s("alert"), By: s("U6"), At: at(5)}},
		Alerts: []bot.Alert{
			{Fingerprint: s("fp1"), Status: bot.AlertFiring, Labels: map[string]string{"alertname": s("X"), "severity": "critical"},
				Annotations: map[string]string{"summary": s("down")}, StartsAt: at(-5), GeneratorURL: s("http://prom")},
			{Fingerprint: s("fp2"), Status: bot.AlertResolved, Labels: map[string]string{"alertname": s("Y")},
				Annotations: map[string]string{}, StartsAt: at(-4), EndsAt: new(at(6))},
		},
		TruncatedAlerts: v + 1,
		StepsDone:       []bot.StepDone{{Runbook: s("rb"), N: v + 2, Text: s("step"), By: s("U7"), At: at(7)}},
		Checklists:      []bot.Checklist{{Runbook: s("rb"), Steps: v + 3}, {Runbook: s("old")}},
	}
}

// sortedIDs is for comparing sets of incident numbers.
func sortedIDs(m map[string]int64) []int64 {
	ids := make([]int64, 0, len(m))
	for _, id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
