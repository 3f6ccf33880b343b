package webhooks

import (
	"context"
	"errors"
	"net/http"
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
