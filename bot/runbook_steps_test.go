package bot

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMarkStep drives one checklist through Done, Skip and Undo, and
// checks that buttons naming a runbook or step the incident does not have
// change nothing.
func TestMarkStep(t *testing.T) {
	t0 := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	inc := &Incident{ID: 7, Checklists: []Checklist{
		{Runbook: "memory-leak", Steps: 12},
		{Runbook: "old"}, // a record from before Steps was kept
	}}
	step := func(op Op, rb string, n int) Action {
		return Action{Op: op, Actor: "<@U1>", Runbook: rb, Step: n, Text: "Check"}
	}
	tests := []struct {
		name      string
		a         Action
		wantErr   error
		wantEntry string
		wantMarks string // runbook:n:mark, in order
	}{
		{name: "done", a: step(OpRunbookStep, "memory-leak", 3), wantEntry: "memory-leak step 3 done: Check", wantMarks: "memory-leak:3:done"},
		{name: "done again", a: step(OpRunbookStep, "memory-leak", 3), wantErr: ErrConflict, wantMarks: "memory-leak:3:done"},
		{name: "skip a done step", a: step(OpRunbookSkip, "memory-leak", 3), wantErr: ErrConflict, wantMarks: "memory-leak:3:done"},
		{name: "undo", a: step(OpRunbookUndo, "memory-leak", 3), wantEntry: "memory-leak step 3 undone (was done by <@U1>): Check", wantMarks: ""},
		{name: "undo again", a: step(OpRunbookUndo, "memory-leak", 3), wantErr: ErrConflict, wantMarks: ""},
		{name: "skip", a: step(OpRunbookSkip, "memory-leak", 6), wantEntry: "memory-leak step 6 skipped (not applicable): Check", wantMarks: "memory-leak:6:skipped"},
		{name: "undo the skip", a: step(OpRunbookUndo, "memory-leak", 6), wantEntry: "memory-leak step 6 undone (was skipped by <@U1>): Check"},
		{name: "last step", a: step(OpRunbookStep, "memory-leak", 12), wantEntry: "memory-leak step 12 done: Check", wantMarks: "memory-leak:12:done"},
		{name: "step past the checklist", a: step(OpRunbookStep, "memory-leak", 99999), wantErr: ErrNotFound, wantMarks: "memory-leak:12:done"},
		{name: "runbook not posted", a: step(OpRunbookStep, "high-latency", 1), wantErr: ErrNotFound, wantMarks: "memory-leak:12:done"},
		{name: "old record without a step count", a: step(OpRunbookSkip, "old", 4), wantEntry: "old step 4 skipped (not applicable): Check", wantMarks: "memory-leak:12:done old:4:skipped"},
	}
	for _, tt := range tests {
		e, err := markStep(inc, tt.a, t0)
		if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Fatalf("%s: err %v, want %v", tt.name, err, tt.wantErr)
		}
		if err == nil && (e.Text != tt.wantEntry || e.Kind != KindRunbookStep || e.Actor != "<@U1>") {
			t.Errorf("%s: entry %+v, want %q by <@U1>", tt.name, e, tt.wantEntry)
		}
		var marks []string
		for _, d := range inc.StepsDone {
			marks = append(marks, d.Runbook+":"+itoa(d.N)+":"+d.mark())
		}
		if got := strings.Join(marks, " "); got != tt.wantMarks {
			t.Errorf("%s: marks %q, want %q", tt.name, got, tt.wantMarks)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestStepMarksAreNotPosted checks that a tick refreshes the checklist
// but posts no message of its own.
func TestStepMarksAreNotPosted(t *testing.T) {
	now := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	inc := &Incident{ID: 7}
	tick := entry(KindRunbookStep, now, "<@U1>", "memory-leak step 5 done")
	note := entry(KindNote, now, "<@U1>", "heap grows 80 MiB/h")
	kinds := func(ds []*Delivery) string {
		var out []string
		for _, d := range ds {
			out = append(out, string(d.Kind)+":"+d.Text)
		}
		return strings.Join(out, " ")
	}
	if got := kinds(announce(inc, false, []*TimelineEntry{tick}, now, nil)); got != "refresh:" {
		t.Errorf("a tick announces %q, want only a refresh", got)
	}
	if got := kinds(announce(inc, false, []*TimelineEntry{tick, note}, now, nil)); !strings.HasPrefix(got, "refresh: post:• heap grows 80 MiB/h — ") {
		t.Errorf("a tick with a note announces %q, want the refresh and the note alone", got)
	}
}

// TestDraftShowsSkippedSteps checks that the draft tells a skipped step
// from a done one.
func TestDraftShowsSkippedSteps(t *testing.T) {
	t0 := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	inc := &Incident{ID: 7, Title: "x", Severity: SEV2, Status: StatusInvestigating, DetectedAt: t0, CreatedAt: t0,
		StepsDone: []StepDone{
			{Runbook: "memory-leak", N: 5, Text: "Capture two heap profiles", By: "<@U1>", At: t0.Add(5 * time.Minute)},
			{Runbook: "memory-leak", N: 6, Text: "Not Go?", By: "<@U2>", At: t0.Add(6 * time.Minute), Skipped: true},
		}}
	md := Draft(inc, nil, time.UTC, t0.Add(time.Hour)).Markdown()
	for _, want := range []string{"memory-leak step 5: Capture two heap profiles (U1)", "memory-leak step 6: Not Go? (skipped: not applicable) (U2)"} {
		if !strings.Contains(md, want) {
			t.Errorf("draft lacks %q:\n%s", want, md)
		}
	}
}
