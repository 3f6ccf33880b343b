package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
)

// Cookie names and lifetimes.
const (
	sessionCookie = "incidentbot_session"
	csrfCookie    = "incidentbot_csrf"
	// sessionTTL is how long a login lasts: a working day and a night of
	// being on call, not a week on a laptop left in a café.
	sessionTTL = 24 * time.Hour
	userKey    = "web.user"
	// inKey marks a request the pages let in (signed in, or open pages).
	inKey = "web.in"
)

// auth decides who may see the pages.
//
// Without a token or a proxy header the pages are open, like the API (the
// start-up log warns). With INCIDENTBOT_API_TOKEN the login form asks for
// the token and sets a session cookie that holds no secret: a random ID,
// an expiry and an HMAC over both, keyed by a key derived from the token,
// so changing the token ends every session and a stolen cookie never
// reveals the token. With INCIDENTBOT_AUTH_PROXY_HEADER a request carrying
// the header is signed in as that user.
//
// The session cookie is SameSite=Lax, not Strict: the main way in is a
// link in a Slack message, a cross-site top-level navigation that Strict
// would send without the cookie (a login form on every click). Lax sends
// it only on top-level GETs, which change nothing; every POST carries a
// CSRF token on top.
type auth struct {
	token      string
	proxy      string
	secure     bool
	now        func() time.Time
	sessionKey []byte
	csrfKey    []byte
	tokenHash  [32]byte
}

func newAuth(cfg Config) *auth {
	a := &auth{token: cfg.APIToken, proxy: cfg.ProxyHeader, now: cfg.Now,
		secure: strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://")}
	if a.token != "" {
		a.sessionKey = derive(a.token, "incidentbot web session v1")
		// Derived from the token, CSRF tokens stay valid across restarts
		// and replicas.
		a.csrfKey = derive(a.token, "incidentbot web csrf v1")
		a.tokenHash = sha256.Sum256([]byte(a.token))
	} else {
		a.csrfKey = make([]byte, 32)
		_, _ = rand.Read(a.csrfKey)
	}
	return a
}

func derive(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func (a *auth) tokenOn() bool { return a.token != "" }

// open reports whether the pages need no sign-in at all.
func (a *auth) open() bool { return a.token == "" && a.proxy == "" }

// require lets a request through when it is signed in, or when the pages
// are open. Otherwise a GET goes to the login form (and comes back after),
// anything else gets 401.
func (a *auth) require(h *Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.proxy != "" {
			if u, ok := proxyUser(c.GetHeader(a.proxy)); ok {
				c.Set(userKey, u)
				c.Set(inKey, true)
				c.Next()
				return
			}
		}
		if a.open() || a.validSession(c) || a.validBearer(c) {
			c.Set(inKey, true)
			c.Next()
			return
		}
		if a.token == "" {
			h.render(c, http.StatusUnauthorized, "error", page{Title: "Sign in through the proxy",
				Data: "This page is behind an authenticating proxy, and the request did not come through it."})
			c.Abort()
			return
		}
		if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
			c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
			c.Abort()
			return
		}
		h.render(c, http.StatusUnauthorized, "error", page{Title: "Sign in first", Data: "Your session has ended. Sign in again, then repeat what you did."})
		c.Abort()
	}
}

// proxyUser accepts what an auth proxy puts in its header: a name or an
// address, without control characters, of a sane length.
func proxyUser(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 200 {
		return "", false
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", false
		}
	}
	return v, true
}

// userOf is who the request is signed in as, when the proxy said.
func userOf(c *gin.Context) string { return c.GetString(userKey) }

// actorOf is who a change made on a page is recorded as.
func actorOf(c *gin.Context) string { return webActor(userOf(c)) }

func (a *auth) checkToken(given string) bool {
	got := sha256.Sum256([]byte(given))
	return a.token != "" && subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1
}

// validBearer lets scripts (and the benchmark) read pages with the token
// as a bearer, as they read the API.
func (a *auth) validBearer(c *gin.Context) bool {
	scheme, rest, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	return strings.EqualFold(scheme, "Bearer") && a.checkToken(strings.TrimSpace(rest))
}

// newSession makes the cookie value: id.expiry.mac.
func (a *auth) newSession() string {
	var id [16]byte
	_, _ = rand.Read(id[:])
	body := base64.RawURLEncoding.EncodeToString(id[:]) + "." + strconv.FormatInt(a.now().Add(sessionTTL).Unix(), 10)
	return body + "." + a.mac(a.sessionKey, body)
}

func (a *auth) mac(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func (a *auth) validSession(c *gin.Context) bool {
	if a.token == "" {
		return false
	}
	v, err := c.Cookie(sessionCookie)
	if err != nil || len(v) > 200 {
		return false
	}
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return false
	}
	body, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(a.mac(a.sessionKey, body))) {
		return false
	}
	_, exp, ok := strings.Cut(body, ".")
	n, err := strconv.ParseInt(exp, 10, 64)
	return ok && err == nil && a.now().Unix() < n
}

func (a *auth) setCookie(c *gin.Context, name, value string, maxAge int, same http.SameSite) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure || c.Request.TLS != nil, SameSite: same})
}

// csrfToken returns the token forms of this page carry: an HMAC of the
// browser's CSRF cookie (set here when missing) and the signed-in user.
// A page from another site can neither read the cookie nor our page.
func (a *auth) csrfToken(c *gin.Context) string {
	v, err := c.Cookie(csrfCookie)
	if err != nil || len(v) < 16 || len(v) > 64 {
		var b [18]byte
		_, _ = rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
		a.setCookie(c, csrfCookie, v, 0, http.SameSiteStrictMode)
		// Later calls in this request see the new value.
		c.Request.AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	}
	return a.mac(a.csrfKey, v+"|"+userOf(c))
}

// checkCSRF refuses a form post that does not carry this browser's CSRF
// token, or that a browser says came from another site.
func (h *Handler) checkCSRF(c *gin.Context) {
	a := h.auth
	refuse := func(why string) {
		h.cfg.Log.WarnContext(ctx(c), "web form refused", "path", c.Request.URL.Path, "why", why)
		h.render(c, http.StatusForbidden, "error", page{Title: "Form refused",
			Data: "This form could not be accepted (" + why + "). Reload the page and try again."})
		c.Abort()
	}
	if site := c.GetHeader("Sec-Fetch-Site"); site == "cross-site" {
		refuse("it came from another site")
		return
	}
	if o := c.GetHeader("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != c.Request.Host {
			refuse("it came from another site")
			return
		}
	}
	v, err := c.Cookie(csrfCookie)
	if err != nil || v == "" {
		refuse("the browser sent no CSRF cookie")
		return
	}
	want := a.mac(a.csrfKey, v+"|"+userOf(c))
	if !hmac.Equal([]byte(c.PostForm("csrf")), []byte(want)) {
		refuse("its CSRF token is missing or stale")
		return
	}
	c.Next()
}

type loginData struct {
	Next  string
	Error string
}

func (h *Handler) loginForm(c *gin.Context) {
	if !h.auth.tokenOn() {
		c.Redirect(http.StatusSeeOther, "/incidents")
		return
	}
	h.render(c, http.StatusOK, "login", page{Title: "Sign in", Data: loginData{Next: safeNext(c.Query("next"))}})
}

// login checks the token and starts a session. It carries a CSRF token
// too, so another site cannot sign a browser into a session of its choice.
func (h *Handler) login(c *gin.Context) {
	if !h.auth.tokenOn() {
		c.Redirect(http.StatusSeeOther, "/incidents")
		return
	}
	h.checkCSRF(c)
	if c.IsAborted() {
		return
	}
	next := safeNext(c.PostForm("next"))
	if !h.auth.checkToken(c.PostForm("token")) {
		h.cfg.Log.WarnContext(ctx(c), "web login refused: wrong token")
		h.render(c, http.StatusUnauthorized, "login", page{Title: "Sign in", Data: loginData{Next: next, Error: "That token is not the one this bot was started with."}})
		return
	}
	h.auth.setCookie(c, sessionCookie, h.auth.newSession(), int(sessionTTL/time.Second), http.SameSiteLaxMode)
	c.Redirect(http.StatusSeeOther, next)
}

func (h *Handler) logout(c *gin.Context) {
	h.auth.setCookie(c, sessionCookie, "", -1, http.SameSiteLaxMode)
	c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext keeps the redirect after login on this site: a path, never
// "//host" or "/\host", which browsers read as another origin.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) || len(next) > 2000 {
		return "/incidents"
	}
	for _, r := range next {
		if unicode.IsControl(r) {
			return "/incidents"
		}
	}
	return next
}
