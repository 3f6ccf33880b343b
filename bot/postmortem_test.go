package bot

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

// midnightIncident starts at 23:40 UTC on June 20 and ends at 01:15 UTC on
// June 21: the same local day in Berlin (UTC+2 in summer).
func midnightIncident() (*Incident, []TimelineEntry) {
	start := time.Date(2024, 6, 20, 23, 40, 0, 0, time.UTC)
	ack, mit, res := start.Add(4*time.Minute), start.Add(70*time.Minute), start.Add(95*time.Minute)
	inc := &Incident{ID: 7, Title: "HighLatency on search", Severity: SEV2, Status: StatusResolved, DetectedAt: start,
		AcknowledgedAt: &ack, AcknowledgedBy: "<@U1>", MitigatedAt: &mit, ResolvedAt: &res, ResolvedBy: "<@U1>", Lead: "<@U1>",
		Alerts: []Alert{{Fingerprint: "f1", Status: AlertResolved, StartsAt: start, EndsAt: &res,
			Labels: map[string]string{"alertname": "HighLatency", "service": "search"}}}}
	tl := []TimelineEntry{
		{ID: 1, At: start, Kind: KindOpened, Actor: ActorAlertmanager, Text: "INC-7 opened: HighLatency on search (SEV2)"},
		{ID: 2, At: start.Add(time.Minute), Kind: KindChannelCreated, Actor: ActorBot, Text: "channel #inc-7-high-latency created"},
		{ID: 3, At: ack, Kind: KindAcknowledged, Actor: "<@U1>", Text: "acknowledged by <@U1>"},
		{ID: 4, At: start.Add(30 * time.Minute), Kind: KindNote, Actor: "<@U2>", Text: "p99 of /search is 4 s; the index rebuild started at 23:30"},
		{ID: 5, At: mit, Kind: KindStatus, Actor: "<@U1>", Text: "status changed from investigating to monitoring"},
		{ID: 6, At: res, Kind: KindResolved, Actor: "<@U1>", Text: "INC-7 resolved by <@U1>"},
		{ID: 7, At: res.Add(time.Hour), Kind: KindPostmortemExported, Actor: "<@U1>", Text: "postmortem draft exported"},
	}
	return inc, tl
}

func TestDraftAcrossMidnightAndZones(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	exported := time.Date(2024, 6, 21, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, golden string
		loc          *time.Location
		want         []string
	}{
		{"utc spans two days", "testdata/midnight-utc.golden.md", time.UTC, []string{
			"**Duration of Outage:** June 20, 2024, 23:40 UTC to June 21, 2024, 01:15 UTC",
			"- **June 20, 23:44 UTC:** acknowledged by U1",
			"- **June 21, 00:10 UTC:** p99 of /search",
			"| Resolved | June 21, 2024, 01:15 UTC | 1h 35m |",
		}},
		{"berlin is one day", "testdata/midnight-berlin.golden.md", berlin, []string{
			"**Duration of Outage:** June 21, 2024, 01:40 CEST to June 21, 2024, 03:15 CEST",
			"- **01:44 CEST:** acknowledged by U1",
			"- **02:10 CEST:** p99 of /search",
		}},
	}
	for _, tt := range tests {
		inc, tl := midnightIncident()
		md := Draft(inc, tl, tt.loc, exported).Markdown()
		for _, w := range tt.want {
			if !strings.Contains(md, w) {
				t.Errorf("%s: draft lacks %q\n%s", tt.name, w, md)
			}
		}
		if strings.Contains(md, "channel #inc-7") || strings.Contains(md, "postmortem draft exported") {
			t.Errorf("%s: the draft's timeline shows the bot's own plumbing", tt.name)
		}
		if again := Draft(inc, tl, tt.loc, exported).Markdown(); again != md {
			t.Errorf("%s: the same input gave two different drafts", tt.name)
		}
		Golden(t, tt.golden, md)
	}
}

func TestDraftPlaceholdersNeverInvent(t *testing.T) {
	start := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	inc := &Incident{ID: 1, Title: "Checkout down", Severity: SEV1, Status: StatusInvestigating, DetectedAt: start}
	p := Draft(inc, nil, nil, start.Add(time.Hour))
	md := p.Markdown()
	for _, w := range []string{
		"June 20, 2024, 14:00 UTC to (ongoing)", "**Impact:** TODO:", "**Root Cause:** TODO:", "**Resolution:** TODO:",
		"| Acknowledged | not yet | |", "- [ ] TODO: no action items yet", `acknowledged["Acknowledged<br/>not yet"]`,
	} {
		if !strings.Contains(md, w) {
			t.Errorf("draft of a fresh incident lacks %q\n%s", w, md)
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	m := back["metrics"].(map[string]any)
	if m["acknowledged_at"] != nil || m["time_to_resolve"] != nil || back["root_cause"] != "" {
		t.Errorf("JSON of a fresh draft invents values: %s", b)
	}
}

func TestDraftKeepsUserTextInItsPlace(t *testing.T) {
	start := time.Date(2024, 6, 20, 14, 0, 0, 0, time.UTC)
	inc := &Incident{ID: 1, Title: "x", Severity: SEV3, DetectedAt: start, Cause: "## not a heading\n- not a list"}
	tl := []TimelineEntry{{At: start, Kind: KindNote, Actor: "<@U1>", Text: "line one\n## Timeline\nline three"}}
	md := Draft(inc, tl, nil, start).Markdown()
	if strings.Count(md, "\n## Timeline") != 1 || strings.Contains(md, "\n## not a heading") || strings.Contains(md, "\n- not a list") {
		t.Errorf("user text broke the draft's structure:\n%s", md)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// Golden compares got with the file at path; go test ./bot -update
// rewrites it. It is exported for the external tests of this package.
func Golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output; review with go test ./bot -run %s -update and git diff\ngot:\n%s", path, t.Name(), got)
	}
}
