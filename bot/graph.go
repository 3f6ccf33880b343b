package bot

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Grapher draws an incident's alert expressions as a PNG. Its adapter
// (bot/promgraph) queries Prometheus with query_range and plots the result.
type Grapher interface {
	// Graph queries each of g's expressions over g's window and draws them
	// with g's marks. Errors wrap ErrNotFound when no expression returned
	// data; any other error (Prometheus unreachable, refused, too slow, an
	// answer too large) is transient and safe to retry. It only reads.
	Graph(ctx context.Context, g Graph) ([]byte, error)
}

// Graph is what to draw for an incident: the expressions of its alerts
// over the incident window, with the moments that matter marked.
type Graph struct {
	Title string
	// Queries are the distinct alert expressions, at most maxGraphQueries.
	Queries []GraphQuery
	// Start and End bound the window: an hour before detection to the
	// resolution (and a little after), or now.
	Start, End time.Time
	Marks      []GraphMark
}

// GraphQuery is one expression and the Prometheus that evaluated it (the
// scheme, host and path prefix of the alert's generatorURL).
type GraphQuery struct {
	Expr   string
	Source string
}

// GraphMark is a moment drawn as a vertical line.
type GraphMark struct {
	At    time.Time
	Label string
	// Alert is true for an alert's start (drawn apart from the incident's
	// own key times).
	Alert bool
}

// Bounds of a graph: the expressions drawn, the alert starts marked, and
// how far before detection and after resolution the window reaches.
const (
	maxGraphQueries = 4
	maxAlertMarks   = 6
	graphLeadIn     = time.Hour
	graphTail       = 15 * time.Minute
	maxExprLen      = 2000
	// graphBudget bounds drawing one graph in the delivery worker, whose
	// slots every incident shares.
	graphBudget = 20 * time.Second
)

// GraphOf is the graph of inc at now, or false when none of its alerts
// carries an expression (alerts not from Prometheus, incidents declared
// by hand).
func GraphOf(inc *Incident, now time.Time) (Graph, bool) {
	g := Graph{Title: inc.Key() + " " + inc.Title, Start: inc.DetectedAt.Add(-graphLeadIn), End: now.UTC()}
	if inc.ResolvedAt != nil && inc.ResolvedAt.Add(graphTail).Before(g.End) {
		g.End = inc.ResolvedAt.Add(graphTail)
	}
	seen := map[string]bool{}
	starts := map[time.Time]string{}
	for _, a := range inc.Alerts {
		if _, ok := starts[a.StartsAt]; !ok && len(starts) < maxAlertMarks {
			starts[a.StartsAt] = a.Name()
		}
		q, ok := QueryOf(a.GeneratorURL)
		if !ok || seen[q.Expr] || len(g.Queries) == maxGraphQueries {
			continue
		}
		seen[q.Expr] = true
		g.Queries = append(g.Queries, q)
	}
	if len(g.Queries) == 0 || !g.End.After(g.Start) {
		return Graph{}, false
	}
	for at, name := range starts {
		g.Marks = append(g.Marks, GraphMark{At: at, Label: name + " fired", Alert: true})
	}
	key := func(t *time.Time, label string) {
		if t != nil {
			g.Marks = append(g.Marks, GraphMark{At: *t, Label: label})
		}
	}
	key(inc.AcknowledgedAt, "acknowledged")
	key(inc.MitigatedAt, "mitigated")
	key(inc.ResolvedAt, "resolved")
	sort.Slice(g.Marks, func(i, j int) bool { return g.Marks[i].At.Before(g.Marks[j].At) })
	return g, true
}

// QueryOf reads the expression (g0.expr) and the Prometheus base URL out
// of an alert's generatorURL, as Prometheus writes it:
// http://prometheus:9090/graph?g0.expr=...&g0.tab=1. A URL that is not
// http(s), or has no expression, gives false.
func QueryOf(generatorURL string) (GraphQuery, bool) {
	u, err := url.Parse(generatorURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return GraphQuery{}, false
	}
	expr := strings.TrimSpace(u.Query().Get("g0.expr"))
	if expr == "" || len(expr) > maxExprLen {
		return GraphQuery{}, false
	}
	prefix := strings.TrimSuffix(u.Path, "/graph")
	if prefix == u.Path { // not Prometheus's graph page: keep the host only
		prefix = ""
	}
	base := url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimRight(prefix, "/")}
	return GraphQuery{Expr: expr, Source: base.String()}, true
}

// GraphPNG draws the graph of incident id now. Errors wrap ErrNotFound
// (no such incident, no expression to draw, graphs not set up) or come
// from the Grapher.
func (s *Service) GraphPNG(ctx context.Context, id int64) ([]byte, error) {
	inc, err := s.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.graphOf(ctx, inc)
}

func (s *Service) graphOf(ctx context.Context, inc *Incident) ([]byte, error) {
	if s.grapher == nil {
		return nil, fmt.Errorf("%w: graphs are not set up", ErrNotFound)
	}
	g, ok := GraphOf(inc, s.Now())
	if !ok {
		return nil, fmt.Errorf("%w: none of the alerts of %s carries a Prometheus expression (generatorURL) to graph", ErrNotFound, inc.Key())
	}
	return s.grapher.Graph(ctx, g)
}

// Graphable reports whether the incident has an expression to graph and a
// Grapher to draw it.
func (s *Service) Graphable(inc *Incident) bool {
	_, ok := GraphOf(inc, s.Now())
	return ok && s.grapher != nil
}

// DeliveryGraph posts the graph of the incident's alert expressions into
// its channel, drawn by the delivery worker when it runs (File). It is
// enqueued when the incident opens and when it resolves. A Prometheus
// that fails leaves one delivery_failed entry and no retry: the graph is
// a help, never a reason to hold the incident's other deliveries.
const DeliveryGraph DeliveryKind = "graph"

// graphError is a graph that could not be drawn: the worker gives the
// delivery up with one timeline warning instead of retrying.
type graphError struct{ err error }

func (e *graphError) Error() string { return e.err.Error() }
func (e *graphError) Unwrap() error { return e.err }

// drawGraph renders d's graph into d.File for the chat.
func (w *Worker) drawGraph(ctx context.Context, inc *Incident, d Delivery) (Delivery, error) {
	if w.o.Grapher == nil {
		return d, &graphError{fmt.Errorf("%w: graphs are not set up", ErrNotFound)}
	}
	g, ok := GraphOf(inc, w.o.Now())
	if !ok {
		return d, &graphError{fmt.Errorf("%w: no alert expression to graph", ErrNotFound)}
	}
	gctx, cancel := context.WithTimeout(ctx, graphBudget)
	defer cancel()
	png, err := w.o.Grapher.Graph(gctx, g)
	if err != nil {
		return d, &graphError{err}
	}
	d.File, d.Text = png, g.Title
	return d, nil
}

// writeGraph links the metric graph in the draft: an image when the
// bot's public URL is known, else the API path to fetch it from.
func (p *Postmortem) writeGraph(b *strings.Builder) {
	if p.Graph == "" {
		return
	}
	if base := strings.TrimRight(p.PublicURL, "/"); base != "" {
		fmt.Fprintf(b, "**Metric graph** of the alert expressions, from an hour before detection:\n\n![Metric graph of %s](%s%s)\n\n", p.Key, base, p.Graph)
		return
	}
	fmt.Fprintf(b, "**Metric graph** of the alert expressions, from an hour before detection: `GET %s` from incidentbot's API.\n\n", p.Graph)
}
