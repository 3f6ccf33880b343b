package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one run measured.
type Result struct {
	// Target names what was measured ("real", "baseline").
	Target string
	Mode   string
	// Elapsed is the run's wall time, from the first send to the last answer.
	Elapsed time.Duration
	// Sent counts requests sent; OK those answered 200; Status the other
	// answers by HTTP status; NetErrors those that got no answer.
	Sent, OK, NetErrors int
	Status              map[int]int
	// Cancelled counts requests cut off by an interrupt (Ctrl-C).
	Cancelled int
	// Dropped counts open-loop requests not sent because the in-flight
	// cap was reached.
	Dropped int
	// Kinds counts the notifications sent by kind.
	Kinds map[Kind]int
	// Latencies holds every answered request's latency, sorted; ByKind
	// the same by kind of notification.
	Latencies []time.Duration
	ByKind    map[Kind][]time.Duration
	// FirstError is the first network error, to say why.
	FirstError string
	// CPU is the server process's CPU time during the run, when known;
	// LoadCPU is the load generator's own, and OtherCPU everything else
	// that ran on the machine meanwhile (noise).
	CPU, LoadCPU, OtherCPU time.Duration
}

func (r *Result) sortLatencies() {
	slices.Sort(r.Latencies)
	for _, l := range r.ByKind {
		slices.Sort(l)
	}
}

// Throughput is the 200s per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Quantile returns the q-quantile (0..1) of the latencies, 0 without any.
func (r Result) Quantile(q float64) time.Duration { return quantile(r.Latencies, q) }

func quantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(q*float64(n)+0.999999) - 1
	return sorted[min(max(i, 0), n-1)]
}

// Errors words everything that was not a 200: statuses, network errors, drops.
func (r Result) Errors() string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(r.Status)) {
		parts = append(parts, fmt.Sprintf("%d×%d", r.Status[s], s))
	}
	if r.NetErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d×neterr", r.NetErrors))
	}
	if r.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d×dropped", r.Dropped))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// CPUPerRequest is the server's CPU time per 200, when CPU is known.
func (r Result) CPUPerRequest() time.Duration {
	if r.OK == 0 || r.CPU == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.OK)
}

// WriteTable prints results side by side, and the ratio of the "real"
// result to the "baseline" one of the same mode when both are there.
func WriteTable(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tmode\tsent\t200\treq/s\tp50\tp90\tp99\tmax\tcpu/req\tserver cores\tloadgen cores\tother cores\terrors\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t\n", r.Target, r.Mode, r.Sent, r.OK, r.Throughput(),
			ms(r.Quantile(0.5)), ms(r.Quantile(0.9)), ms(r.Quantile(0.99)), ms(r.Quantile(1)), us(r.CPUPerRequest()),
			cores(r.CPU, r.Elapsed), cores(r.LoadCPU, r.Elapsed), cores(r.OtherCPU, r.Elapsed), r.Errors())
	}
	_ = tw.Flush()
	for _, r := range results {
		var parts []string
		for _, k := range []Kind{Repeat, Update, New, Resolve} {
			if l := r.ByKind[k]; len(l) > 0 {
				parts = append(parts, fmt.Sprintf("%s %d p50 %s p99 %s", k, len(l), ms(quantile(l, 0.5)), ms(quantile(l, 0.99))))
			}
		}
		fmt.Fprintf(w, "%s %s by kind: %s\n", r.Target, r.Mode, strings.Join(parts, "; "))
	}
	for _, real := range results {
		for _, base := range results {
			if real.Target == "real" && base.Target == "baseline" && real.Mode == base.Mode && base.Throughput() > 0 {
				fmt.Fprintf(w, "%s: real/baseline throughput %.2f, p50 %.1fx, p99 %.1fx\n", real.Mode,
					real.Throughput()/base.Throughput(), ratio(real.Quantile(0.5), base.Quantile(0.5)), ratio(real.Quantile(0.99), base.Quantile(0.99)))
			}
		}
	}
}

// cores is CPU time over wall time: 1.0 is one core busy all along.
func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(cpu) / float64(wall)
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

func us(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}
