package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
	botslack "github.com/incidentbot/incidentbot/bot/slack"
)

// The API's page size: default and largest.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// maxListBytes caps one answer of the list: a page stops early, with a
// link to the rest, once it holds this much JSON. One incident is always
// listed, however large.
var maxListBytes = 4 << 20

// listedIncident is an incident in the list: its alerts are left out
// unless asked for, so that a page costs the same whatever the rosters.
type listedIncident struct {
	apiIncident
	Alerts []bot.Alert `json:"alerts,omitempty"`
}

// listIncidents answers GET /api/v1/incidents: a JSON array, newest first,
// filtered by ?status=open|resolved and paged by ?limit= and ?before=<id>.
// ?include=alerts adds each incident's alerts. A full page, or one cut
// short at maxListBytes, carries a Link header to the next one.
func (s *Server) listIncidents(c *gin.Context) {
	f, err := incidentFilter(c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	withAlerts := false
	switch inc := c.Query("include"); inc {
	case "":
	case "alerts":
		withAlerts = true
	default:
		s.fail(c, invalid("include %s: want alerts", bot.Quote(inc)))
		return
	}
	ctx := c.Request.Context()
	list, err := s.svc.Incidents(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	chans, err := s.svc.ChatRecords(ctx, botslack.Adapter, incidentIDs(list)...)
	if err != nil {
		s.fail(c, err)
		return
	}
	body := bytes.NewBufferString("[")
	listed, full := 0, len(list) == f.Limit
	for _, inc := range list {
		item := listedIncident{apiIncident: withChannel(inc, chans[inc.ID])}
		if withAlerts {
			// One at a time, so that memory holds one roster beyond the page.
			full, err := s.svc.Incident(ctx, inc.ID)
			if err != nil && !errors.Is(err, bot.ErrNotFound) {
				s.fail(c, err)
				return
			}
			if err == nil {
				item = listedIncident{apiIncident: withChannel(full, chans[inc.ID]), Alerts: full.Alerts}
			}
		}
		v, err := json.Marshal(item)
		if err != nil {
			s.fail(c, err)
			return
		}
		if listed > 0 && body.Len()+len(v) > maxListBytes {
			full = true
			break
		}
		if listed > 0 {
			body.WriteByte(',')
		}
		body.Write(v)
		listed++
	}
	body.WriteByte(']')
	if full && listed > 0 {
		next := url.Values{"limit": {strconv.Itoa(f.Limit)}, "before": {strconv.FormatInt(list[listed-1].ID, 10)}}
		if st := c.Query("status"); st != "" {
			next.Set("status", st)
		}
		if withAlerts {
			next.Set("include", "alerts")
		}
		c.Header("Link", fmt.Sprintf(`<%s/api/v1/incidents?%s>; rel="next"`, strings.TrimRight(s.cfg.PublicURL, "/"), next.Encode()))
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body.Bytes())
}

func incidentFilter(q url.Values) (bot.IncidentFilter, error) {
	f := bot.IncidentFilter{Limit: defaultLimit}
	switch st := q.Get("status"); st {
	case "":
	case "open", "resolved":
		open := st == "open"
		f.Open = &open
	default:
		return f, invalid("status %s: want open or resolved", bot.Quote(st))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return f, invalid("limit %s: want a number from 1 to %d", bot.Quote(v), maxLimit)
		}
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		id, err := parseID(v)
		if err != nil {
			return f, invalid("before %s: want a positive incident number", bot.Quote(v))
		}
		f.Before = id
	}
	return f, nil
}

// parseID reads an incident number: "12", or "INC-12" as people write it.
func parseID(s string) (int64, error) {
	if len(s) > 4 && strings.EqualFold(s[:4], "INC-") {
		s = s[4:]
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 || s[0] == '+' {
		return 0, invalid("id %s: want a positive integer", bot.Quote(s))
	}
	return id, nil
}

// incidentID reads the :id of the path, answering 400 when it is not an
// incident number.
func (s *Server) incidentID(c *gin.Context) (int64, bool) {
	id, err := parseID(c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return 0, false
	}
	return id, true
}

func (s *Server) getIncident(c *gin.Context) {
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	inc, err := s.svc.Incident(ctx, id)
	if err != nil {
		s.fail(c, notFound(err, id))
		return
	}
	rec, err := s.svc.ChatRecord(ctx, id, botslack.Adapter)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, withChannel(inc, rec))
}

func (s *Server) getTimeline(c *gin.Context) {
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	entries, err := s.svc.Timeline(c.Request.Context(), id)
	if err != nil {
		s.fail(c, notFound(err, id))
		return
	}
	if entries == nil {
		entries = []bot.TimelineEntry{}
	}
	c.JSON(http.StatusOK, entries)
}

// getPostmortem answers the draft as Markdown, or as JSON with ?format=json.
func (s *Server) getPostmortem(c *gin.Context) {
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	format := c.DefaultQuery("format", "markdown")
	if format != "markdown" && format != "json" {
		s.fail(c, invalid("format %s: want markdown or json", bot.Quote(format)))
		return
	}
	pm, err := s.svc.Postmortem(c.Request.Context(), id, s.cfg.Zone)
	if err != nil {
		s.fail(c, notFound(err, id))
		return
	}
	if s.cfg.PublicURL != "" {
		pm.URL = strings.TrimRight(s.cfg.PublicURL, "/") + "/incidents/" + strconv.FormatInt(id, 10)
	}
	if format == "json" {
		c.JSON(http.StatusOK, pm)
		return
	}
	c.Data(http.StatusOK, "text/markdown; charset=utf-8", []byte(pm.Markdown()))
}

// notFound words a missing incident with its number; other errors pass.
func notFound(err error, id int64) error {
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("%w: incident %d does not exist", bot.ErrNotFound, id)
	}
	return err
}

// incidentIDs lists the incidents' IDs.
func incidentIDs(list []*bot.Incident) []int64 {
	out := make([]int64, len(list))
	for i, inc := range list {
		out[i] = inc.ID
	}
	return out
}
