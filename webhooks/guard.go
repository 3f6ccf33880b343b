package webhooks

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// requireToken checks the bearer token (and, when basic is true, basic
// auth with the token as password) when token is set. The comparison takes
// the same time whatever the guess; the answer never repeats what was sent.
func (s *Server) requireToken(token string, basic bool) gin.HandlerFunc {
	if token == "" {
		return func(c *gin.Context) { c.Next() }
	}
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		given, ok := credential(c.Request, basic)
		got := sha256.Sum256([]byte(given))
		if ok && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			c.Next()
			return
		}
		c.Header("WWW-Authenticate", `Bearer realm="incidentbot"`)
		if basic {
			c.Writer.Header().Add("WWW-Authenticate", `Basic realm="incidentbot"`)
		}
		msg := "authorization required: send Authorization: Bearer <token>"
		if ok {
			msg = "authorization failed: the token is wrong"
		}
		s.logger(c.Request.Context()).Warn("unauthorized request", "path", c.Request.URL.Path, "credential_sent", ok)
		abort(c, http.StatusUnauthorized, msg)
	}
}

// credential extracts the token a request carries: a bearer token, or the
// password of basic auth when basic is allowed.
func credential(r *http.Request, basic bool) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "Bearer") {
		rest = strings.TrimSpace(rest)
		return rest, rest != ""
	}
	if basic {
		if _, pass, ok := r.BasicAuth(); ok {
			return pass, true
		}
	}
	return "", false
}

// errTooLarge reports a body over its limit.
var errTooLarge = errors.New("body too large")

// readBody reads the whole body, up to limit bytes. It refuses early when
// Content-Length already says too much, and never holds more than limit+1
// bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	var b bytes.Buffer
	if r.ContentLength > 0 {
		// Room for the body and the read that sees EOF, so the buffer
		// never doubles.
		b.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	n, err := b.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if n > limit {
		return nil, errTooLarge
	}
	return b.Bytes(), nil
}

// bodyError answers a failed readBody: 413 over the limit, 400 otherwise.
func bodyError(c *gin.Context, err error, limit int64) {
	if errors.Is(err, errTooLarge) {
		abort(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", limit))
		return
	}
	abort(c, http.StatusBadRequest, "body could not be read")
}

// smallBody refuses API requests whose body is over 1 MiB. No API route
// reads a body; this only keeps a client from streaming one at us.
func (s *Server) smallBody(c *gin.Context) {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	n, err := io.Copy(io.Discard, io.LimitReader(c.Request.Body, maxSmallBody+1))
	if err == nil && n > maxSmallBody {
		err = errTooLarge
	}
	if c.Request.ContentLength > maxSmallBody {
		err = errTooLarge
	}
	if err != nil {
		bodyError(c, err, maxSmallBody)
		return
	}
	c.Next()
}

// jsonContentType checks for application/json, with an optional UTF-8
// charset; the problem is returned for a 415.
func jsonContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return errors.New("header Content-Type is missing: want application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("header Content-Type %q: want application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("header Content-Type charset %q: want utf-8", cs)
	}
	return nil
}
