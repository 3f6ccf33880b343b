// Package alertmanager creates and expires silences in Alertmanager, and
// asks whether a silenced group still fires, through its API v2, with the
// client the alertmanager module generates (the one amtool uses). It implements bot.Silencer. Peers of an HA cluster gossip
// silences, so the first peer that answers is enough.
package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-openapi/runtime"
	clientruntime "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/client"
	"github.com/prometheus/alertmanager/api/v2/client/alert"
	"github.com/prometheus/alertmanager/api/v2/client/silence"
	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/internal/hostallow"
)

// Options configures a Client. Zero values are usable defaults.
type Options struct {
	// URLs are the Alertmanager peers (INCIDENTBOT_ALERTMANAGER_URL), tried
	// in order; empty means each incident's own externalURL, when Allow
	// admits its host.
	URLs []string
	// Allow lists the hosts an externalURL may name
	// (INCIDENTBOT_DERIVED_HOSTS); the zero List admits none, so that
	// whoever can post a webhook cannot choose what the bot contacts.
	Allow hostallow.List
	// Resolver looks up the names of externalURLs; nil means
	// net.DefaultResolver.
	Resolver hostallow.Resolver
	// PeerTimeout bounds the call to one peer; default 5s.
	PeerTimeout time.Duration
	// HTTPClient makes the calls; nil means a client without a timeout of
	// its own (PeerTimeout bounds each call).
	HTTPClient *http.Client
}

// Client is incidentbot's Alertmanager. It is safe for concurrent use.
type Client struct {
	peers []*url.URL
	o     Options
	// derived calls peers named by notifications: it dials only what
	// Allow admits and follows no redirect.
	derived *http.Client
}

var _ bot.Silencer = (*Client)(nil)

// New checks the configured URLs and returns a client. Errors name the
// offending URL without its password.
func New(o Options) (*Client, error) {
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 5 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	c := &Client{o: o, derived: &http.Client{
		Transport: &http.Transport{DialContext: o.Allow.DialContext(o.Resolver), Proxy: nil, MaxIdleConns: 8,
			IdleConnTimeout: time.Minute, TLSHandshakeTimeout: 10 * time.Second, MaxResponseHeaderBytes: 64 << 10},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, raw := range o.URLs {
		u, err := ParseURL(raw)
		if err != nil {
			return nil, err
		}
		c.peers = append(c.peers, u)
	}
	return c, nil
}

// ParseURL reads one Alertmanager base URL (http or https, an optional
// path prefix, optional basic-auth credentials). Errors wrap bot.ErrInvalid.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		shown := "(unparsable)"
		if err == nil {
			shown = u.Redacted()
		}
		return nil, fmt.Errorf("%w: Alertmanager URL %s: want http(s)://host[:port][/prefix]", bot.ErrInvalid, shown)
	}
	return u, nil
}

// candidates lists the peers to try: first, when given, then the
// configured ones, else fallback. A peer that is not configured (fallback,
// or first recorded from an earlier fallback) comes from a notification
// and is used only when Allow admits its host.
func (c *Client) candidates(first, fallback string) ([]*url.URL, error) {
	var out []*url.URL
	seen := map[string]bool{}
	add := func(u *url.URL) {
		if k := u.String(); !seen[k] {
			seen[k] = true
			out = append(out, u)
		}
	}
	var refused error
	if first != "" {
		if u, derived, err := c.match(first); err == nil && (!derived || c.o.Allow.Admits(u.Hostname())) {
			add(u)
		}
	}
	for _, u := range c.peers {
		add(u)
	}
	if len(out) == 0 && fallback != "" {
		u, err := ParseURL(fallback)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w (the alert group's externalURL; set INCIDENTBOT_ALERTMANAGER_URL)", err)
		case c.o.Allow.Admits(u.Hostname()):
			add(u)
		default:
			refused = fmt.Errorf("%w: the alert group's externalURL names Alertmanager at %s, a host not in INCIDENTBOT_DERIVED_HOSTS; set INCIDENTBOT_ALERTMANAGER_URL",
				bot.ErrConflict, show(u))
		}
	}
	if refused != nil {
		return nil, refused
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no Alertmanager URL: set INCIDENTBOT_ALERTMANAGER_URL", bot.ErrConflict)
	}
	return out, nil
}

// match turns a recorded peer (shown without credentials) back into the
// configured URL with them, or parses it when it is not configured
// (derived: it came from a notification).
func (c *Client) match(shown string) (u *url.URL, derived bool, err error) {
	for _, u := range c.peers {
		if show(u) == shown {
			return u, false, nil
		}
	}
	u, err = ParseURL(shown)
	return u, true, err
}

// configured reports whether u is one of the operator's peers.
func (c *Client) configured(u *url.URL) bool {
	return slices.Contains(c.peers, u)
}

// show is how a peer is named in answers, records and logs: no password.
func show(u *url.URL) string {
	v := *u
	v.User = nil
	return strings.TrimRight(v.String(), "/")
}

func (c *Client) api(u *url.URL) *client.AlertmanagerAPI {
	hc := c.o.HTTPClient
	if !c.configured(u) {
		hc = c.derived
	}
	rt := clientruntime.NewWithClient(u.Host, path.Join("/", u.Path, "/api/v2"), []string{u.Scheme}, hc)
	if u.User != nil {
		pw, _ := u.User.Password()
		rt.DefaultAuthentication = clientruntime.BasicAuth(u.User.Username(), pw)
	}
	return client.New(rt, strfmt.Default)
}

// Silence creates s in the first peer that answers; see bot.Silencer.
func (c *Client) Silence(ctx context.Context, fallback string, s bot.Silence) (string, string, error) {
	peers, err := c.candidates("", fallback)
	if err != nil {
		return "", "", err
	}
	start, end := strfmt.DateTime(s.StartsAt), strfmt.DateTime(s.EndsAt)
	ps := &models.PostableSilence{ID: s.ID, Silence: models.Silence{
		Matchers: matchers(s.Matchers), StartsAt: &start, EndsAt: &end, CreatedBy: &s.CreatedBy, Comment: &s.Comment,
	}}
	var tried []string
	for _, u := range peers {
		pctx, cancel := context.WithTimeout(ctx, c.o.PeerTimeout)
		ok, err := c.api(u).Silence.PostSilences(silence.NewPostSilencesParamsWithContext(pctx).WithSilence(ps))
		cancel()
		if err == nil && ok.Payload != nil && ok.Payload.SilenceID != "" {
			return ok.Payload.SilenceID, show(u), nil
		}
		var bad *silence.PostSilencesBadRequest
		var gone *silence.PostSilencesNotFound
		switch {
		case errors.As(err, &bad):
			return "", "", fmt.Errorf("%w: Alertmanager at %s refused the silence: %s", bot.ErrInvalid, show(u), bad.Payload)
		case errors.As(err, &gone) && s.ID != "":
			// The silence to replace is gone (expired and collected):
			// create a new one.
			ps.ID = ""
			ok, err = c.api(u).Silence.PostSilences(silence.NewPostSilencesParamsWithContext(ctx).WithSilence(ps))
			if err == nil && ok.Payload != nil {
				return ok.Payload.SilenceID, show(u), nil
			}
		}
		tried = append(tried, fmt.Sprintf("%s (%s)", show(u), reason(err)))
	}
	return "", "", fmt.Errorf("could not reach Alertmanager: %s", strings.Join(tried, ", "))
}

// Expire ends silence id; see bot.Silencer.
func (c *Client) Expire(ctx context.Context, peer, id string) error {
	peers, err := c.candidates(peer, peer)
	if err != nil {
		return err
	}
	sid := strfmt.UUID(id)
	var tried []string
	for _, u := range peers {
		pctx, cancel := context.WithTimeout(ctx, c.o.PeerTimeout)
		_, err := c.api(u).Silence.DeleteSilence(silence.NewDeleteSilenceParamsWithContext(pctx).WithSilenceID(sid))
		cancel()
		var gone *silence.DeleteSilenceNotFound
		if err == nil || errors.As(err, &gone) {
			return nil
		}
		tried = append(tried, fmt.Sprintf("%s (%s)", show(u), reason(err)))
	}
	return fmt.Errorf("could not expire silence %s in Alertmanager: %s", id, strings.Join(tried, ", "))
}

// Firing lists the group's alerts that still fire; see bot.Silencer.
// Alertmanager leaves resolved alerts out of GET /api/v2/alerts; silenced
// and inhibited ones are asked for explicitly, since a silenced group is
// exactly what is being checked.
func (c *Client) Firing(ctx context.Context, peer, fallback string, ms []bot.Matcher, receiver string) ([]string, error) {
	peers, err := c.candidates(peer, fallback)
	if err != nil {
		return nil, err
	}
	filter := make([]string, len(ms))
	for i, m := range ms {
		filter[i] = m.String()
	}
	yes := true
	var tried []string
	for _, u := range peers {
		pctx, cancel := context.WithTimeout(ctx, c.o.PeerTimeout)
		params := alert.NewGetAlertsParamsWithContext(pctx).WithActive(&yes).WithSilenced(&yes).WithInhibited(&yes).WithUnprocessed(&yes).WithFilter(filter)
		if receiver != "" {
			r := regexp.QuoteMeta(receiver)
			params = params.WithReceiver(&r)
		}
		ok, err := c.api(u).Alert.GetAlerts(params)
		cancel()
		if err == nil {
			out := make([]string, 0, len(ok.Payload))
			for _, a := range ok.Payload {
				if a != nil && a.Fingerprint != nil {
					out = append(out, *a.Fingerprint)
				}
			}
			return out, nil
		}
		var bad *alert.GetAlertsBadRequest
		if errors.As(err, &bad) {
			return nil, fmt.Errorf("%w: Alertmanager at %s refused the alert filter: %s", bot.ErrInvalid, show(u), bad.Payload)
		}
		tried = append(tried, fmt.Sprintf("%s (%s)", show(u), reason(err)))
	}
	return nil, fmt.Errorf("could not ask Alertmanager for the group's alerts: %s", strings.Join(tried, ", "))
}

func matchers(ms []bot.Matcher) models.Matchers {
	out := make(models.Matchers, len(ms))
	for i, m := range ms {
		name, value, isRegex, isEqual := m.Name, m.Value, m.IsRegex, m.IsEqual
		out[i] = &models.Matcher{Name: &name, Value: &value, IsRegex: &isRegex, IsEqual: &isEqual}
	}
	return out
}

// reason says briefly why a peer failed, without the URL (the caller names
// the peer without its password; url.Error would print it whole).
func reason(err error) string {
	var ue *url.Error
	var api *runtime.APIError
	switch {
	case err == nil:
		return "empty answer"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &ue):
		return errors.Unwrap(ue).Error()
	case errors.As(err, &api):
		return fmt.Sprintf("HTTP %d", api.Code)
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return fmt.Sprintf("HTTP %d", coded.Code())
	}
	return err.Error()
}
