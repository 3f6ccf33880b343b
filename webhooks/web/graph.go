package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// graphBudget bounds drawing a graph for the page's <img>; the page itself
// never waits for Prometheus, the browser fetches the image on its own.
const graphBudget = 30 * time.Second

// graph answers /incidents/{id}/graph.png, the same picture as the API's,
// for a browser signed in with a session (an <img> cannot send a bearer
// token). A failure is a short text answer: the page shows the image's
// alternative text instead.
func (h *Handler) graph(c *gin.Context) {
	id, err := incidentID(c)
	if err != nil {
		c.String(http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(ctx(c), graphBudget)
	defer cancel()
	png, err := h.svc.GraphPNG(ctx, id)
	switch {
	case err == nil:
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, "image/png", png)
	case errors.Is(err, bot.ErrNotFound) || errors.Is(err, bot.ErrUnavailable):
		c.String(h.cfg.StatusOf(err), "no graph: %s", err.Error())
	default:
		h.cfg.Log.WarnContext(ctx, "web: graph failed", "incident", id, "err", err)
		c.String(http.StatusBadGateway, "could not draw the graph: %s", err.Error())
	}
}
