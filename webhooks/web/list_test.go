package web_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// keys lists the INC-n links of a page, in order.
func keys(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<span class="key">(INC-\d+)</span>`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestIncidentListOpenFirstThenRecent(t *testing.T) {
	e := newEnv(t)
	start := testNow.Add(-100 * time.Hour)
	// INC-1..INC-4: 1 and 3 resolved; 2 (SEV1) and 4 (SEV2) open.
	for i, sev := range []bot.Severity{bot.SEV3, bot.SEV1, bot.SEV4, bot.SEV2} {
		inc := e.declare(fmt.Sprintf("incident number %d", i+1), sev, start.Add(time.Duration(i)*time.Hour))
		if i%2 == 0 {
			e.apply(inc.ID, bot.Action{Op: bot.OpResolve, Actor: "U0ALICE"})
		}
	}
	e.apply(2, bot.Action{Op: bot.OpLead, Actor: "U0ALICE", Text: "U0CAROL"})
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"INC-4", "INC-2", "INC-3", "INC-1"}},
		{"status=open", []string{"INC-4", "INC-2"}},
		{"status=resolved", []string{"INC-3", "INC-1"}},
		{"sev=1", []string{"INC-2"}},
		{"sev=sev4", []string{"INC-3"}},
		{"q=NUMBER+3", []string{"INC-3"}},
		{"q=inc-4", []string{"INC-4"}},
		{"q=u0carol", []string{"INC-2"}},
		{"q=nothing+like+this", nil},
		{"status=open&sev=3", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			page := e.mustGet("/incidents?"+tt.query, nil)
			if got := keys(page); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("?%s: got %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestIncidentListPages(t *testing.T) {
	e := newEnv(t)
	for i := range 120 {
		inc := e.declare(fmt.Sprintf("old trouble %d", i+1), bot.SEV3, testNow.Add(-time.Duration(200-i)*time.Hour))
		e.apply(inc.ID, bot.Action{Op: bot.OpResolve, Actor: "U0ALICE"})
	}
	seen := map[string]bool{}
	next := "/incidents?status=resolved"
	for n := 0; next != ""; n++ {
		page := e.mustGet(next, nil)
		got := keys(page)
		if n < 2 && len(got) != 50 || n == 2 && len(got) != 20 || n > 2 {
			t.Fatalf("page %d has %d incidents", n, len(got))
		}
		for _, k := range got {
			if seen[k] {
				t.Fatalf("%s shown twice", k)
			}
			seen[k] = true
		}
		m := regexp.MustCompile(`href="(/incidents\?[^"]+)" rel="next"`).FindStringSubmatch(page)
		next = ""
		if m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != 120 {
		t.Errorf("saw %d incidents over the pages, want 120", len(seen))
	}
	// The filter carries over to the next page.
	page := e.mustGet("/incidents?status=resolved&q=trouble&sev=3", nil)
	if !strings.Contains(page, "q=trouble") || !strings.Contains(page, "sev=3") {
		t.Error("the next-page link drops the filter")
	}
}

// Trends are served from a cache: a stale view gets the old numbers at
// once and the next view, after the refresh in the background, new ones.
func TestTrendsRefreshInBackground(t *testing.T) {
	e := newEnv(t) // starts computing the trends of the empty store
	total := func() string {
		m := regexp.MustCompile(`(\d+) incidents detected`).FindStringSubmatch(e.mustGet("/trends", nil))
		if m == nil {
			t.Fatal("no total on the trends page")
		}
		return m[1]
	}
	if got := total(); got != "0" {
		t.Fatalf("total %s, want 0", got)
	}
	e.declare("first", bot.SEV2, testNow.Add(-time.Hour))
	if got := total(); got != "0" {
		t.Errorf("within the minute: total %s, want the cached 0", got)
	}
	e.clock.Add(2 * time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for total() != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the trends were not refreshed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A search that matches nothing reads a bounded number of incidents per
// page, says so, and the next page goes on from where it stopped.
func TestIncidentListSearchIsBounded(t *testing.T) {
	e := newEnv(t)
	seed(t, e, 700) // INC-1..INC-700; INC-8, 208, 408... are open
	page := e.mustGet("/incidents?status=resolved&q=no-such-thing", nil)
	if !strings.Contains(page, "Looked through 500 resolved incidents") {
		t.Fatalf("the first page does not say where it stopped:\n%s", page)
	}
	m := regexp.MustCompile(`href="(/incidents\?[^"]+)" rel="next"`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(m[1], "before=") || !strings.Contains(m[1], "q=no-such-thing") {
		t.Fatalf("next link %v", m)
	}
	next := e.mustGet(strings.ReplaceAll(m[1], "&amp;", "&"), nil)
	if strings.Contains(next, `rel="next"`) || len(keys(next)) != 0 {
		t.Errorf("the second page should end the search")
	}
	// A search that matches an old incident finds it on a later page.
	hit := e.mustGet("/incidents?status=resolved&q=postgresql&before=200", nil)
	if got := keys(hit); len(got) == 0 {
		t.Errorf("label search found nothing below INC-200")
	}
}
