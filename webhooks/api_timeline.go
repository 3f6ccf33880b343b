package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

// entryPatch is the body of PATCH /api/v1/incidents/{id}/timeline/{entry}:
// the fields to correct, each optional.
type entryPatch struct {
	At     *string `json:"at"`
	Text   *string `json:"text"`
	Struck *bool   `json:"struck"`
}

// patchEntry corrects a timeline entry for the API token: a new time (RFC
// 3339), new text, struck or not. The earlier version is kept in the
// entry's history, with "api" as who replaced it. It answers the
// corrected entry. Without an API token configured, writes are refused:
// anyone who can reach the port could rewrite the record.
func (s *Server) patchEntry(c *gin.Context) {
	if s.cfg.APIToken == "" {
		abort(c, http.StatusForbidden, "correcting the timeline through the API needs INCIDENTBOT_API_TOKEN to be set")
		return
	}
	id, ok := s.incidentID(c)
	if !ok {
		return
	}
	entryID, err := strconv.ParseUint(c.Param("entry"), 10, 64)
	if err != nil || entryID == 0 {
		s.fail(c, invalid("entry %q: want a positive entry number", c.Param("entry")))
		return
	}
	if err := jsonContentType(c.Request); err != nil {
		abort(c, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	body, _, err := readBody(c.Request, maxSmallBody, nil)
	if err != nil {
		bodyError(c, err, maxSmallBody)
		return
	}
	var p entryPatch
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		s.fail(c, invalid("body: want a JSON object with at, text or struck: %s", jsonProblem(err)))
		return
	}
	if dec.More() {
		s.fail(c, invalid("body: want one JSON object"))
		return
	}
	corr := bot.Correction{Text: p.Text, Struck: p.Struck, By: bot.ActorAPI}
	if p.At != nil {
		at, err := time.Parse(time.RFC3339, *p.At)
		if err != nil {
			s.fail(c, invalid("at %q: want RFC 3339, like 2024-06-20T14:05:00Z", *p.At))
			return
		}
		corr.At = &at
	}
	e, err := s.svc.Correct(c.Request.Context(), id, entryID, corr)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

// jsonProblem words a decoding error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s has the wrong type", te.Field)
	}
	return err.Error() // unknown fields: json names the field
}
