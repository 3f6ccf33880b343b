package bot

import (
	"testing"
	"time"
)

func TestProfileNote(t *testing.T) {
	at := time.Date(2024, 6, 20, 14, 2, 0, 0, time.UTC)
	clock := func(t time.Time) string { return t.Format("15:04") }
	inc := &Incident{ID: 1}
	if got := ProfileNote(inc, clock); got != "" {
		t.Errorf("no captures: %q, want nothing", got)
	}
	inc.Profiles = []ProfileCapture{{N: 1, At: at, File: "inc-1/a.pb.gz"}}
	if got, want := ProfileNote(inc, clock), "captured 14:02 (inc-1-heap-1.pb.gz)"; got != want {
		t.Errorf("one capture:\n got %q\nwant %q", got, want)
	}
	inc.Profiles = append(inc.Profiles, ProfileCapture{N: 2, At: at.Add(10 * time.Minute), File: "inc-1/b.pb.gz"},
		ProfileCapture{N: 3, At: at.Add(11 * time.Minute), Error: "fetching http://10.0.0.5/debug/pprof/heap: HTTP 503"})
	inc.ProfileDiffs = []ProfileDiff{{Base: 1, Next: 2, Growth: 440 << 20, Sites: []GrowthSite{{Function: "main.leakyCache", Growth: 412 << 20, Share: 0.93}}}}
	want := "captured 14:02 (inc-1-heap-1.pb.gz) and 14:12 (inc-1-heap-2.pb.gz), diff: +412.0 MB in main.leakyCache (93%), 1 failed, the last at 14:13: fetching http://10.0.0.5/debug/pprof/heap: HTTP 503"
	if got := ProfileNote(inc, clock); got != want {
		t.Errorf("two captures, a diff and a failure:\n got %q\nwant %q", got, want)
	}
}
