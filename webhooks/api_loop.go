package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// graphBudget bounds drawing a graph on request: the queries themselves
// time out sooner, this is the backstop.
const graphBudget = 30 * time.Second

// getGraph answers GET /api/v1/incidents/{id}/graph.png: the incident's
// alert expressions over its window, drawn now. 404 when the incident
// does not exist or its alerts carry no expression; 502 when Prometheus
// failed, with what failed.
func (s *Server) getGraph(c *gin.Context) {
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), graphBudget)
	defer cancel()
	if _, err := s.svc.Incident(ctx, id); err != nil {
		s.fail(c, notFound(err, id))
		return
	}
	png, err := s.svc.GraphPNG(ctx, id)
	switch {
	case err == nil:
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, "image/png", png)
	case errors.Is(err, bot.ErrNotFound), errors.Is(err, bot.ErrUnavailable):
		s.fail(c, err)
	default:
		s.logger(ctx).Warn("graph failed", "incident", id, "err", err)
		abort(c, http.StatusBadGateway, "could not draw the graph: "+err.Error())
	}
}

// getProfiles answers GET /api/v1/incidents/{id}/profiles: the heap
// profiles captured for the incident (each with a download link) and what
// grew between them.
func (s *Server) getProfiles(c *gin.Context) {
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	caps, diffs, err := s.svc.Profiles(c.Request.Context(), id)
	if err != nil {
		s.fail(c, notFound(err, id))
		return
	}
	type capture struct {
		bot.ProfileCapture
		Download string `json:"download,omitempty"`
	}
	out := struct {
		Captures []capture         `json:"captures"`
		Diffs    []bot.ProfileDiff `json:"diffs"`
	}{Captures: []capture{}, Diffs: diffs}
	if out.Diffs == nil {
		out.Diffs = []bot.ProfileDiff{}
	}
	for _, p := range caps {
		cp := capture{ProfileCapture: p}
		if p.File != "" {
			cp.Download = fmt.Sprintf("%s/api/v1/incidents/%d/profiles/%d", strings.TrimRight(s.cfg.PublicURL, "/"), id, p.N)
		}
		cp.File = "" // the store's own name is nobody's business
		out.Captures = append(out.Captures, cp)
	}
	c.JSON(http.StatusOK, out)
}

// getProfile answers GET /api/v1/incidents/{id}/profiles/{n}: the stored
// profile, for `go tool pprof -base`.
func (s *Server) getProfile(c *gin.Context) {
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 {
		s.fail(c, invalid("profile %q: want its number, 1, 2...", c.Param("n")))
		return
	}
	data, err := s.svc.ProfileData(c.Request.Context(), id, n)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="inc-%d-heap-%d.pb.gz"`, id, n))
	c.Data(http.StatusOK, "application/octet-stream", data)
}
