package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks"
)

func TestIncidentPageShowsWhatHappened(t *testing.T) {
	e := newEnv(t, func(c *webhooks.Config) {
		c.Runbooks = runbookSet{{Name: "memory-leak", Title: "MemoryLeak", Steps: []bot.RunbookStep{{N: 1, Text: "Check the dashboard"}, {N: 2, Text: "Roll back"}}}}
	})
	id := e.webhook("firing.json")
	e.clock.Add(10 * time.Minute)
	e.apply(id, bot.Action{Op: bot.OpAck, Actor: "U0ALICE"})
	// The chat adapter posted the checklist; Bob ticks step 1.
	err := e.store.Update(t.Context(), func(tx bot.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		inc.Checklists = append(inc.Checklists, bot.Checklist{Runbook: "memory-leak", Steps: 2})
		return tx.UpdateIncident(inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.apply(id, bot.Action{Op: bot.OpRunbookStep, Actor: "U0BOB", Runbook: "memory-leak", Step: 1, Text: "Check the dashboard"})
	e.apply(id, bot.Action{Op: bot.OpNote, Actor: "U0BOB", Text: "heap grows in the cache"})
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	pm, err := e.svc.Postmortem(t.Context(), id, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1 of 2 done", "done by U0BOB", "heap grows in the cache", "Roll back",
		pm.Metrics.TimeToAcknowledge.Text, // the draft's TTA, not a number of our own
		`href="http://prometheus:9090/graph?g0.expr=`, "Alertmanager</a>", "instance", "pg-1",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	list := e.mustGet("/incidents", nil)
	if !strings.Contains(list, pm.Metrics.TimeToAcknowledge.Text) || strings.Contains(list, "not acknowledged") {
		t.Errorf("the list does not show the TTA %q:\n%s", pm.Metrics.TimeToAcknowledge.Text, list)
	}
}

type runbookSet []bot.Runbook

func (r runbookSet) Match(alerts []bot.Alert) []bot.Runbook {
	var out []bot.Runbook
	for _, b := range r {
		for _, a := range alerts {
			if a.Name() == b.Title {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

func (r runbookSet) Get(name string) (bot.Runbook, bool) {
	for _, b := range r {
		if b.Name == name {
			return b, true
		}
	}
	return bot.Runbook{}, false
}

func (r runbookSet) All() []bot.Runbook { return r }

func TestIncidentPageListsPages(t *testing.T) {
	e := newEnvWith(t, payments)
	id := e.webhook("firing.json")
	sent := testNow.Add(-time.Minute)
	err := e.store.Update(t.Context(), func(tx bot.Tx) error {
		for _, p := range []*bot.Page{
			{IncidentID: id, Team: "payments", N: 1, Step: 1, Target: "U0ALICE", Via: bot.ViaSlack, At: sent, Status: bot.PageAcknowledged, AckedAt: &testNow},
			{IncidentID: id, Team: "payments", N: 1, Step: 1, Target: "U0ALICE", Via: bot.ViaEmail, Address: "alice@example.com", At: sent,
				Status: bot.PageFailed, Error: "smtp: 550 <script>alert(1)</script>"},
		} {
			if _, err := tx.ClaimPage(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	for _, want := range []string{"Pages sent", "alice@example.com", `class="pg-failed">failed`, `class="pg-acknowledged">acknowledged`,
		"smtp: 550 &lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the pages section lacks %q", want)
		}
	}
}

// The API's draft links to the incident's page when the public URL is set,
// and leaves the line out without one.
func TestDraftLinksToIncidentPage(t *testing.T) {
	for _, pub := range []string{"https://bot.example.com/", ""} {
		e := newEnv(t, func(c *webhooks.Config) { c.PublicURL = pub })
		id := e.webhook("firing.json")
		md := e.mustGet(fmt.Sprintf("/api/v1/incidents/%d/postmortem", id), nil)
		if has := strings.Contains(md, "<https://bot.example.com/incidents/1>"); has != (pub != "") {
			t.Errorf("public URL %q: link in the draft = %v\n%s", pub, has, md)
		}
		page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
		if has := strings.Contains(page, `href="https://bot.example.com/incidents/1"`); has != (pub != "") {
			t.Errorf("public URL %q: link in the rendered draft = %v", pub, has)
		}
	}
}

// fakeGrapher draws a fixed picture, or fails.
type fakeGrapher struct{ err error }

func (f fakeGrapher) Graph(context.Context, bot.Graph) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []byte("\x89PNG\r\n\x1a\nfake"), nil
}

func TestIncidentGraph(t *testing.T) {
	for _, tt := range []struct {
		name    string
		grapher bot.Grapher
		status  int
		img     bool
	}{
		{"drawn", fakeGrapher{}, http.StatusOK, true},
		{"prometheus down", fakeGrapher{err: errors.New("dial tcp: connection refused")}, http.StatusBadGateway, true},
		{"no graphs set up", nil, http.StatusNotFound, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(o *bot.Options) { o.Grapher = tt.grapher }, withToken)
			id := e.webhook("firing.json")
			page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil, "Authorization", "Bearer "+testToken)
			if has := strings.Contains(page, fmt.Sprintf(`<img src="/incidents/%d/graph.png"`, id)); has != tt.img {
				t.Errorf("graph on the page = %v, want %v", has, tt.img)
			}
			w := e.get(fmt.Sprintf("/incidents/%d/graph.png", id), nil, "Authorization", "Bearer "+testToken)
			if w.Code != tt.status || (w.Code == 200) != (w.Header().Get("Content-Type") == "image/png") {
				t.Errorf("graph.png: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			// Not signed in: no picture.
			if w := e.get(fmt.Sprintf("/incidents/%d/graph.png", id), nil); w.Code != http.StatusSeeOther {
				t.Errorf("graph.png without a session: %d", w.Code)
			}
		})
	}
}

func TestIncidentPageShowsSilences(t *testing.T) {
	e := newEnv(t)
	id := e.webhook("firing.json")
	ends := testNow.Add(2 * time.Hour)
	err := e.store.Update(t.Context(), func(tx bot.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		inc.Silences = []bot.Silence{{ID: "a1b2", Matchers: []bot.Matcher{{Name: "alertname", Value: "MemoryLeak", IsEqual: true}},
			StartsAt: testNow, EndsAt: ends, Actor: "U0ALICE", Alertmanager: "http://alertmanager:9093"},
			{ID: "x", Matchers: []bot.Matcher{{Name: "a", Value: "<b>", IsEqual: true}}, EndsAt: testNow.Add(-time.Hour), Actor: "U0BOB", Alertmanager: "javascript:alert(1)"}}
		return tx.UpdateIncident(inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	page := e.mustGet(fmt.Sprintf("/incidents/%d", id), nil)
	for _, want := range []string{"<strong>Silenced</strong> until 2024-06-20 18:00 UTC", `alertname=&#34;MemoryLeak&#34;`,
		`href="http://alertmanager:9093/#/silences/a1b2"`, "Silence ended 2024-06-20 15:00 UTC", `a=&#34;&lt;b&gt;&#34;`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "javascript:") {
		t.Error("a javascript: Alertmanager URL became a link")
	}
}
