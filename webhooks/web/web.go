// Package web is the server-rendered web view: the incidents, one incident
// with its timeline and draft, who is on call, and trends. It is inbound
// HTTP like the rest of webhooks, calling bot; html/template escapes
// everything it prints, assets are embedded, and the few lines of script
// only enhance pages that work without them.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/incidentbot/incidentbot/bot"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the web view needs. Service and StatusOf are required.
type Config struct {
	Service *bot.Service
	// APIToken, when set, is what the login form asks for; the pages need
	// a session made with it (or the auth proxy's header).
	APIToken string
	// ProxyHeader names a header set by an auth proxy in front of the bot
	// (X-Forwarded-User): a request carrying it is signed in as that user.
	// The proxy must strip the header from what clients send.
	ProxyHeader string
	// PublicURL, when it starts with https://, marks cookies Secure.
	PublicURL string
	// Zone is the time zone of the pages and drafts; nil means UTC.
	Zone *time.Location
	// Runbooks gives each incident's checklist; nil means none.
	Runbooks bot.Runbooks
	// FeedToken gives a team's read-only calendar token ("" when the feed
	// needs none); nil means there is no calendar feed to link to.
	FeedToken func(team string) string
	// StatusOf maps bot's errors to HTTP statuses (webhooks owns the mapping).
	StatusOf func(error) int
	// Log gets the lines about refused logins and failed pages; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the pages. Build it with New and attach it with Mount.
type Handler struct {
	cfg   Config
	svc   *bot.Service
	pages map[string]*template.Template
	auth  *auth
	// trendsCache keeps the last trends page's numbers for trendTTL.
	trendsCache trendCache
}

// pageNames are the templates rendered inside layout.html.
var pageNames = []string{"incidents", "incident", "oncall", "trends", "login", "error"}

// New parses the templates and derives the keys of sessions and CSRF
// tokens. It panics on a wiring mistake (nil Service or StatusOf, a
// template that does not parse), which tests catch.
func New(cfg Config) *Handler {
	if cfg.Service == nil || cfg.StatusOf == nil {
		panic("web: Config.Service and Config.StatusOf are required")
	}
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Handler{cfg: cfg, svc: cfg.Service, pages: map[string]*template.Template{}}
	h.auth = newAuth(cfg)
	funcs := h.funcs()
	for _, name := range pageNames {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
		h.pages[name] = t
	}
	h.trendsCache.mu.Lock()
	h.refreshLocked()
	h.trendsCache.mu.Unlock()
	return h
}

// Mount adds the web view's routes to the router: the pages under the
// security headers and the session check, the login form and the assets.
func (h *Handler) Mount(r gin.IRouter) {
	static, _ := fs.Sub(staticFS, "static")
	assets := r.Group("/static", h.secure)
	assets.GET("/*file", h.asset(http.FS(static)))

	open := r.Group("", h.secure)
	open.GET("/login", h.loginForm)
	open.POST("/login", h.login)

	pages := r.Group("", h.secure, h.auth.require(h))
	pages.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/incidents") })
	pages.POST("/logout", h.checkCSRF, h.logout)
	pages.GET("/incidents", h.incidents)
	pages.GET("/incidents/:id", h.incident)
	pages.GET("/incidents/:id/postmortem.md", h.postmortemMarkdown)
	pages.GET("/incidents/:id/graph.png", h.graph)
	pages.POST("/incidents/:id/timeline/:entry/strike", h.checkCSRF, h.strike)
	pages.GET("/oncall", h.oncall)
	pages.GET("/trends", h.trends)
}

// secure sends the headers every answer of the web view carries: a strict
// Content-Security-Policy (no inline script or style, nothing from other
// origins, no framing), no MIME sniffing, no referrer beyond the origin.
func (h *Handler) secure(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Next()
}

func (h *Handler) asset(root http.FileSystem) gin.HandlerFunc {
	files := http.FileServer(root)
	return func(c *gin.Context) {
		// The assets change only with the binary; a day is short enough
		// for an upgrade and long enough for a phone at 3 a.m.
		c.Header("Cache-Control", "public, max-age=86400")
		c.Request.URL.Path = c.Param("file")
		files.ServeHTTP(c.Writer, c.Request)
	}
}

// page is what every template gets: the layout's parts and the page's own
// data in Data.
type page struct {
	Title string
	Nav   string
	User  string
	// Auth is true when the pages need a session (there is a logout).
	Auth bool
	// In is true when the request was let in: the navigation shows.
	In   bool
	CSRF string
	Data any
}

// render writes a page, buffered so that a template error becomes a clean
// 500 rather than half a page.
func (h *Handler) render(c *gin.Context, status int, name string, p page) {
	p.User = userOf(c)
	p.Auth = h.auth.tokenOn()
	p.In = c.GetBool(inKey)
	p.CSRF = h.auth.csrfToken(c)
	var b bytes.Buffer
	if err := h.pages[name].Execute(&b, p); err != nil {
		h.cfg.Log.Error("web page failed to render", "page", name, "err", err)
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error"))
		return
	}
	// Pages hold incident details: keep them out of shared caches and the
	// back-forward history of a shared machine.
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// fail shows an error page with the status bot's error maps to. Client
// errors show bot's message (it names the problem); server errors are
// logged and shown as a generic line.
func (h *Handler) fail(c *gin.Context, err error) {
	status := h.cfg.StatusOf(err)
	msg := err.Error()
	switch {
	case status == http.StatusServiceUnavailable:
		h.cfg.Log.ErrorContext(c.Request.Context(), "web page failed, caller may retry", "err", err)
		msg = "The store is not answering right now. Try again in a moment."
	case status >= 500:
		h.cfg.Log.ErrorContext(c.Request.Context(), "web page failed", "err", err)
		msg = "Something went wrong on our side; the log has the details."
	}
	h.render(c, status, "error", page{Title: http.StatusText(status), Data: msg})
}

// ctx is the request's context.
func ctx(c *gin.Context) context.Context { return c.Request.Context() }

// errorf builds a bot.ErrInvalid for a bad query parameter.
func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{bot.ErrInvalid}, args...)...)
}
