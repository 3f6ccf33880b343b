// Package webhook pages people through an HTTP gateway of their choice
// (ntfy, Gotify, an SMS or phone provider's API behind a small relay): a
// signed JSON POST per page. It implements bot.Pager.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/incidentbot/incidentbot/bot"
)

// SignatureHeader carries "sha256=<hex of HMAC-SHA256(secret, body)>".
const SignatureHeader = "X-Incidentbot-Signature"

// Body is the JSON a gateway receives.
type Body struct {
	Incident BodyIncident `json:"incident"`
	Team     string       `json:"team"`
	Step     int          `json:"step"`
	// Target is the Slack user ID paged.
	Target string `json:"target"`
	AckURL string `json:"ack_url"`
	Text   string `json:"text"`
	// Page identifies the page: a gateway may drop a repeat of one it has
	// seen (the same ID is sent again only after a failed attempt).
	Page uint64 `json:"page"`
	// Pages lists every page this message carries, the first one first:
	// one, or several to the same person that fell due together (a
	// storm), when Text counts them and AckURL acknowledges them all.
	Pages []BodyPage `json:"pages"`
}

// BodyPage is one page of a message: its incident and why.
type BodyPage struct {
	Incident BodyIncident `json:"incident"`
	Page     uint64       `json:"page"`
	Team     string       `json:"team"`
	Step     int          `json:"step"`
	Text     string       `json:"text"`
}

// BodyIncident is the incident part of Body.
type BodyIncident struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	URL      string `json:"url"`
}

// Pager posts pages to each person's webhook URL.
type Pager struct {
	secret []byte
	client *http.Client
}

var _ bot.Pager = (*Pager)(nil)

// New returns a pager that signs with secret. client nil means one with a
// 10 s timeout that does not follow redirects (a redirect would carry the
// page, and its signature, somewhere nobody configured).
func New(secret string, client *http.Client) *Pager {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Pager{secret: []byte(secret), client: client}
}

// Via implements bot.Pager.
func (*Pager) Via() string { return bot.ViaWebhook }

// Sign returns the signature header value of body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), kept
// between 1 s and 10 min; 30 s when it is missing or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	d := 30 * time.Second
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, time.Second), 10*time.Minute)
}

// Send implements bot.Pager: 2xx is sent; 429 is a bot.RetryAfterError
// (its Retry-After honoured); 5xx, 408 and network errors are transient
// (retried); any other status is a permanent refusal.
func (p *Pager) Send(ctx context.Context, m bot.PageMessage) error {
	b := Body{
		Incident: BodyIncident{ID: m.Incident.ID, Title: m.Incident.Title, Severity: m.Incident.Severity.String(), URL: m.URL},
		Team:     m.Page.Team, Step: m.Page.Step, Target: m.Page.Target, AckURL: m.AckURL, Text: m.Text, Page: m.Page.ID,
	}
	items := append([]bot.PageItem{{Page: m.Page, Incident: m.Incident, Text: m.Text, URL: m.URL}}, m.Also...)
	for _, it := range items {
		b.Pages = append(b.Pages, BodyPage{Incident: BodyIncident{ID: it.Incident.ID, Title: it.Incident.Title, Severity: it.Incident.Severity.String(), URL: it.URL},
			Page: it.Page.ID, Team: it.Page.Team, Step: it.Page.Step, Text: it.Text})
	}
	if n := m.Incidents(); n > 1 {
		var keys []string
		for _, it := range m.Items()[:min(n, bot.PageListed)] {
			keys = append(keys, it.Incident.Key())
		}
		b.Text = fmt.Sprintf("You are paged for %d incidents: %s", n, strings.Join(keys, ", "))
		if n > bot.PageListed {
			b.Text += fmt.Sprintf(" and %d more", n-bot.PageListed)
		}
	}
	body, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("%w: webhook page: %w", bot.ErrInvalid, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Page.Address, bytes.NewReader(body))
	if err != nil {
		// err quotes the URL, which may be the secret itself.
		return fmt.Errorf("%w: webhook page: the person's webhook is not a valid URL", bot.ErrInvalid)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "incidentbot")
	req.Header.Set(SignatureHeader, Sign(p.secret, body))
	req.Header.Set("Idempotency-Key", "incidentbot-page-"+strconv.FormatUint(m.Page.ID, 10))
	resp, err := p.client.Do(req)
	if err != nil {
		// A gateway's path or query often is the secret (an ntfy topic, a
		// provider's key): the error, which reaches the timeline and the
		// incident channel, names only the host.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook page to %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusTooManyRequests:
		// Rate limited: the page did not go out. The engine waits as told
		// (within bounds) without counting an attempt, and gives the page
		// up once it has waited EngineOptions.RateLimitedFor.
		return &bot.RetryAfterError{After: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Err: fmt.Errorf("webhook page: the gateway answered %s", resp.Status)}
	case c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout:
		return fmt.Errorf("webhook page: the gateway answered %s", resp.Status)
	}
	return fmt.Errorf("%w: webhook page: the gateway refused it with %s", bot.ErrInvalid, resp.Status)
}
