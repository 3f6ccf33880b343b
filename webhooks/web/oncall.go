package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// calendarDays is how far ahead the on-call page shows shifts.
const calendarDays = 14

type oncallData struct {
	Teams []teamView
	people
}

type teamView struct {
	Name      string
	Schedules []bot.ScheduleNow
	// Names are the schedules, the calendar's columns.
	Names     []string
	Days      []dayRow
	Overrides []bot.Shift
	// Feed is the iCalendar feed's link; "" when there is none.
	Feed string
}

type dayRow struct {
	Day   time.Time
	Today bool
	Cells [][]cell
}

// cell is one person's part of a day in one schedule.
type cell struct {
	User     string
	From, To string // "" when the shift covers the day's edge
	Override bool
}

func (h *Handler) oncall(c *gin.Context) {
	d, err := h.oncallData(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "oncall", page{Title: "On call", Nav: "oncall", Data: d})
}

func (h *Handler) oncallData(c *gin.Context) (*oncallData, error) {
	now := h.cfg.Now()
	teams, err := h.svc.WhoIsOnCall(ctx(c), "")
	if err != nil {
		return nil, err
	}
	l := now.In(h.cfg.Zone)
	first := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, h.cfg.Zone)
	end := first.AddDate(0, 0, calendarDays)
	d := &oncallData{}
	var ids []string
	for _, t := range teams {
		shifts, err := h.svc.TeamShifts(ctx(c), t.Team, first, end)
		if err != nil {
			return nil, err
		}
		tv := teamView{Name: t.Team, Schedules: t.Schedules}
		if h.cfg.FeedToken != nil {
			tv.Feed = "/api/v1/oncall/" + url.PathEscape(t.Team) + ".ics"
			if tok := h.cfg.FeedToken(t.Team); tok != "" {
				tv.Feed += "?token=" + tok
			}
		}
		for _, s := range t.Schedules {
			tv.Names = append(tv.Names, s.Name)
			for _, sh := range shifts[s.Name] {
				if sh.Override && sh.End.After(now) {
					tv.Overrides = append(tv.Overrides, sh)
				}
			}
		}
		tv.Days = h.calendar(first, tv.Names, shifts, now)
		d.Teams = append(d.Teams, tv)
		for _, s := range t.Schedules {
			ids = append(ids, s.OnCall, s.Next)
		}
		for _, list := range shifts {
			for _, sh := range list {
				ids = append(ids, sh.User, sh.OverrideBy)
			}
		}
	}
	d.people = people(h.names(c, ids))
	return d, nil
}

// calendar lays shifts out by day (in the view's zone) and schedule. A
// hand-off inside a day shows its time on both sides.
func (h *Handler) calendar(first time.Time, names []string, shifts map[string][]bot.Shift, now time.Time) []dayRow {
	var rows []dayRow
	for i := range calendarDays {
		day, next := first.AddDate(0, 0, i), first.AddDate(0, 0, i+1)
		row := dayRow{Day: day, Today: !now.Before(day) && now.Before(next)}
		for _, name := range names {
			var cells []cell
			for _, s := range shifts[name] {
				if !s.Start.Before(next) || !s.End.After(day) {
					continue
				}
				c := cell{User: s.User, Override: s.Override}
				if s.Start.After(day) {
					c.From = s.Start.In(h.cfg.Zone).Format("15:04")
				}
				if s.End.Before(next) {
					c.To = s.End.In(h.cfg.Zone).Format("15:04")
				}
				cells = append(cells, c)
			}
			row.Cells = append(row.Cells, cells)
		}
		rows = append(rows, row)
	}
	return rows
}
