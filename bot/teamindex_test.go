package bot_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/store/bolt"
)

// teamsConfig is two teams matched on the instance label, with their
// match specs, so that incidents keep a team list.
func teamsConfig(spec string) *bot.OnCall {
	esc := bot.Escalation{Steps: []bot.EscalationStep{{Notify: []bot.Target{{Kind: bot.TargetUser, Ref: "U0ALICE"}}}}}
	return &bot.OnCall{Teams: []bot.Team{
		{Name: "pg1", MatchSpec: `instance="pg-1"` + spec, Match: func(l map[string]string) bool { return l["instance"] == "pg-1" }, Escalation: esc},
		{Name: "pg2", MatchSpec: `instance="pg-2"`, Match: func(l map[string]string) bool { return l["instance"] == "pg-2" }, Escalation: esc},
		{Name: "by-hand", Escalation: esc},
	}}
}

// TestIncidentKeepsItsTeams checks that ingest keeps the incident header's
// team list as alerts join, so that the web view's team filter needs no
// alerts, and that a list kept under another team config is not trusted.
func TestIncidentKeepsItsTeams(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "bot.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := t0.Add(3 * time.Hour)
	oc := teamsConfig("")
	s := bot.NewService(st, bot.Options{OnCall: oc, Now: func() time.Time { return now }})
	header := func(id int64) *bot.Incident {
		t.Helper()
		var inc *bot.Incident
		if err := st.View(context.Background(), func(tx bot.Tx) (err error) { inc, err = tx.IncidentHeader(id); return err }); err != nil {
			t.Fatal(err)
		}
		return inc
	}
	res := mustIngest(t, s, notification(leakAlert("pg-1", 0, -1)))
	if got, ok := oc.KnownTeams(header(res.Incident)); !ok || !slices.Equal(got, []string{"pg1"}) {
		t.Errorf("opened by a pg-1 alert: teams %v (known %v), want [pg1]", got, ok)
	}
	mustIngest(t, s, notification(leakAlert("pg-1", 0, -1), leakAlert("pg-2", 5, -1)))
	inc := header(res.Incident)
	if got, ok := oc.KnownTeams(inc); !ok || !slices.Equal(got, []string{"pg1", "pg2"}) {
		t.Errorf("after pg-2 joined: teams %v (known %v), want [pg1 pg2]", got, ok)
	}
	if _, ok := teamsConfig(" ").KnownTeams(inc); ok {
		t.Error("a list kept under another team config is trusted")
	}
	if _, ok := (&bot.OnCall{Teams: []bot.Team{{Name: "pg1", Match: oc.Teams[0].Match}}}).KnownTeams(inc); ok {
		t.Error("a list is trusted under a config whose match has no spec")
	}
}
