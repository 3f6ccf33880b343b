package webhooks

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
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

// errBusy reports that the bytes of bodies being read at once are at their
// cap: the sender should try again shortly (a 503, which Alertmanager
// retries).
var errBusy = errors.New("too many large bodies at once")

// freeBody is how much of a body is read without charging the budget:
// ordinary notifications never wait for the large ones.
const freeBody = 64 << 10

// bodyBudget caps the bytes held by the bodies being read and handled at once.
// A nil budget caps nothing.
type bodyBudget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes, or reports that they would pass the cap.
func (b *bodyBudget) take(n int64) bool {
	if b == nil {
		return true
	}
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

// give returns n bytes reserved by take.
func (b *bodyBudget) give(n int64) {
	if b != nil && n > 0 {
		b.used.Add(-n)
	}
}

// readBody reads the whole body, up to limit bytes. It refuses early when
// Content-Length already says too much, but never trusts it to size the
// buffer: memory grows with the bytes that actually arrive (a sender that
// announces 32 MiB and sends one byte costs a few KiB). Past freeBody each
// growth of the buffer is charged to b, and errBusy comes back when b has
// no room; the caller gives back held once done with the body.
func readBody(r *http.Request, limit int64, b *bodyBudget) (body []byte, held int64, err error) {
	if r.ContentLength > limit {
		return nil, 0, errTooLarge
	}
	buf := make([]byte, 0, 4<<10)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, held, errTooLarge
			}
			size := min(int64(2*cap(buf)), limit+1)
			if size > freeBody {
				if !b.take(size - held) {
					return nil, held, errBusy
				}
				held = size
			}
			buf = append(make([]byte, 0, size), buf...)
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, held, errTooLarge
		}
		if err == io.EOF {
			return buf, held, nil
		}
		if err != nil {
			return nil, held, fmt.Errorf("body: %w", err)
		}
	}
}

// bodyError answers a failed readBody: 413 over the limit, 503 with
// Retry-After when too many large bodies arrive at once, 400 otherwise.
func bodyError(c *gin.Context, err error, limit int64) {
	if errors.Is(err, errTooLarge) {
		abort(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", limit))
		return
	}
	if errors.Is(err, errBusy) {
		c.Header("Retry-After", "5")
		abort(c, http.StatusServiceUnavailable, "busy reading other large bodies; try again")
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
		return fmt.Errorf("header Content-Type %s: want application/json", bot.Quote(ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("header Content-Type charset %s: want utf-8", bot.Quote(cs))
	}
	return nil
}
