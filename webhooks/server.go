package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/webhooks/web"
)

// DefaultMaxWebhookBody is the default limit of an Alertmanager webhook body.
// A storm group without max_alerts is about 600 bytes an alert, and a 413 is
// final for Alertmanager, so the limit is generous.
const DefaultMaxWebhookBody int64 = 32 << 20

// maxSmallBody limits Slack and API request bodies.
const maxSmallBody int64 = 1 << 20

// Config is what the server needs from main. Service is required; every
// other field has a usable zero value.
type Config struct {
	// Service receives everything that passes validation.
	Service *bot.Service
	// WebhookToken, when set, is required on /webhooks/* as a bearer token
	// or as the password of basic auth.
	WebhookToken string
	// APIToken, when set, is required on /api/* as a bearer token.
	APIToken string
	// SigningSecret verifies Slack's requests; without it /slack/* answer 503.
	SigningSecret string
	// MaxWebhookBody limits an Alertmanager body; 0 means DefaultMaxWebhookBody.
	MaxWebhookBody int64
	// MaxWebhookBytes caps the bytes of Alertmanager bodies read and held
	// at once, beyond the first 64 KiB of each: past it a webhook is
	// answered 503 with Retry-After, and Alertmanager sends it again. 0
	// means 2 x MaxWebhookBody; it is never below MaxWebhookBody.
	MaxWebhookBytes int64
	// IngestTimeout bounds how long a notification may wait for the store
	// before it is answered 503, so that the answer reaches Alertmanager
	// before Alertmanager (or the server's write timeout) gives up; 0 means
	// 25 s.
	IngestTimeout time.Duration
	// Ready reports whether the service can take work (the store is open);
	// nil means always ready.
	Ready func() error
	// Metrics, when not nil, is served at /metrics.
	Metrics http.Handler
	// Runbooks lists runbooks for `/incident runbook`; nil means none.
	Runbooks bot.Runbooks
	// Views opens Slack modals (the correction of a timeline entry); nil
	// means Slack is off and the entry menus answer that they cannot.
	Views ViewOpener
	// Access says who may change incidents; its zero value lets anyone.
	Access Access
	// Members reads channel membership for Access; nil with Slack off.
	Members Members
	// HeadlineChannel is the channel of every incident's headline, whose
	// buttons may act on any incident.
	HeadlineChannel string
	// HTTPClient posts replies to Slack's response_url; nil means a client
	// with a 5 s timeout.
	HTTPClient *http.Client
	// Log receives one line per request, tagged with its request ID; nil
	// discards.
	Log *slog.Logger
	// Now is the clock for Slack signatures; nil means time.Now.
	Now func() time.Time
	// PublicURL is the base of links in replies (the API's postmortem, the
	// full timeline); empty leaves the links out.
	PublicURL string
	// Zone is the time zone of postmortem drafts; nil means UTC.
	Zone *time.Location
	// OnWebhook, when set, is called once for every request to
	// /webhooks/alertmanager once it is answered, with the HTTP status and,
	// for a 200, what the notification did (zero otherwise), for metrics:
	// a 4xx is lost for good, since Alertmanager retries only 5xx. It runs
	// on the request's goroutine and must be quick.
	OnWebhook func(status int, res bot.IngestResult)
	// AuthProxyHeader names the header an auth proxy sets with the user's
	// name; the web view trusts it. Empty means no proxy.
	AuthProxyHeader string
}

// Server is the HTTP handler of every inbound route. It is safe for
// concurrent use. Close stops its background reply workers.
type Server struct {
	cfg     Config
	svc     *bot.Service
	log     *slog.Logger
	engine  *gin.Engine
	replies *responder
	bg      *background // slow commands (slack_loop.go)
	// bodies is the budget of Alertmanager body bytes held at once.
	bodies *bodyBudget
	// ingest is svc.Ingest; benchmarks replace it to measure decoding alone.
	ingest func(context.Context, *bot.Notification) (bot.IngestResult, error)
}

// New builds the server and its routes. It panics when cfg.Service is nil,
// which is a wiring mistake.
func New(cfg Config) *Server {
	if cfg.Service == nil {
		panic("webhooks: Config.Service is nil")
	}
	if cfg.MaxWebhookBody <= 0 {
		cfg.MaxWebhookBody = DefaultMaxWebhookBody
	}
	if cfg.MaxWebhookBytes < cfg.MaxWebhookBody {
		cfg.MaxWebhookBytes = 2 * cfg.MaxWebhookBody
	}
	if cfg.IngestTimeout <= 0 {
		cfg.IngestTimeout = 25 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Log, bodies: &bodyBudget{max: cfg.MaxWebhookBytes}}
	s.ingest = s.svc.Ingest
	s.replies = newResponder(cfg.HTTPClient, cfg.Log)
	s.bg = newBackground()
	s.engine = s.routes()
	return s
}

// ServeHTTP serves every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Close stops the workers that post replies to Slack, after they have sent
// what is queued, and the slow commands still running (cancelled after 5 s:
// slack_loop.go). Call it after the HTTP server and Socket Mode have stopped.
func (s *Server) Close() { s.Shutdown(context.Background()) }

// Shutdown is Close within ctx's deadline: replies to Slack not sent by
// then are dropped rather than holding the process.
func (s *Server) Shutdown(ctx context.Context) {
	s.bg.wait()
	s.replies.close(ctx)
}

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	_ = e.SetTrustedProxies(nil) // client IPs only ever go to the log
	e.Use(s.requestLog, s.recoverPanic)
	e.NoRoute(func(c *gin.Context) {
		abort(c, http.StatusNotFound, "no route for "+c.Request.Method+" "+c.Request.URL.Path)
	})
	e.NoMethod(func(c *gin.Context) {
		abort(c, http.StatusMethodNotAllowed, "method "+c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	if s.cfg.Metrics != nil {
		e.GET("/metrics", gin.WrapH(s.cfg.Metrics))
	}

	e.POST("/webhooks/alertmanager", s.observeWebhook, s.requireToken(s.cfg.WebhookToken, true), s.alertmanager)

	api := e.Group("/api/v1", s.requireToken(s.cfg.APIToken, false), s.smallBody)
	api.GET("/incidents", s.listIncidents)
	api.GET("/incidents/:id", s.getIncident)
	api.GET("/incidents/:id/timeline", s.getTimeline)
	api.GET("/incidents/:id/postmortem", s.getPostmortem)
	api.GET("/incidents/:id/pages", s.getPages) // on-call: oncall.go
	api.GET("/oncall", s.getOnCall)
	e.GET("/api/v1/oncall/:feed", s.smallBody, s.getCalendar) // its own auth: feed tokens
	e.GET("/page/ack/:token", s.ackLinkView)
	e.POST("/page/ack/:token", s.smallBody, s.ackLinkPost)
	api.GET("/incidents/:id/graph.png", s.getGraph) // api_loop.go
	api.GET("/incidents/:id/profiles", s.getProfiles)
	api.GET("/incidents/:id/profiles/:n", s.getProfile)
	// The one API write reads its body, which the group's smallBody drains.
	e.PATCH("/api/v1/incidents/:id/timeline/:entry", s.requireToken(s.cfg.APIToken, false), s.patchEntry)

	sl := e.Group("/slack", s.verifySlack)
	sl.POST("/commands", s.slackCommand)
	sl.POST("/interactions", s.slackInteraction)
	sl.POST("/events", s.slackEvent)

	web.New(web.Config{Service: s.svc, APIToken: s.cfg.APIToken, ProxyHeader: s.cfg.AuthProxyHeader,
		PublicURL: s.cfg.PublicURL, Zone: s.cfg.Zone, Runbooks: s.cfg.Runbooks,
		StatusOf: statusOf, Log: s.log, Now: s.cfg.Now, FeedToken: s.feedToken}).Mount(e)
	return e
}

func (s *Server) readyz(c *gin.Context) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			abort(c, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// logger returns the request's logger (tagged with its request ID), or the
// server's for work that did not come over HTTP.
func (s *Server) logger(ctx context.Context) *slog.Logger { return bot.Logger(ctx, s.log) }

// requestLog gives each request an ID (the caller's X-Request-Id when it is
// sane), a logger tagged with it, and one log line when it is done. It logs
// the path only: no query, no headers, no body. The logger travels in the
// request's context, where bot finds it too, so the service's lines about
// an incident carry the request ID as well.
func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-Id")
	if !saneRequestID(id) {
		id = newRequestID()
	}
	c.Header("X-Request-Id", id)
	l := s.log.With("request_id", id)
	c.Request = c.Request.WithContext(bot.WithLogger(c.Request.Context(), l))
	c.Next()
	level := slog.LevelInfo
	switch p := c.Request.URL.Path; {
	case c.Writer.Status() >= 500:
		level = slog.LevelError
	case p == "/healthz" || p == "/readyz" || p == "/metrics":
		level = slog.LevelDebug
	}
	l.Log(c.Request.Context(), level, "http request", "method", c.Request.Method, "path", loggedPath(c.Request.URL.Path),
		"status", c.Writer.Status(), "bytes", c.Writer.Size(), "duration", time.Since(start), "remote", c.ClientIP())
}

// loggedPath is a request's path as the log may keep it: an ack link's
// token acknowledges as the person paged, so it is left out.
func loggedPath(p string) string {
	if strings.HasPrefix(p, "/page/ack/") {
		return "/page/ack/(token)"
	}
	return p
}

func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger(c.Request.Context()).Error("panic serving request", "panic", v)
			abort(c, http.StatusInternalServerError, "internal error")
		}
	}()
	c.Next()
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
