package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/incidentbot/incidentbot/internal/loadgen"
)

var (
	soakFor  = flag.Duration("soak", time.Minute, "soak test: how long to run (CI runs the default; -soak=1h for the full soak, with go test -timeout 2h)")
	soakRate = flag.Float64("soak.rate", 500, "soak test: webhooks per second, open loop")
)

// sample is one reading of the service's memory and goroutines.
type sample struct {
	at                        time.Duration
	rssAnon, heap, goroutines float64
	// conns counts the connections open to the service: each holds a
	// goroutine for as long as the client keeps it alive, and a client's
	// pool grows in steps when answers slow down.
	conns float64
}

// TestSoak runs the built service under a steady open-loop webhook load
// (mostly repeats and updates of existing groups, 2% new groups) and
// reads, every few seconds, its anonymous RSS (RssAnon: heap, stacks and
// runtime, not bbolt's file-backed mmap, which grows with the file), Go
// heap in use and goroutines (less the connections open, each of which
// holds one). After a warm-up a least-squares line is fitted to each: over
// the run it must not rise by more than 10% of its mean or 5 MB (5
// goroutines). Slack is off: at 10 new incidents a second
// Slack's tier-2 limit (20 channels a minute) would only grow the outbox
// on disk, and the storm and crash tests cover the Slack side.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a minute of load")
	}
	bin := incidentbotBinary(t)
	dir := t.TempDir()
	db, logPath := filepath.Join(dir, "incidentbot.db"), filepath.Join(dir, "incidentbot.log")
	const token = "wh-token-soak"
	p := startProc(t, bin, []string{"INCIDENTBOT_ADDR=127.0.0.1:0", "INCIDENTBOT_DB=" + db, "INCIDENTBOT_WEBHOOK_TOKEN=" + token}, logPath)
	defer func() {
		if err := p.stop(t); err != nil {
			t.Errorf("shutdown: %v\n%s", err, tail(logPath))
		}
		reportFile(t, db, logPath)
	}()

	target := loadgen.Target{URL: p.URL, Token: token}
	mix := &loadgen.Mix{NewRatio: 0.02, UpdateRatio: 0.2}
	for _, body := range mix.Prime(200) {
		if status, err := target.Send(context.Background(), body); status != 200 {
			t.Fatalf("priming: %d %v", status, err)
		}
	}
	length := *soakFor
	warmup := min(length/4, 5*time.Minute)
	every := max(2*time.Second, length/200)
	res := make(chan loadgen.Result, 1)
	go func() { res <- loadgen.Open(context.Background(), target, mix, *soakRate, length, 512) }()

	begin := time.Now()
	var samples []sample
	var r loadgen.Result
	for done := false; !done; {
		select {
		case r = <-res:
			done = true
			continue
		case <-time.After(every):
		}
		s, err := readSample(p, time.Since(begin))
		if err != nil {
			t.Errorf("sample: %v", err)
			continue
		}
		samples = append(samples, s)
	}
	r.Target = "soak"
	t.Logf("%s at %.0f/s for %v: %d sent, %d answered 200, p50 %v p99 %v max %v, errors: %s; %d groups",
		r.Mode, *soakRate, length, r.Sent, r.OK, r.Quantile(0.5), r.Quantile(0.99), r.Quantile(1), r.Errors(), mix.Groups())
	if len(r.Status) > 0 {
		t.Errorf("answers other than 200: %v", r.Status)
	}

	t.Logf("samples (every %v, warm-up %v):\n%s", every, warmup, dumpSamples(decimate(samples, 12)))
	var steady []sample
	for _, s := range samples {
		if s.at >= warmup {
			steady = append(steady, s)
		}
	}
	if len(steady) < 5 {
		t.Fatalf("%d samples after the %v warm-up; want at least 5", len(steady), warmup)
	}
	span := steady[len(steady)-1].at - steady[0].at
	for _, m := range []struct {
		name  string
		get   func(sample) float64
		floor float64
		unit  float64
		label string
	}{
		{"RssAnon", func(s sample) float64 { return s.rssAnon }, 5 << 20, 1 << 20, "MB"},
		{"go_memstats_heap_inuse_bytes", func(s sample) float64 { return s.heap }, 5 << 20, 1 << 20, "MB"},
		{"go_goroutines less connections", func(s sample) float64 { return s.goroutines - s.conns }, 5, 1, "goroutines"},
	} {
		slope, mean := fit(steady, m.get)
		rise := slope * span.Seconds()
		limit := max(0.1*mean, m.floor)
		t.Logf("%s: mean %.1f %s, slope %+.3f %s/min (%+.1f %s over the %v measured), limit %.1f %s",
			m.name, mean/m.unit, m.label, slope*60/m.unit, m.label, rise/m.unit, m.label, span.Round(time.Second), limit/m.unit, m.label)
		if rise > limit {
			t.Errorf("%s rose %.1f %s over %v after the warm-up (slope %+.3f %s/min): more than %.1f %s; samples:\n%s",
				m.name, rise/m.unit, m.label, span.Round(time.Second), slope*60/m.unit, m.label, limit/m.unit, m.label, dumpSamples(samples))
		}
	}
}

func readSample(p *proc, at time.Duration) (sample, error) {
	rss, err := p.rssAnon()
	if err != nil {
		return sample{}, err
	}
	heap, err := p.metric("go_memstats_heap_inuse_bytes")
	if err != nil {
		return sample{}, err
	}
	g, err := p.metric("go_goroutines")
	if err != nil {
		return sample{}, err
	}
	conns, err := p.connections()
	if err != nil {
		return sample{}, err
	}
	return sample{at: at, rssAnon: float64(rss), heap: heap, goroutines: g, conns: float64(conns)}, nil
}

// fit returns the least-squares slope (per second) and the mean of get
// over the samples.
func fit(samples []sample, get func(sample) float64) (slope, mean float64) {
	var sx, sy, sxx, sxy float64
	n := float64(len(samples))
	for _, s := range samples {
		x, y := s.at.Seconds(), get(s)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if d := n*sxx - sx*sx; d != 0 {
		slope = (n*sxy - sx*sy) / d
	}
	return slope, sy / n
}

// decimate keeps about n of the samples, evenly spread, and the last.
func decimate(samples []sample, n int) []sample {
	step := max(len(samples)/n, 1)
	var out []sample
	for i := 0; i < len(samples); i += step {
		out = append(out, samples[i])
	}
	if len(samples) > 0 && (len(samples)-1)%step != 0 {
		out = append(out, samples[len(samples)-1])
	}
	return out
}

func dumpSamples(samples []sample) string {
	var out strings.Builder
	for _, s := range samples {
		out.WriteString(fmt.Sprintf("%6.0fs rssanon %.1f MB heap %.1f MB goroutines %.0f connections %.0f\n",
			s.at.Seconds(), s.rssAnon/(1<<20), s.heap/(1<<20), s.goroutines, s.conns))
	}
	return out.String()
}

// reportFile says how big the bbolt file got: its size on disk, the part
// bbolt uses (its high-water mark) and the free pages inside it, with
// per-incident figures.
func reportFile(t *testing.T, path, logPath string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second}) // read-write, so that the freelist is loaded
	if err != nil {
		t.Error(err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		counts := map[string]int{}
		for _, name := range []string{"incidents", "timeline", "outbox"} {
			if b := tx.Bucket([]byte(name)); b != nil {
				counts[name] = b.Stats().KeyN
			}
		}
		st := db.Stats()
		free := int64(st.FreePageN) * int64(db.Info().PageSize)
		perInc := float64(tx.Size()-free) / float64(max(counts["incidents"], 1))
		t.Logf("bbolt file: %d bytes on disk, %d used by bbolt (%d in free pages); %d incidents, %d timeline entries, %d deliveries: %.0f bytes an incident",
			fi.Size(), tx.Size(), free, counts["incidents"], counts["timeline"], counts["outbox"], perInc)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if li, err := os.Stat(logPath); err == nil {
		t.Logf("log file: %d bytes", li.Size())
	}
}
