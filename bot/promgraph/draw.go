package promgraph

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/incidentbot/incidentbot/bot"
)

// The picture: wide enough for a few hundred points, panels tall enough
// to read, fonts large enough to read in Slack's preview (which shows the
// image at about half size).
const (
	widthPx       = 1200
	panelHeightPx = 420
	dpi           = 96
)

// palette colours the series apart from the marks (red, orange, dark
// blue and green).
var palette = []color.RGBA{
	{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}, {R: 0x81, G: 0x72, B: 0xb2, A: 0xff}, {R: 0x3d, G: 0xa5, B: 0xc4, A: 0xff},
	{R: 0x93, G: 0x78, B: 0x60, A: 0xff}, {R: 0xda, G: 0x8b, B: 0xc3, A: 0xff}, {R: 0x70, G: 0x70, B: 0x70, A: 0xff},
	{R: 0xb8, G: 0xa4, B: 0x3c, A: 0xff}, {R: 0x55, G: 0xa8, B: 0x68, A: 0xff},
}

var (
	markAlert    = color.RGBA{R: 0xd0, G: 0x21, B: 0x2b, A: 0xff}
	markKeyTimes = map[string]color.RGBA{
		"acknowledged": {R: 0xe0, G: 0x8a, B: 0x00, A: 0xff},
		"mitigated":    {R: 0x1b, G: 0x2a, B: 0x6b, A: 0xff},
		"resolved":     {R: 0x1a, G: 0x8a, B: 0x3a, A: 0xff},
	}
)

// draw writes the panels, one per expression stacked vertically, as PNG.
func render(w io.Writer, g bot.Graph, panels []panel, step time.Duration) error {
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	img := vgimg.NewWith(vgimg.UseWH(px(widthPx), px(panelHeightPx*len(panels))), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	rows := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		pl, err := plotOf(g, p, step, i == 0)
		if err != nil {
			return err
		}
		rows[i] = []*plot.Plot{pl}
	}
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: px(8), PadBottom: px(8), PadLeft: px(8), PadRight: px(24), PadY: px(16)}
	for i, cs := range plot.Align(rows, tiles, dc) {
		rows[i][0].Draw(cs[0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

func plotOf(g bot.Graph, p panel, step time.Duration, first bool) (*plot.Plot, error) {
	pl := plot.New()
	title := clipText(p.expr, 110)
	if first {
		title = clipText(g.Title, 80) + "\n" + title
	}
	if p.hidden > 0 {
		title += fmt.Sprintf("  (top %d series; %d more not drawn)", len(p.series), p.hidden)
	}
	pl.Title.Text = title
	pl.Title.TextStyle.Font.Size = vg.Points(16)
	pl.X.Label.Text = "UTC (step " + step.String() + ")"
	pl.Y.Label.Text = p.unit.axis
	for _, a := range []*plot.Axis{&pl.X, &pl.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(14)
		a.Tick.Label.Font.Size = vg.Points(14)
	}
	pl.X.Min, pl.X.Max = float64(g.Start.Unix()), float64(g.End.Unix())
	pl.X.Tick.Marker = timeTicks{}
	pl.Y.Tick.Marker = p.unit
	pl.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range p.series {
		xys := make(plotter.XYs, len(s.ts))
		for j := range s.ts {
			xys[j].X, xys[j].Y = s.ts[j], s.vs[j]
			lo, hi = math.Min(lo, s.vs[j]), math.Max(hi, s.vs[j])
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("drawing %s: %w", s.label, err)
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(2)
		pl.Add(line)
		pl.Legend.Add(s.label, line)
		if len(xys) < 3 { // too few points for a line to show
			dots, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			dots.Color, dots.Radius, dots.Shape = line.Color, vg.Points(3), draw.CircleGlyph{}
			pl.Add(dots)
		}
	}
	if lo == hi { // a flat line: centre it
		d := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	pad := (hi - lo) * 0.08
	pl.Y.Min, pl.Y.Max = math.Min(0, lo)-pad*boolf(lo < 0), hi+pad*2
	if lo > 0 && lo > (hi-lo)*3 { // a level far from zero: zoom in on it
		pl.Y.Min = lo - pad
	}
	pl.Legend.Top, pl.Legend.Left = true, true
	pl.Legend.TextStyle.Font.Size = vg.Points(13)
	pl.Legend.Padding = vg.Points(2)
	for _, m := range g.Marks {
		if err := mark(pl, m, g); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// mark draws a moment as a vertical line labelled at the top: alerts
// firing in red, dashed; the incident's key times in their colours.
func mark(pl *plot.Plot, m bot.GraphMark, g bot.Graph) error {
	x := float64(m.At.Unix())
	if m.At.Before(g.Start) || m.At.After(g.End) {
		return nil
	}
	line, err := plotter.NewLine(plotter.XYs{{X: x, Y: pl.Y.Min}, {X: x, Y: pl.Y.Max}})
	if err != nil {
		return err
	}
	c, ok := markKeyTimes[m.Label]
	if m.Alert || !ok {
		c = markAlert
		line.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	}
	line.Color, line.Width = c, vg.Points(1.5)
	labels, err := plotter.NewLabels(plotter.XYLabels{
		XYs:    []plotter.XY{{X: x, Y: pl.Y.Max}},
		Labels: []string{" " + clipText(m.Label, 40) + " " + m.At.UTC().Format("15:04")},
	})
	if err != nil {
		return err
	}
	labels.TextStyle[0].Font.Size = vg.Points(11)
	labels.TextStyle[0].Color = c
	labels.TextStyle[0].YAlign = draw.YTop
	pl.Add(line, labels)
	return nil
}

// timeTicks puts ticks on round clock times (every 5m, 15m, 1h...), about
// at most ten of them, labelled HH:MM, with the date once the window spans days.
type timeTicks struct{}

var tickSteps = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * float64(time.Second))
	every := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 10 {
			every = s
			break
		}
	}
	format := "15:04"
	switch {
	case every < time.Minute:
		format = "15:04:05"
	case span > 24*time.Hour:
		format = "Jan 2 15:04"
	}
	sec := every.Seconds()
	var out []plot.Tick
	for t := math.Ceil(lo/sec) * sec; t <= hi && len(out) < 40; t += sec {
		out = append(out, plot.Tick{Value: t, Label: time.Unix(int64(t), 0).UTC().Format(format)})
	}
	return out
}

// unit is how an expression's values read: bytes (binary prefixes),
// seconds (ms, s, min, h) or plain numbers (SI prefixes), per second for
// rates. It labels the Y axis and its ticks.
type unit struct {
	kind string // "bytes", "seconds" or ""
	axis string
	rate bool
}

// unitOf guesses the unit from the metric names in the expression, as
// Prometheus's naming conventions say (_bytes, _seconds), and whether
// rate(), irate() or deriv() makes it per second.
func unitOf(expr string) unit {
	e := strings.ToLower(expr)
	u := unit{rate: strings.Contains(e, "rate(") || strings.Contains(e, "deriv(")}
	switch {
	case strings.Contains(e, "_bytes"):
		u.kind, u.axis = "bytes", "bytes"
	case strings.Contains(e, "_seconds") && !strings.Contains(e, "_seconds_count"):
		u.kind, u.axis = "seconds", "seconds"
	default:
		u.axis = "value"
	}
	if u.rate {
		u.axis += " per second"
	}
	return u
}

// Ticks puts about five round ticks (1, 2, 2.5 or 5 times a power of
// ten) on the values in the unit's own scale, so that bytes tick at
// 100 MiB and not at 1e8, labelled with as few decimals as they need.
func (u unit) Ticks(lo, hi float64) []plot.Tick {
	scale, suffix := u.scale(math.Max(math.Abs(lo), math.Abs(hi)))
	a, b := lo/scale, hi/scale
	if !(b > a) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(a, 'g', 4, 64) + suffix}}
	}
	raw := (b - a) / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if step/math.Pow(10, math.Floor(math.Log10(step))) == 2.5 {
		decimals++
	}
	var out []plot.Tick
	for v := math.Ceil(a/step) * step; v <= b+step*1e-9 && len(out) < 20; v += step {
		label := strconv.FormatFloat(v, 'f', decimals, 64) + suffix
		if u.rate {
			label += "/s"
		}
		out = append(out, plot.Tick{Value: v * scale, Label: label})
		if mid := v + step/2; mid < b {
			out = append(out, plot.Tick{Value: mid * scale}) // a minor tick
		}
	}
	return out
}

func (u unit) scale(v float64) (float64, string) {
	switch u.kind {
	case "bytes":
		names := []string{" B", " KiB", " MiB", " GiB", " TiB", " PiB"}
		i, s := 0, 1.0
		for i < len(names)-1 && v >= s*1024 {
			i, s = i+1, s*1024
		}
		return s, names[i]
	case "seconds":
		switch {
		case v >= 2*3600:
			return 3600, " h"
		case v >= 2*60:
			return 60, " min"
		case v >= 1 || v == 0:
			return 1, " s"
		}
		return 1e-3, " ms"
	}
	for _, p := range []struct {
		s    float64
		name string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= p.s {
			return p.s, p.name
		}
	}
	return 1, ""
}
