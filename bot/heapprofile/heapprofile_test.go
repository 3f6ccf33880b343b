package heapprofile

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/internal/hostallow"
	"github.com/incidentbot/incidentbot/internal/testpeers"
)

func TestDiffNamesTheLeakingFunction(t *testing.T) {
	leaker := testpeers.Leaker(t)
	c := New(Options{})
	target := bot.ProfileTarget{URL: leaker + "/debug/pprof/heap", Allow: []string{"127.0.0.0/8"}}
	ctx := context.Background()
	first, err := c.Fetch(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // ~75 buffers of 256 KiB leak meanwhile
	second, err := c.Fetch(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Diff(first, second, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sites) == 0 {
		t.Fatalf("no site grew: %+v", d)
	}
	top := d.Sites[0]
	if top.Function != "main.leakyCache" || !strings.HasSuffix(top.File, "leaker/main.go") || top.Line == 0 {
		t.Errorf("top site %+v, want main.leakyCache in leaker/main.go", top)
	}
	// The profile shows the heap as of the last GC: most, not all, of the
	// ~18 MiB leaked meanwhile.
	if top.Growth < 4<<20 || top.Share < 0.5 {
		t.Errorf("top site grew %d bytes (%.0f%% of %d), want most of the growth, at least 4 MiB", top.Growth, 100*top.Share, d.Growth)
	}
	for _, s := range d.Sites {
		// churn's few live buffers vary with GC timing; they never add up.
		if s.Function == "main.churn" && s.Growth > top.Growth/3 {
			t.Errorf("churn, which keeps only its last buffer, shows as growing: %+v", s)
		}
	}
	// Real captures, with runtime frames: the streamed sums are what
	// pprof's own -base merge gives per site.
	ref := mergeDiff(t, first, second)
	full, err := c.Diff(first, second, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range full.Sites {
		if want := ref[siteKey{s.Function, s.File, s.Line}]; s.Growth != want {
			t.Errorf("%s grew %d, pprof -base says %d", s.Function, s.Growth, want)
		}
	}
	// What `go tool pprof -base` reads: both parse as heap profiles.
	for _, b := range [][]byte{first, second} {
		p, err := profile.ParseData(b)
		if err != nil || p.SampleType[len(p.SampleType)-1].Type != "inuse_space" {
			t.Errorf("a capture is not a heap profile: %v", err)
		}
	}
}

func TestFetchOnlyFromAllowedHosts(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/html":
			w.Write([]byte("<html>not a profile</html>"))
		case "/huge":
			w.Write(bytes.Repeat([]byte("x"), 2<<20))
		case "/slow":
			time.Sleep(2 * time.Second)
		}
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	c := New(Options{Timeout: 500 * time.Millisecond, MaxBytes: 1 << 20, Resolver: hostallow.Static{
		"svc.internal":    {netip.MustParseAddr("127.0.0.1")},
		"meta.internal":   {netip.MustParseAddr("169.254.169.254")},
		"elsewhere.other": {netip.MustParseAddr("127.0.0.1")},
	}})
	ctx := context.Background()
	tests := []struct {
		name  string
		url   string
		allow []string
		want  string
		hit   bool
		data  bool
	}{
		{"address outside the networks", srv.URL + "/heap", []string{"10.0.0.0/8"}, "not in the allow-list", false, false},
		{"name not listed", "http://elsewhere.other:" + port + "/heap", []string{"127.0.0.0/8"}, "not in the allow-list", false, false},
		{"listed name resolving to metadata", "http://meta.internal:" + port + "/heap", []string{"meta.internal"}, "169.254.169.254 is not in the allow-list", false, false},
		{"listed name resolving to loopback", "http://svc.internal:" + port + "/heap", []string{"svc.internal", "10.0.0.0/8"}, "127.0.0.1 is not in the allow-list", false, false},
		{"listed name, loopback listed too", "http://svc.internal:" + port + "/heap", []string{"svc.internal", "127.0.0.1"}, "", true, false},
		{"metadata address in a catch-all network", "http://169.254.169.254:" + port + "/heap", []string{"0.0.0.0/0"}, "not in the allow-list", false, false},
		{"redirect elsewhere", srv.URL + "/redirect", []string{"127.0.0.1"}, "refused a redirect", true, false},
		{"not a profile", srv.URL + "/html", []string{"127.0.0.1"}, "does not parse", true, true},
		{"too large", srv.URL + "/huge", []string{"127.0.0.1"}, "larger than", true, false},
		{"too slow", srv.URL + "/slow", []string{"127.0.0.1"}, "no answer within 500ms", true, false},
		{"credentials in the URL", "http://u:p@127.0.0.1:" + port + "/heap", []string{"127.0.0.1"}, "without credentials", false, false},
		{"not http", "file:///etc/passwd", []string{"127.0.0.1"}, "want http(s)", false, false},
		{"bad allow entry", srv.URL + "/heap", []string{"*.example.com"}, "allow entry", false, false},
	}
	for _, tc := range tests {
		before := hits.Load()
		data, err := c.Fetch(ctx, bot.ProfileTarget{URL: tc.url, Allow: tc.allow})
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.want)
		}
		if got := hits.Load() > before; got != tc.hit {
			t.Errorf("%s: contacted the server = %v, want %v", tc.name, got, tc.hit)
		}
		if (len(data) > 0) != tc.data {
			t.Errorf("%s: returned %d bytes", tc.name, len(data))
		}
		if tc.data && !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestOneFetchAtATimePerHost(t *testing.T) {
	var now, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		now.Add(-1)
	}))
	defer srv.Close()
	c := New(Options{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c.Fetch(context.Background(), bot.ProfileTarget{URL: srv.URL + "/heap", Allow: []string{"127.0.0.1"}})
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d fetches ran at once against one host, want 1", most.Load())
	}
	if len(c.busy) != 0 {
		t.Errorf("%d hosts still held after the fetches", len(c.busy))
	}
}

func TestDirKeepsProfiles(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put("inc-3/20241020T140000.000000001.pb.gz", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, err := d.Get("inc-3/20241020T140000.000000001.pb.gz"); err != nil || string(b) != "x" {
		t.Errorf("Get = %q, %v", b, err)
	}
	if _, err := d.Get("inc-3/missing.pb.gz"); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	for _, bad := range []string{"../../etc/passwd", "inc-3/../../x.pb.gz", "/abs.pb.gz", "inc-3/a/b.pb.gz"} {
		if err := d.Put(bad, nil); !errors.Is(err, bot.ErrInvalid) {
			t.Errorf("Put(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := os.Stat(d.root); err != nil {
		t.Fatal(err)
	}
}

// mergeDiff is the reference: what `go tool pprof -base` computes (base
// scaled by -1 and merged into next), summed per site.
func mergeDiff(t *testing.T, base, next []byte) map[siteKey]int64 {
	t.Helper()
	b, err := profile.ParseData(base)
	if err != nil {
		t.Fatal(err)
	}
	x, err := profile.ParseData(next)
	if err != nil {
		t.Fatal(err)
	}
	b.Scale(-1)
	m, err := profile.Merge([]*profile.Profile{x, b})
	if err != nil {
		t.Fatal(err)
	}
	out := map[siteKey]int64{}
	for _, s := range m.Sample {
		fn, file, line := site(s)
		out[siteKey{fn, file, line}] += s.Value[3]
	}
	return out
}

func TestDiffIsWhatPprofBaseShows(t *testing.T) {
	base, next := synthetic(300<<10, 1), synthetic(300<<10, 2)
	d, err := New(Options{}).Diff(base, next, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	ref := mergeDiff(t, base, next)
	var refNet, positive int64
	for _, v := range ref {
		refNet += v
		if v > 0 {
			positive++
		}
	}
	if d.Growth != refNet || int64(len(d.Sites)) != positive {
		t.Fatalf("net %d over %d sites, pprof -base says %d over %d", d.Growth, len(d.Sites), refNet, positive)
	}
	for _, s := range d.Sites {
		if want := ref[siteKey{s.Function, s.File, s.Line}]; s.Growth != want {
			t.Errorf("%s grew %d, pprof -base says %d", s.Function, s.Growth, want)
		}
	}
	if _, err := New(Options{}).Diff(base, []byte("not a profile"), 5); !errors.Is(err, bot.ErrInvalid) {
		t.Errorf("garbage: %v", err)
	}
}

func FuzzDiff(f *testing.F) {
	good := synthetic(20<<10, 1)
	f.Add(good[:len(good)/2])
	f.Add([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n"))
	f.Add([]byte{0x1f, 0x8b})
	c := New(Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := c.Diff(good, data, 5)
		if err == nil && len(d.Sites) > 5 {
			t.Errorf("%d sites", len(d.Sites))
		}
	})
}

// site is the reference for a sample's allocation site (the parsed
// profile's view of what stream.go computes): its innermost frame outside the
// runtime, or the innermost frame when every frame is the runtime's.
func site(s *profile.Sample) (fn, file string, line int64) {
	first := true
	for _, loc := range s.Location {
		for _, l := range loc.Line { // innermost first, inlined frames included
			if l.Function == nil {
				continue
			}
			name := l.Function.Name
			if first {
				fn, file, line, first = name, l.Function.Filename, l.Line, false
			}
			if !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "internal/") {
				return name, l.Function.Filename, l.Line
			}
		}
	}
	if first {
		return "(unknown)", "", 0
	}
	return fn, file, line
}

func TestDiffRefusesHostileProfiles(t *testing.T) {
	defer func(n int64, m int) { maxInflated, maxTables = n, m }(maxInflated, maxTables)
	maxInflated, maxTables = 8<<20, 4<<20
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte{0x12, 0x00}, 8<<20)) // empty samples, 16 MiB of them
	zw.Close()
	good := synthetic(20<<10, 1)
	huge := append(protowire.AppendTag(nil, 6, protowire.BytesType), protowire.AppendVarint(nil, 1<<40)...)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"gzip bomb", bomb.Bytes(), "inflates to more than"},
		{"tables beyond the budget", bytes.Repeat(protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), make([]byte, 100)), 50000), "take more than"},
		{"field longer than allowed", huge, "bytes long"},
		{"cut short", good[:len(good)/2], "does not parse"},
		{"group wire type", []byte{0x0b}, "wire type"},
		{"sample naming a missing location", append(protowire.AppendTag(nil, 6, protowire.BytesType), 0,
			0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, // sample_type {type: 1, unit: 2}
			0x32, 0x0b, 'i', 'n', 'u', 's', 'e', '_', 's', 'p', 'a', 'c', 'e', 0x32, 0x05, 'b', 'y', 't', 'e', 's',
			0x12, 0x04, 0x08, 0x07, 0x10, 0x05), "location 7"},
	} {
		_, err := New(Options{}).Diff(good, tc.data, 5)
		if !errors.Is(err, bot.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalid saying %q", tc.name, err, tc.want)
		}
	}
}
