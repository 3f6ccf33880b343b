package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// errorBody is every error answer: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// statusOf maps an error from bot (or from the request's context) to an
// HTTP status. It is the only place where domain errors become status
// codes; Slack replies are worded from its answer too.
//
// The store's failures wrap bot.ErrUnavailable and become 503, which
// Alertmanager and Slack retry; so do timeouts and cancellations.
func statusOf(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, bot.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	case errors.Is(err, bot.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, bot.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, bot.ErrConflict):
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// abort answers {"error": msg} with status and stops the handler chain.
func abort(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, errorBody{Error: msg})
}

// fail answers err with the status statusOf gives it. Client errors carry
// bot's message, which names the field; server errors are logged in full
// and answered with a generic message, since their text may hold paths
// and other internals.
func (s *Server) fail(c *gin.Context, err error) {
	status := statusOf(err)
	switch {
	case status == http.StatusServiceUnavailable:
		s.logger(c.Request.Context()).Error("request failed, caller may retry", "err", err)
		abort(c, status, "temporarily unavailable: could not read or store the request; try again")
	case status >= 500:
		s.logger(c.Request.Context()).Error("request failed", "err", err)
		abort(c, status, "internal error")
	default:
		abort(c, status, clipMessage(err.Error()))
	}
}

// maxMessage caps a client error's message. Each value it quotes is
// clipped already (bot.Quote); this is the net for any that is not.
const maxMessage = 1024

// clipMessage cuts msg to maxMessage bytes at a character boundary.
func clipMessage(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + fmt.Sprintf("… (%d bytes)", len(msg))
}

// userMessage is bot's message without its kind prefix ("invalid: "), which
// is written for people already.
func userMessage(err error) string {
	msg := err.Error()
	for _, kind := range []error{bot.ErrInvalid, bot.ErrConflict, bot.ErrNotFound} {
		msg = strings.TrimPrefix(msg, kind.Error()+": ")
	}
	return msg
}
