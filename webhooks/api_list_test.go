package webhooks

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestAPIListLeavesAlertsOutUnlessAsked: the list carries no alerts
// (their annotations are most of an answer's size) unless ?include=alerts.
func TestAPIListLeavesAlertsOutUnlessAsked(t *testing.T) {
	e := newEnv(t)
	inc := e.openIncident()
	if len(inc.Alerts) == 0 {
		t.Fatal("the testdata incident has no alerts")
	}
	list := func(path string) []map[string]json.RawMessage {
		w := e.get(path)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		var out []map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out) != 1 {
			t.Fatalf("GET %s: %v, %s", path, err, w.Body)
		}
		return out
	}
	if got := list("/api/v1/incidents")[0]; got["alerts"] != nil || got["title"] == nil {
		t.Errorf("list without include: alerts %s, title %s; want no alerts key and the title", got["alerts"], got["title"])
	}
	var alerts []json.RawMessage
	if err := json.Unmarshal(list("/api/v1/incidents?include=alerts")[0]["alerts"], &alerts); err != nil || len(alerts) != len(inc.Alerts) {
		t.Errorf("list with include=alerts: %d alerts (%v), want %d", len(alerts), err, len(inc.Alerts))
	}
	if w := e.get("/api/v1/incidents?include=" + strings.Repeat("x", 5000)); w.Code != 400 || w.Body.Len() > 400 {
		t.Errorf("unknown include: %d, %d bytes %s; want 400 quoting only the start of it", w.Code, w.Body.Len(), w.Body.String()[:min(w.Body.Len(), 300)])
	}
}

// TestAPIListStopsAtItsSizeCap: a page stops once it holds maxListBytes of
// JSON, links to the rest, and following the links lists every incident
// once.
func TestAPIListStopsAtItsSizeCap(t *testing.T) {
	e := newEnv(t)
	e.declare(7)
	old := maxListBytes
	maxListBytes = 1500 // a little over two declared incidents
	t.Cleanup(func() { maxListBytes = old })
	var seen []int64
	path := "/api/v1/incidents?limit=5"
	for pages := 0; path != ""; pages++ {
		if pages > 7 {
			t.Fatalf("more pages than incidents; seen %v", seen)
		}
		w := e.get(path)
		if w.Code != 200 || w.Body.Len() > maxListBytes {
			t.Fatalf("GET %s: %d, %d bytes; want 200 within %d", path, w.Code, w.Body.Len(), maxListBytes)
		}
		page := ids(t, w.Body.Bytes())
		if len(page) == 0 || len(page) >= 5 {
			t.Fatalf("GET %s: %v; want a page cut short by size", path, page)
		}
		seen = append(seen, page...)
		path = ""
		if link := w.Header().Get("Link"); link != "" {
			u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
			if err != nil {
				t.Fatal(err)
			}
			path = u.RequestURI()
		}
	}
	if fmt.Sprint(seen) != "[7 6 5 4 3 2 1]" {
		t.Errorf("incidents over all pages: %v, want [7 6 5 4 3 2 1]", seen)
	}
}
