package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks"
)

// seed stores n incidents the way a year of a busy team looks: one every
// ~30 minutes back from now, three alerts each with a dozen labels, ten
// timeline entries, 1 in 200 still open, the rest acknowledged and
// resolved. It writes through the store in batches (what it measures is
// reading, not ingesting).
func seed(b testing.TB, e *env, n int) {
	b.Helper()
	now := e.clock.Now()
	const batch = 500
	for first := 0; first < n; first += batch {
		err := e.store.Update(context.Background(), func(tx bot.Tx) error {
			for i := first; i < min(first+batch, n); i++ {
				det := now.Add(-time.Duration(n-i) * 30 * time.Minute)
				inc := &bot.Incident{Title: fmt.Sprintf("DiskFull on db-%d", i%40), Severity: bot.Severity(1 + i%4), Status: bot.StatusResolved,
					Receiver: "team.ops", GroupKey: fmt.Sprintf(`{}:{alertname="DiskFull", n="%d"}`, i), CreatedAt: det, DetectedAt: det,
					ExternalURL: "http://alertmanager:9093", Lead: "U0LEAD", Impact: "checkout slow for EU customers"}
				// What ingest keeps under an indexed team config: none of
				// these alerts matches a team ("" without an index).
				inc.TeamsOf = e.svc.OnCallConfig().TeamIndex()
				ack, mit, res := det.Add(time.Duration(2+i%9)*time.Minute), det.Add(20*time.Minute), det.Add(time.Duration(30+i%90)*time.Minute)
				inc.AcknowledgedAt, inc.AcknowledgedBy, inc.MitigatedAt, inc.ResolvedAt = &ack, "U0ALICE", &mit, &res
				if i%200 == 7 {
					inc.Status, inc.ResolvedAt, inc.MitigatedAt = bot.StatusInvestigating, nil, nil
				}
				for a := range 3 {
					inc.Alerts = append(inc.Alerts, bot.Alert{Fingerprint: fmt.Sprintf("%08x%02x", i, a), Status: bot.AlertResolved,
						Labels: map[string]string{"alertname": "DiskFull", "instance": fmt.Sprintf("db-%d.prod.internal:9100", a), "job": "node",
							"device": "/dev/nvme0n1p1", "mountpoint": "/var/lib/postgresql", "severity": "critical", "cluster": "prod-eu-1",
							"team": "ops", "region": "eu-west-1", "env": "prod", "service": "postgres", "tier": "db"},
						Annotations: map[string]string{"summary": "Disk almost full", "description": "Filesystem /var/lib/postgresql has 3% left.",
							"runbook_url": "https://runbooks.example.com/disk-full"},
						StartsAt: det, EndsAt: &res, GeneratorURL: "http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes"})
				}
				if err := tx.CreateIncident(inc); err != nil {
					return err
				}
				var entries []*bot.TimelineEntry
				for k := range 10 {
					entries = append(entries, &bot.TimelineEntry{IncidentID: inc.ID, At: det.Add(time.Duration(k) * 3 * time.Minute),
						Kind: bot.KindNote, Actor: "U0ALICE", Text: fmt.Sprintf("step %d: checked the volume, freed 2 GiB of WAL", k), RecordedAt: det})
				}
				if err := tx.Append(entries...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPages measures each page over a store of 10,000 incidents,
// through the real router, beside two baselines in the same run: /healthz
// (the router alone) and the JSON API's first page of incidents (what the
// web view's list costs at least). trends/first-view computes the trends;
// trends/warm is served from the cache.
func BenchmarkPages(b *testing.B) {
	benchPages(b, newEnv(b))
}

// BenchmarkPagesWithTeams is the same with teams configured: every list
// reads the incidents' alerts, to match them to teams.
func BenchmarkPagesWithTeams(b *testing.B) {
	benchPages(b, newEnvWith(b, payments))
}

// BenchmarkPagesWithTeamIndex is the same with the teams' match specs
// known, as from a config file: incidents keep their team list on the
// header, and the team filter reads no alerts.
func BenchmarkPagesWithTeamIndex(b *testing.B) {
	benchPages(b, newEnvWith(b, paymentsIndexed))
}

func benchPages(b *testing.B, e *env) {
	seed(b, e, 10_000)
	last := int64(10_000)
	pages := []struct{ name, path string }{
		{"baseline/healthz", "/healthz"},
		{"baseline/api-incidents", "/api/v1/incidents"},
		{"incidents", "/incidents"},
		{"incidents/page-40", fmt.Sprintf("/incidents?status=resolved&before=%d", last-2000)},
		{"incidents/sev1", "/incidents?sev=1"},
		{"incidents/text-nomatch", "/incidents?q=no-such-thing"},
		{"incident", fmt.Sprintf("/incidents/%d", last-3)},
		{"postmortem.md", fmt.Sprintf("/incidents/%d/postmortem.md", last-3)},
		{"trends/warm", "/trends"},
	}
	if e.svc.OnCallConfig() != nil { // no incident of the seed pages payments
		pages = append(pages, struct{ name, path string }{"incidents/team-nomatch", "/incidents?status=resolved&team=payments"})
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			// One view before the clock starts, as a browser's first
			// (it fills the trends cache).
			e.srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p.path, nil))
			for b.Loop() {
				w := httptest.NewRecorder()
				e.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p.path, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", p.path, w.Code, w.Body)
				}
			}
		})
	}
	// What the list pages read beneath them: 200 incidents from the store,
	// headers alone and with their alerts.
	for _, alerts := range []bool{false, true} {
		b.Run(fmt.Sprintf("baseline/store-200/alerts=%v", alerts), func(b *testing.B) {
			for b.Loop() {
				list, err := e.svc.Incidents(context.Background(), bot.IncidentFilter{Limit: 200, Before: last - 3000, WithAlerts: alerts})
				if err != nil || len(list) != 200 {
					b.Fatalf("%d incidents, %v", len(list), err)
				}
			}
		})
	}
	b.Run("oncall", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/oncall", nil))
			if w.Code != http.StatusOK {
				b.Fatalf("GET /oncall: %d", w.Code)
			}
		}
	})
	// The first view after a start computes the trends while the browser
	// waits; later views get the cache and refresh it in the background.
	b.Run("trends/first-view", func(b *testing.B) {
		b.StopTimer()
		for range b.N {
			fresh := webhooks.New(webhooks.Config{Service: e.svc, Now: e.clock.Now})
			w := httptest.NewRecorder()
			b.StartTimer()
			fresh.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/trends", nil))
			b.StopTimer()
			fresh.Close()
			if w.Code != http.StatusOK {
				b.Fatalf("GET /trends: %d", w.Code)
			}
		}
	})
}
