package heapprofile

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// synthetic writes a Go-like heap profile of about size bytes (gzipped
// protobuf, as /debug/pprof/heap serves): many functions, deep stacks,
// the four heap sample types. seed varies the values, so two profiles
// differ as two captures of one process do.
func synthetic(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	nfn := max(2000, size/260)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"},
			{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"}, Period: 512 * 1024,
		TimeNanos: time.Now().UnixNano(),
	}
	m := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x9000000, File: "/app/server", HasFunctions: true}
	p.Mapping = []*profile.Mapping{m}
	for i := range nfn {
		f := &profile.Function{ID: uint64(i + 1), Name: fmt.Sprintf("github.com/example/app/pkg%d.(*Type%d).Method%d", i%500, i%97, i),
			Filename: fmt.Sprintf("/src/app/pkg%d/file%d.go", i%500, i%40)}
		p.Function = append(p.Function, f)
		p.Location = append(p.Location, &profile.Location{ID: uint64(i + 1), Mapping: m, Address: 0x400000 + uint64(i)*16,
			Line: []profile.Line{{Function: f, Line: int64(10 + i%900)}}})
	}
	var buf bytes.Buffer
	batch := max(2000, size/1000)
	for {
		for range batch {
			stack := make([]*profile.Location, 24)
			for j := range stack {
				stack[j] = p.Location[r.IntN(nfn)]
			}
			n := r.Int64N(1000) + 1
			p.Sample = append(p.Sample, &profile.Sample{Location: stack, Value: []int64{n, n * 512, n / 2, n * 256}})
		}
		buf.Reset()
		if err := p.Write(&buf); err != nil {
			panic(err)
		}
		if buf.Len() >= size {
			return buf.Bytes()
		}
	}
}

// cachedSynthetic keeps generated profiles in the temp dir: making a
// 50 MB one takes a while, and the benchmark measures the parsing.
func cachedSynthetic(b *testing.B, size int, seed uint64) []byte {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("incidentbot-heap-%d-%d.pb.gz", size, seed))
	if data, err := os.ReadFile(path); err == nil {
		return data
	}
	data := synthetic(size, seed)
	_ = os.WriteFile(path, data, 0o644)
	return data
}

// BenchmarkDiffMemory diffs two heap profiles of 1 MB (the baseline) and
// of 50 MB, and reports the bot's own heap: the peak while diffing and
// what stays after a GC (released afterwards).
//
//	go test ./bot/heapprofile -run '^$' -bench DiffMemory -benchtime 1x
func BenchmarkDiffMemory(b *testing.B) {
	c := New(Options{})
	for _, size := range []int{1 << 20, 50 << 20} {
		base, next := cachedSynthetic(b, size, 1), cachedSynthetic(b, size, 2)
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var peak atomic.Uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
			b.ResetTimer()
			for range b.N {
				d, err := c.Diff(base, next, 10)
				if err != nil || len(d.Sites) == 0 {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			close(stop)
			<-done
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(len(base)+len(next))/(1<<20), "input-MB")
			b.ReportMetric(float64(peak.Load()-before.HeapInuse)/(1<<20), "peak-heap-MB")
			b.ReportMetric((float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), "retained-MB")
		})
	}
}
