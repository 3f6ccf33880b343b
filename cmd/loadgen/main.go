// Command loadgen measures incidentbot's Alertmanager webhook on this
// machine: it starts the real service (the built binary, on a fresh bbolt
// file) and a decode-only baseline (the same router, decoding and
// validation, with a store that keeps nothing), drives each in turn with
// the same realistic notifications, and prints them side by side.
//
//	go run ./cmd/loadgen -concurrency 64 -duration 30s   # closed loop, full speed
//	go run ./cmd/loadgen -rate 1000 -duration 30s        # open loop, 1000 webhooks/s
//
// Only loopback addresses are loaded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/incidentbot/incidentbot/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	rate          float64
	concurrency   int
	duration      time.Duration
	maxInFlight   int
	targets       []string
	url           string
	bin           string
	token         string
	groups        int
	newRatio      float64
	updateRatio   float64
	alerts        int
	logLevel      string
	cpuProfile    string
	serveBaseline string
	slowBodies    int
	slowAnnounce  int64
	postgres      string
}

func parse(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var targets string
	fs.Float64Var(&o.rate, "rate", 0, "open loop: webhooks per second, sent on schedule whatever the answers (0: closed loop)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "closed loop: webhooks in flight, each worker sending its next as soon as it is answered")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long each measurement runs")
	fs.IntVar(&o.maxInFlight, "max-inflight", 512, "open loop: cap on requests outstanding; a request due above it is dropped and counted")
	fs.StringVar(&targets, "targets", "baseline,real", "what to measure, in order: baseline (decode and validate only), real (the service on bbolt), postgres (the service on PostgreSQL, see -postgres)")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL URL for the postgres target; each run gets a schema of its own, dropped after")
	fs.StringVar(&o.url, "url", "", "measure an incidentbot already running at this loopback URL instead of starting one")
	fs.StringVar(&o.bin, "bin", "", "incidentbot binary to start (default: go build ./cmd/incidentbot into a temp dir)")
	fs.StringVar(&o.token, "token", "loadgen-webhook-token", "bearer token (the service is started with it; sent to -url)")
	fs.IntVar(&o.groups, "groups", 200, "alert groups (incidents) created before the measurement")
	fs.Float64Var(&o.newRatio, "new", 0.02, "share of notifications that start a new group (open a new incident)")
	fs.Float64Var(&o.updateRatio, "updates", 0.2, "share of the other notifications that change an alert (resolve it or fire it again); the rest are repeats")
	fs.IntVar(&o.alerts, "alerts", 5, "alerts per notification (about 600 bytes each)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level of the servers (their logs go to a file in the temp dir)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the real service during its run to this file (pprof)")
	fs.StringVar(&o.serveBaseline, "serve-baseline", "", "internal: serve the baseline on this address")
	fs.IntVar(&o.slowBodies, "slow-bodies", 0, "instead of load: hold this many connections that announce -slow-announce bytes and send one, and report the real service's resident memory")
	fs.Int64Var(&o.slowAnnounce, "slow-announce", 32<<20, "the Content-Length the -slow-bodies connections announce")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadgen [flags]\n\nStarts the decode-only baseline and the real incidentbot on 127.0.0.1, drives each with\n"+
			"Alertmanager notifications and prints throughput, latency percentiles and errors side by side.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for t := range strings.SplitSeq(targets, ",") {
		if t = strings.TrimSpace(t); t != "baseline" && t != "real" && t != "postgres" {
			return nil, fmt.Errorf("-targets: %q is not baseline, real or postgres", t)
		}
		if t == "postgres" && o.postgres == "" {
			return nil, errors.New("-targets postgres needs -postgres URL")
		}
		o.targets = append(o.targets, strings.TrimSpace(t))
	}
	switch {
	case o.rate < 0 || o.rate > 100000:
		return nil, errors.New("-rate: want 0 (closed loop) up to 100000")
	case o.concurrency < 1 || o.concurrency > 4096:
		return nil, errors.New("-concurrency: want 1 to 4096")
	case o.maxInFlight < 1 || o.maxInFlight > 16384:
		return nil, errors.New("-max-inflight: want 1 to 16384")
	case o.duration <= 0 || o.duration > 2*time.Hour:
		return nil, errors.New("-duration: want up to 2h")
	case o.alerts < 1 || o.alerts > 10000:
		return nil, errors.New("-alerts: want 1 to 10000")
	case o.url != "":
		if err := loadgen.CheckLoopback(o.url); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.serveBaseline != "" {
		return serveBaseline(ctx, o, stdout, stderr)
	}
	if o.slowBodies > 0 {
		if o.bin == "" {
			dir, err := os.MkdirTemp("", "loadgen-bin-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if o.bin, err = buildIncidentbot(ctx, dir); err != nil {
				return err
			}
		}
		return slowBodies(ctx, o, stdout, stderr)
	}
	fmt.Fprintf(stdout, "loadgen: %s, GOMAXPROCS %d, %s %s, %d alerts/notification (%d bytes), %d groups primed, new %.0f%%, updates %.0f%% of the rest\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, o.alerts, bodySize(o), o.groups, o.newRatio*100, o.updateRatio*100)
	var results []loadgen.Result
	if o.url != "" {
		r, err := measure(ctx, o, loadgen.Target{URL: o.url, Token: o.token}, nil, stdout)
		if err != nil {
			return err
		}
		r.Target = "url"
		results = append(results, r)
	} else {
		if o.bin == "" && (contains(o.targets, "real") || contains(o.targets, "postgres")) {
			dir, err := os.MkdirTemp("", "loadgen-bin-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if o.bin, err = buildIncidentbot(ctx, dir); err != nil {
				return err
			}
		}
		for _, name := range o.targets {
			r, err := measureStarted(ctx, o, name, stdout, stderr)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	loadgen.WriteTable(stdout, results)
	return nil
}

func bodySize(o *options) int {
	m := &loadgen.Mix{Alerts: o.alerts}
	return len(m.Prime(1)[0])
}

// measureStarted starts the named server, measures it and stops it.
func measureStarted(ctx context.Context, o *options, name string, stdout, stderr io.Writer) (loadgen.Result, error) {
	srv, err := start(ctx, o, name)
	if err != nil {
		return loadgen.Result{}, err
	}
	defer srv.stop(stderr)
	r, err := measure(ctx, o, loadgen.Target{URL: srv.url, Token: o.token}, srv, stdout)
	r.Target = name
	if err == nil && srv.db != "" {
		if fi, serr := os.Stat(srv.db); serr == nil {
			fmt.Fprintf(stdout, "  %s: bbolt file %d bytes after %d notifications (%d groups)\n", name, fi.Size(), r.OK+o.groups, srv.groups)
		}
	}
	return r, err
}

// measure primes the groups, then runs the load (profiling the server
// when asked) and returns what it measured.
func measure(ctx context.Context, o *options, t loadgen.Target, srv *server, stdout io.Writer) (loadgen.Result, error) {
	mix := &loadgen.Mix{NewRatio: o.newRatio, UpdateRatio: o.updateRatio, Alerts: o.alerts}
	for i, body := range mix.Prime(o.groups) {
		status, err := t.Send(ctx, body)
		if err != nil || status != 200 {
			return loadgen.Result{}, fmt.Errorf("priming group %d: status %d, %v", i+1, status, err)
		}
	}
	var stopProfile func() error
	if srv != nil && srv.admin != "" && o.cpuProfile != "" {
		stopProfile = srv.profile(ctx, o.cpuProfile, o.duration)
	}
	before, selfBefore, machineBefore := cpuTime(srv), selfCPU(), machineCPU()
	var r loadgen.Result
	if o.rate > 0 {
		r = loadgen.Open(ctx, t, mix, o.rate, o.duration, o.maxInFlight)
	} else {
		r = loadgen.Closed(ctx, t, mix, o.concurrency, o.duration)
	}
	if after := cpuTime(srv); after > before {
		r.CPU = after - before
	}
	r.LoadCPU = selfCPU() - selfBefore
	if busy := machineCPU() - machineBefore; busy > r.CPU+r.LoadCPU {
		r.OtherCPU = busy - r.CPU - r.LoadCPU
	}
	if srv != nil {
		srv.groups = mix.Groups()
	}
	if stopProfile != nil {
		if err := stopProfile(); err != nil {
			fmt.Fprintln(stdout, "  cpu profile:", err)
		} else {
			fmt.Fprintln(stdout, "  cpu profile of the real service written to", o.cpuProfile)
		}
	}
	if r.FirstError != "" {
		fmt.Fprintln(stdout, "  first network error:", r.FirstError)
	}
	return r, ctx.Err()
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}
