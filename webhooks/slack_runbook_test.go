package webhooks

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// postChecklist records a runbook's checklist as posted in the incident's
// channel, as the chat adapter does.
func (e *env) postChecklist(id int64, runbook string, steps int) {
	e.t.Helper()
	err := e.store.Update(context.Background(), func(tx bot.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		inc.Checklists = append(inc.Checklists, bot.Checklist{Runbook: runbook, Steps: steps})
		return tx.UpdateIncident(inc)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestChecklistButtons presses Done, Skip and Undo, and buttons naming a
// runbook or step the incident does not have: those get an ephemeral
// refusal and change nothing, not the incident, not the timeline.
func TestChecklistButtons(t *testing.T) {
	e := newEnv(t)
	rc := newReplyCatcher(t, e)
	e.openIncident()
	e.postChecklist(1, "memory-leak", 2)
	marks := func(inc *bot.Incident) string {
		var out []string
		for _, d := range inc.StepsDone {
			m := "done"
			if d.Skipped {
				m = "skipped"
			}
			out = append(out, d.Runbook+":"+string(rune('0'+d.N))+":"+m+":"+d.By+":"+d.Text)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name      string
		actionID  string
		value     string
		wantReply string // "" means none
		wantMarks string
	}{
		{name: "done", actionID: bot.ActionRunbookStep, value: "1:memory-leak:1", wantMarks: "memory-leak:1:done:U0BOB:Check the dashboard"},
		{name: "skip", actionID: bot.ActionRunbookSkip, value: "1:memory-leak:2",
			wantMarks: "memory-leak:1:done:U0BOB:Check the dashboard memory-leak:2:skipped:U0BOB:Roll back"},
		{name: "undo the done", actionID: bot.ActionRunbookUndo, value: "1:memory-leak:1", wantMarks: "memory-leak:2:skipped:U0BOB:Roll back"},
		{name: "undo a step not marked", actionID: bot.ActionRunbookUndo, value: "1:memory-leak:1", wantReply: "step 1 of memory-leak is not marked",
			wantMarks: "memory-leak:2:skipped:U0BOB:Roll back"},
		{name: "step the runbook does not have", actionID: bot.ActionRunbookStep, value: "1:memory-leak:99999",
			wantReply: "runbook memory-leak has no step 99999 (it has 2)", wantMarks: "memory-leak:2:skipped:U0BOB:Roll back"},
		{name: "runbook that does not exist", actionID: bot.ActionRunbookSkip, value: "1:no-such-runbook:1",
			wantReply: `there is no runbook "no-such-runbook"`, wantMarks: "memory-leak:2:skipped:U0BOB:Roll back"},
		{name: "runbook the incident does not have", actionID: bot.ActionRunbookStep, value: "1:disk-full:1",
			wantReply: `INC-1 has no runbook "disk-full"`, wantMarks: "memory-leak:2:skipped:U0BOB:Roll back"},
		{name: "incident that does not exist", actionID: bot.ActionRunbookStep, value: "99:memory-leak:1",
			wantReply: "not found", wantMarks: "memory-leak:2:skipped:U0BOB:Roll back"},
	}
	for _, tt := range tests {
		entries := len(e.timeline(1))
		form := interactionForm("block_actions", tt.actionID, tt.value, rc.srv.URL+"/actions/T1/2/xyz")
		if w := e.serve(slackRequest("/slack/interactions", "application/x-www-form-urlencoded", form, e.now)); w.Code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", tt.name, w.Code)
		}
		wait := 2 * time.Second
		if tt.wantReply == "" {
			wait = 50 * time.Millisecond
		}
		reply := rc.next(wait)
		switch {
		case tt.wantReply == "" && reply != nil:
			t.Errorf("%s: got reply %v, want none", tt.name, reply)
		case tt.wantReply != "" && (reply == nil || reply["response_type"] != "ephemeral" || !strings.Contains(reply["text"].(string), tt.wantReply)):
			t.Errorf("%s: got reply %v, want an ephemeral one containing %q", tt.name, reply, tt.wantReply)
		}
		if got := marks(e.incident(1)); got != tt.wantMarks {
			t.Errorf("%s: marks %q, want %q", tt.name, got, tt.wantMarks)
		}
		added := len(e.timeline(1)) - entries
		if want := map[bool]int{true: 0, false: 1}[tt.wantReply != ""]; added != want {
			t.Errorf("%s: %d timeline entries added, want %d", tt.name, added, want)
		}
	}
	// Ticks go on the timeline but are not posted as messages: the
	// outbox holds refreshes of the checklist, no posts.
	for _, d := range e.pending() {
		if d.Kind == bot.DeliveryPost && strings.Contains(d.Text, "memory-leak step") {
			t.Errorf("a tick was queued as a message: %q", d.Text)
		}
	}
}
