package deploy

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/runbooks"
)

// An alert whose runbook_url names a built-in runbook gets that runbook in
// its incident channel; the memory alerts rely on it.
func TestAlertsGetTheRunbookTheirURLNames(t *testing.T) {
	builtin := runbooks.Builtin()
	checked := 0
	for _, r := range alertRules(t) {
		u := strings.TrimRight(r.annotations["runbook_url"], "/")
		name := u[strings.LastIndex(u, "/")+1:]
		if _, ok := builtin.Get(name); !ok {
			continue // a runbook of the operator's own
		}
		checked++
		labels := map[string]string{"alertname": r.name}
		maps.Copy(labels, r.labels)
		got := builtin.Match([]bot.Alert{{Labels: labels, Annotations: r.annotations}})
		var names []string
		for _, rb := range got {
			names = append(names, rb.Name)
		}
		if !slices.Contains(names, name) {
			t.Errorf("%s: %s has runbook_url %s, but incidentbot attaches %v, not the built-in %s runbook", r.file, r.name, u, names, name)
		}
	}
	if checked == 0 {
		t.Errorf("no alert names a built-in runbook; the memory alerts should name memory-leak")
	}
}
