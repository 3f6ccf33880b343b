// Package promgraph draws incidents' metric graphs: it runs each alert
// expression as a query_range against Prometheus (client_golang's API
// client) and plots the result as a PNG with gonum.org/v1/plot. It
// implements bot.Grapher. Everything is bounded: the series drawn, the
// points per series, the bytes read from Prometheus and the time a query
// may take.
package promgraph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/internal/hostallow"
)

// Options configures a Grapher. Zero values are usable defaults.
type Options struct {
	// URL is the Prometheus to ask (INCIDENTBOT_PROMETHEUS_URL); empty
	// means the one each alert's generatorURL names, when Allow admits its
	// host.
	URL string
	// Allow lists the hosts a generatorURL may name
	// (INCIDENTBOT_DERIVED_HOSTS); the zero List admits none, so that
	// whoever can post a webhook cannot choose what the bot contacts.
	Allow hostallow.List
	// Resolver looks up the names of generatorURLs; nil means
	// net.DefaultResolver.
	Resolver hostallow.Resolver
	// Timeout bounds each query; default 10s.
	Timeout time.Duration
	// Points is the number of points per series the step aims at;
	// default 300 (Prometheus refuses more than 11,000).
	Points int
	// MaxSeries bounds the series drawn per expression (the highest
	// peaks); default 8.
	MaxSeries int
	// MaxBody bounds one answer of Prometheus; default 8 MiB.
	MaxBody int64
	// HTTPClient makes the calls; nil means http.DefaultTransport.
	HTTPClient *http.Client
	// Cooldown is how long a Prometheus that failed is not asked again;
	// default 1m.
	Cooldown time.Duration
}

// Grapher is incidentbot's Prometheus. It is safe for concurrent use.
type Grapher struct {
	o Options
	// derived makes the calls to Prometheus servers named by alerts: it
	// dials only what Allow admits.
	derived http.RoundTripper
	// down remembers a Prometheus that just failed: for Cooldown its
	// queries fail at once, so that an incident storm during a Prometheus
	// outage does not spend a time-out per graph (the delivery worker
	// draws them, and its slots serve every incident).
	mu   sync.Mutex
	down map[string]failure
}

type failure struct {
	until time.Time
	err   error
}

var _ bot.Grapher = (*Grapher)(nil)

// New returns a Grapher. A bad URL is an error wrapping bot.ErrInvalid.
func New(o Options) (*Grapher, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Points <= 0 {
		o.Points = 300
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 8
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 8 << 20
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Cooldown <= 0 {
		o.Cooldown = time.Minute
	}
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: Prometheus URL %q: want http(s)://host[:port][/prefix]", bot.ErrInvalid, o.URL)
		}
		o.URL = strings.TrimRight(u.String(), "/")
	}
	derived := &http.Transport{DialContext: o.Allow.DialContext(o.Resolver), Proxy: nil, MaxIdleConns: 16,
		IdleConnTimeout: time.Minute, TLSHandshakeTimeout: 10 * time.Second, MaxResponseHeaderBytes: 64 << 10}
	return &Grapher{o: o, down: map[string]failure{}, derived: derived}, nil
}

// panel is one expression's data, ready to draw.
type panel struct {
	expr   string
	unit   unit
	series []series
	// hidden counts the series left out (beyond MaxSeries).
	hidden int
}

type series struct {
	label string
	ts    []float64 // unix seconds
	vs    []float64
	peak  float64
}

// Graph queries and draws g; see bot.Grapher.
func (gr *Grapher) Graph(ctx context.Context, g bot.Graph) ([]byte, error) {
	step := Step(g.Start, g.End, gr.o.Points)
	var panels []panel
	var errs []error
	for _, q := range g.Queries {
		p, err := gr.query(ctx, q, g.Start, g.End, step)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(p.series) > 0 {
			panels = append(panels, p)
		}
	}
	if len(panels) == 0 {
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return nil, fmt.Errorf("%w: Prometheus has no data for the alert expressions between %s and %s", bot.ErrNotFound,
			g.Start.UTC().Format("15:04"), g.End.UTC().Format("15:04 UTC"))
	}
	var buf bytes.Buffer
	if err := render(&buf, g, panels, step); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Step is the query_range resolution for a window: about points points,
// a whole number of seconds, at least one.
func Step(start, end time.Time, points int) time.Duration {
	step := end.Sub(start) / time.Duration(max(points, 1))
	return max(step.Round(time.Second), time.Second)
}

func (gr *Grapher) query(ctx context.Context, q bot.GraphQuery, start, end time.Time, step time.Duration) (panel, error) {
	base, rt := gr.o.URL, transport(gr.o.HTTPClient)
	if base == "" {
		u, err := url.Parse(q.Source)
		if err != nil || !gr.o.Allow.Admits(u.Hostname()) {
			return panel{}, fmt.Errorf("%w: the alert's generatorURL names Prometheus at %s, a host not in INCIDENTBOT_DERIVED_HOSTS (or set INCIDENTBOT_PROMETHEUS_URL)",
				bot.ErrConflict, clipText(q.Source, 120))
		}
		base, rt = q.Source, gr.derived
	}
	if err := gr.recentFailure(base); err != nil {
		return panel{}, err
	}
	p, err := gr.ask(ctx, base, rt, q, start, end, step)
	if err != nil {
		gr.failed(base, err)
	}
	return p, err
}

// recentFailure is the error of base's failure within Cooldown, or nil.
func (gr *Grapher) recentFailure(base string) error {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	f, ok := gr.down[base]
	if !ok || time.Now().After(f.until) {
		delete(gr.down, base)
		return nil
	}
	return fmt.Errorf("not asked: it failed %s ago: %w", time.Until(f.until.Add(-gr.o.Cooldown)).Abs().Round(time.Second), f.err)
}

func (gr *Grapher) failed(base string, err error) {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if len(gr.down) >= 64 { // bounded: forget the others
		clear(gr.down)
	}
	gr.down[base] = failure{until: time.Now().Add(gr.o.Cooldown), err: err}
}

func (gr *Grapher) ask(ctx context.Context, base string, rt http.RoundTripper, q bot.GraphQuery, start, end time.Time, step time.Duration) (panel, error) {
	client, err := api.NewClient(api.Config{Address: base, Client: &http.Client{
		Transport: capped{rt: rt, max: gr.o.MaxBody},
		// Never follow a redirect: the address is where we said we go.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}})
	if err != nil {
		return panel{}, fmt.Errorf("prometheus %s: %w", base, err)
	}
	qctx, cancel := context.WithTimeout(ctx, gr.o.Timeout)
	defer cancel()
	val, _, _, err := v1.NewAPI(client).QueryRange(qctx, q.Expr, v1.Range{Start: start, End: end, Step: step}, v1.WithTimeout(gr.o.Timeout))
	if err != nil {
		if qctx.Err() != nil {
			return panel{}, fmt.Errorf("prometheus %s: query_range of %q took longer than %s", base, clipText(q.Expr, 80), gr.o.Timeout)
		}
		return panel{}, fmt.Errorf("prometheus %s: query_range of %q: %w", base, clipText(q.Expr, 80), err)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return panel{}, fmt.Errorf("prometheus %s: query_range of %q answered a %s, not a matrix", base, clipText(q.Expr, 80), val.Type())
	}
	return gr.panelOf(q.Expr, m), nil
}

// panelOf keeps the MaxSeries series that peak highest, each labelled by
// what sets it apart from the others.
func (gr *Grapher) panelOf(expr string, m model.Matrix) panel {
	p := panel{expr: expr, unit: unitOf(expr)}
	maxPoints := 4 * gr.o.Points
	for _, ss := range m {
		s := series{peak: -1e308}
		for i, v := range ss.Values {
			if i == maxPoints {
				break
			}
			f := float64(v.Value)
			if f != f || f > 1e300 || f < -1e300 { // NaN, ±Inf: a gap
				continue
			}
			s.ts = append(s.ts, float64(v.Timestamp.Unix()))
			s.vs = append(s.vs, f)
			s.peak = max(s.peak, f)
		}
		if len(s.ts) > 0 {
			s.label = labelOf(ss.Metric, m)
			p.series = append(p.series, s)
		}
	}
	sort.SliceStable(p.series, func(i, j int) bool { return p.series[i].peak > p.series[j].peak })
	if len(p.series) > gr.o.MaxSeries {
		p.hidden = len(p.series) - gr.o.MaxSeries
		p.series = p.series[:gr.o.MaxSeries]
	}
	return p
}

// labelOf names a series by the labels whose values differ between the
// series of the answer (instance="pg-1"), or its metric name alone.
func labelOf(metric model.Metric, all model.Matrix) string {
	var parts []string
	names := make([]string, 0, len(metric))
	for k := range metric {
		names = append(names, string(k))
	}
	sort.Strings(names)
	for _, k := range names {
		v := metric[model.LabelName(k)]
		differs := false
		for _, o := range all {
			if o.Metric[model.LabelName(k)] != v {
				differs = true
				break
			}
		}
		if differs && k != "__name__" {
			parts = append(parts, k+"="+string(v))
		}
	}
	if len(parts) == 0 {
		if n := metric["__name__"]; n != "" {
			return string(n)
		}
		return clipText(metric.String(), 60)
	}
	return clipText(strings.Join(parts, " "), 60)
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func transport(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// capped refuses answers larger than max bytes: a query that matches
// thousands of series must not take the bot's memory with it.
type capped struct {
	rt  http.RoundTripper
	max int64
}

func (c capped) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if res.ContentLength > c.max {
		res.Body.Close()
		return nil, fmt.Errorf("the answer is %d bytes, more than the %d allowed", res.ContentLength, c.max)
	}
	res.Body = &cappedBody{rc: res.Body, left: c.max}
	return res, nil
}

type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("the answer is larger than allowed (too many series or points)")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left <= 0 && err == nil {
		// Only an answer that goes on past the cap is refused.
		var one [1]byte
		if m, _ := b.rc.Read(one[:]); m > 0 {
			return n, errors.New("the answer is larger than allowed (too many series or points)")
		}
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
