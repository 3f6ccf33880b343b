package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// The trends page looks back trendDays, in weeks, and is recomputed at
// most every trendTTL, in the background: trends move by the day, and
// reading every incident of a quarter on each view would cost what one
// view should not.
const (
	trendDays  = 90
	trendTTL   = time.Minute
	trendWeeks = 13
)

type trendsData struct {
	From, To time.Time
	Total    int
	Weeks    []weekCount
	MaxWeek  int
	Sevs     []sevTimes
	// Chart geometry, computed here so the template only prints numbers.
	WeekChart barChart
	TimeChart barChart
}

type weekCount struct {
	Start time.Time
	Count int
}

type sevTimes struct {
	Severity     bot.Severity
	Count        int
	Acked        int
	Resolved     int
	MTTA, MTTR   time.Duration
	MTTAs, MTTRs string
}

// barChart is an SVG bar chart laid out in user units.
type barChart struct {
	Width, Height int
	Bars          []bar
	Ticks         []tick
	Title         string
}

type bar struct {
	X, Y, W, H float64
	Label      string
	Value      string
	Class      string
	LabelX     float64
}

type tick struct {
	Y     float64
	Label string
}

// trendCache keeps the last trends. A view of stale trends gets them at
// once and starts one refresh in the background (stale while revalidate).
// New starts the first computation, so that even the first view finds
// them ready, or waits only for what is left of it.
type trendCache struct {
	mu   sync.Mutex
	at   time.Time
	data *trendsData
	// done is closed when the refresh running in the background ends;
	// nil when none runs.
	done chan struct{}
}

func (h *Handler) trends(c *gin.Context) {
	d, err := h.trendData(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "trends", page{Title: "Trends", Nav: "trends", Data: d})
}

func (h *Handler) trendData(c *gin.Context) (*trendsData, error) {
	tc := &h.trendsCache
	now := h.cfg.Now()
	tc.mu.Lock()
	d, at, done := tc.data, tc.at, tc.done
	if d != nil {
		if now.Sub(at) >= trendTTL || now.Before(at) {
			h.refreshLocked()
		}
		tc.mu.Unlock()
		return d, nil
	}
	tc.mu.Unlock()
	// Nothing computed yet: wait for the refresh under way (the one New
	// starts), else compute here.
	if done != nil {
		select {
		case <-done:
		case <-ctx(c).Done():
			return nil, ctx(c).Err()
		}
		tc.mu.Lock()
		d = tc.data
		tc.mu.Unlock()
		if d != nil {
			return d, nil
		}
	}
	d, err := h.computeTrendsNow(ctx(c), now)
	if err != nil {
		return nil, err
	}
	tc.mu.Lock()
	if tc.data == nil || tc.at.Before(now) {
		tc.data, tc.at = d, now
	}
	tc.mu.Unlock()
	return d, nil
}

// refreshLocked starts recomputing the trends in the background unless a
// refresh is under way; the caller holds tc.mu. A failure keeps the old
// trends and is logged (the next view tries again).
func (h *Handler) refreshLocked() {
	tc := &h.trendsCache
	if tc.done != nil {
		return
	}
	done := make(chan struct{})
	tc.done = done
	go func() {
		defer close(done)
		now := h.cfg.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := h.computeTrendsNow(ctx, now)
		tc.mu.Lock()
		defer tc.mu.Unlock()
		tc.done = nil
		if err != nil {
			h.cfg.Log.Warn("web: trends not refreshed", "err", err)
			return
		}
		tc.data, tc.at = d, now
	}()
}

// computeTrendsNow reads the incidents of the window, newest first, and
// computes the trends.
func (h *Handler) computeTrendsNow(ctx context.Context, now time.Time) (*trendsData, error) {
	var incs []*bot.Incident
	from := now.Add(-trendDays * 24 * time.Hour)
	var before int64
	for {
		list, err := h.svc.Incidents(ctx, bot.IncidentFilter{Limit: storePage, Before: before})
		if err != nil {
			return nil, err
		}
		done := len(list) < storePage
		for _, inc := range list {
			before = inc.ID
			// Numbers grow with creation time: an incident created a day
			// before the window ends the walk (a day of slack for alerts
			// whose startsAt is older than their notification).
			if inc.CreatedAt.Before(from.Add(-24 * time.Hour)) {
				done = true
				break
			}
			incs = append(incs, inc)
		}
		if done {
			break
		}
	}
	return computeTrends(incs, from, now, h.cfg.Zone), nil
}

// computeTrends counts incidents detected in [from, now) per week (weeks
// start on Monday in loc) and averages the times to acknowledge and to
// resolve per severity, from bot's metrics.
func computeTrends(incs []*bot.Incident, from, now time.Time, loc *time.Location) *trendsData {
	d := &trendsData{From: from, To: now}
	// The first week is the one holding from, so every bar is a whole week
	// except perhaps the first and the current one.
	l := from.In(loc)
	start := time.Date(l.Year(), l.Month(), l.Day()-(int(l.Weekday())+6)%7, 0, 0, 0, 0, loc)
	for w := start; w.Before(now); w = w.AddDate(0, 0, 7) {
		d.Weeks = append(d.Weeks, weekCount{Start: w})
	}
	sums := map[bot.Severity]*struct{ tta, ttr time.Duration }{}
	for s := bot.SEV1; s <= bot.SEV4; s++ {
		d.Sevs = append(d.Sevs, sevTimes{Severity: s})
		sums[s] = &struct{ tta, ttr time.Duration }{}
	}
	for _, inc := range incs {
		if inc.DetectedAt.Before(from) || !inc.DetectedAt.Before(now) || !inc.Severity.Valid() {
			continue
		}
		d.Total++
		for i := len(d.Weeks) - 1; i >= 0; i-- {
			if !inc.DetectedAt.Before(d.Weeks[i].Start) {
				d.Weeks[i].Count++
				break
			}
		}
		st := &d.Sevs[inc.Severity-1]
		st.Count++
		m := bot.MetricsOf(inc)
		if m.TimeToAcknowledge != nil {
			st.Acked++
			sums[inc.Severity].tta += time.Duration(m.TimeToAcknowledge.Seconds) * time.Second
		}
		if m.TimeToResolve != nil {
			st.Resolved++
			sums[inc.Severity].ttr += time.Duration(m.TimeToResolve.Seconds) * time.Second
		}
	}
	for i := range d.Sevs {
		st := &d.Sevs[i]
		st.MTTAs, st.MTTRs = "—", "—"
		if st.Acked > 0 {
			st.MTTA = sums[st.Severity].tta / time.Duration(st.Acked)
			st.MTTAs = bot.HumanDuration(st.MTTA)
		}
		if st.Resolved > 0 {
			st.MTTR = sums[st.Severity].ttr / time.Duration(st.Resolved)
			st.MTTRs = bot.HumanDuration(st.MTTR)
		}
	}
	for _, w := range d.Weeks {
		d.MaxWeek = max(d.MaxWeek, w.Count)
	}
	d.WeekChart = weekChart(d.Weeks, d.MaxWeek, loc)
	d.TimeChart = timeChart(d.Sevs)
	return d
}

// Chart layout, in SVG user units.
const (
	chartW, chartH   = 720, 240
	padL, padB, padT = 56, 40, 16
)

func weekChart(weeks []weekCount, top int, loc *time.Location) barChart {
	ch := barChart{Width: chartW, Height: chartH, Title: "Incidents detected per week"}
	scale := niceMax(float64(top))
	plotH := float64(chartH - padB - padT)
	slot := float64(chartW-padL-8) / float64(max(len(weeks), 1))
	for i, w := range weeks {
		h := plotH * float64(w.Count) / scale
		x := float64(padL) + float64(i)*slot + slot*0.15
		b := bar{X: x, W: slot * 0.7, Y: float64(chartH-padB) - h, H: h, LabelX: x + slot*0.35,
			Value: fmt.Sprintf("week of %s: %d", w.Start.In(loc).Format("Jan 2"), w.Count), Class: "bar"}
		// Every other week is labelled: thirteen dates do not fit a phone.
		if (len(weeks)-1-i)%2 == 0 {
			b.Label = w.Start.In(loc).Format("Jan 2")
		}
		ch.Bars = append(ch.Bars, b)
	}
	ch.Ticks = ticks(scale, plotH, func(v float64) string { return fmt.Sprint(int(v)) })
	return ch
}

// timeChart draws MTTA and MTTR per severity, in minutes, side by side.
func timeChart(sevs []sevTimes) barChart {
	ch := barChart{Width: chartW, Height: chartH, Title: "Mean time to acknowledge and to resolve, per severity (minutes)"}
	top := 0.0
	for _, s := range sevs {
		top = math.Max(top, math.Max(s.MTTA.Minutes(), s.MTTR.Minutes()))
	}
	scale := niceMax(top)
	plotH := float64(chartH - padB - padT)
	slot := float64(chartW-padL-8) / float64(len(sevs))
	for i, s := range sevs {
		x := float64(padL) + float64(i)*slot
		for j, v := range []struct {
			d     time.Duration
			text  string
			class string
		}{{s.MTTA, "MTTA " + s.MTTAs, "bar tta"}, {s.MTTR, "MTTR " + s.MTTRs, "bar ttr"}} {
			h := plotH * v.d.Minutes() / scale
			bx := x + slot*0.1 + float64(j)*slot*0.4
			b := bar{X: bx, W: slot * 0.38, Y: float64(chartH-padB) - h, H: h, Value: s.Severity.String() + " " + v.text, Class: v.class}
			if j == 0 {
				b.Label, b.LabelX = s.Severity.String(), x+slot*0.5
			}
			ch.Bars = append(ch.Bars, b)
		}
	}
	ch.Ticks = ticks(scale, plotH, func(v float64) string { return fmt.Sprint(int(math.Round(v))) })
	return ch
}

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten, and
// is at least 1 so an empty chart still has an axis.
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func ticks(scale, plotH float64, label func(float64) string) []tick {
	var out []tick
	for i := 0; i <= 4; i++ {
		v := scale * float64(i) / 4
		if i > 0 && i < 4 && scale < 4 && v != math.Trunc(v) {
			continue
		}
		out = append(out, tick{Y: float64(chartH-padB) - plotH*float64(i)/4, Label: label(v)})
	}
	return out
}
