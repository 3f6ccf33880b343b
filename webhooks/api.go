package webhooks

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// The API's page size: default and largest.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// listIncidents answers GET /api/v1/incidents: a JSON array, newest first,
// filtered by ?status=open|resolved and paged by ?limit= and ?before=<id>.
// A full page carries a Link header to the next one.
func (s *Server) listIncidents(c *gin.Context) {
	f, err := incidentFilter(c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	list, err := s.svc.Incidents(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []*bot.Incident{}
	}
	if len(list) == f.Limit {
		next := url.Values{"limit": {strconv.Itoa(f.Limit)}, "before": {strconv.FormatInt(list[len(list)-1].ID, 10)}}
		if st := c.Query("status"); st != "" {
			next.Set("status", st)
		}
		c.Header("Link", fmt.Sprintf(`<%s/api/v1/incidents?%s>; rel="next"`, strings.TrimRight(s.cfg.PublicURL, "/"), next.Encode()))
	}
	c.JSON(http.StatusOK, list)
}

func incidentFilter(q url.Values) (bot.IncidentFilter, error) {
	f := bot.IncidentFilter{Limit: defaultLimit}
	switch st := q.Get("status"); st {
	case "":
	case "open", "resolved":
		open := st == "open"
		f.Open = &open
	default:
		return f, invalid("status %q: want open or resolved", st)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return f, invalid("limit %q: want a number from 1 to %d", v, maxLimit)
		}
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		id, err := parseID(v)
		if err != nil {
			return f, invalid("before %q: want a positive incident number", v)
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
		return 0, invalid("id %q: want a positive integer", s)
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
	inc, err := s.svc.Incident(c.Request.Context(), id)
	if err != nil {
		s.fail(c, notFound(err, id))
		return
	}
	c.JSON(http.StatusOK, inc)
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
		s.fail(c, invalid("format %q: want markdown or json", format))
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
