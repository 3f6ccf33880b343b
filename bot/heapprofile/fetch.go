// Package heapprofile captures and compares Go heap profiles for
// incidents: it fetches /debug/pprof/heap from allow-listed hosts only
// (checking the address actually dialled, never following a redirect to
// another host, bounded in time and size, one fetch at a time per host),
// diffs two captures (summed per site as `go tool pprof -base` does, the
// protobuf streamed so that no parsed profile is held), and keeps the
// files in a directory. It implements bot.Profiler and bot.ProfileBlobs.
package heapprofile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/incidentbot/incidentbot/bot"
	"github.com/incidentbot/incidentbot/internal/hostallow"
)

// Options configures a Client. Zero values are usable defaults.
type Options struct {
	// Timeout bounds one fetch; default 30s.
	Timeout time.Duration
	// MaxBytes bounds one profile; default 64 MiB.
	MaxBytes int64
	// Resolver looks host names up; nil means net.DefaultResolver.
	Resolver hostallow.Resolver
}

// Client fetches and diffs heap profiles. It is safe for concurrent use.
type Client struct {
	o  Options
	mu sync.Mutex
	// busy holds a turn per host being fetched from (or waited for).
	busy map[string]*hostTurn
	// diffing lets one Diff run at a time, so that an incident storm does
	// not hold many parsed profiles at once.
	diffing chan struct{}
}

var _ bot.Profiler = (*Client)(nil)

// New returns a Client.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	return &Client{o: o, busy: map[string]*hostTurn{}, diffing: make(chan struct{}, 1)}
}

// CheckURL checks a profile URL against an allow-list without contacting
// anything: http(s), a host the list admits. Errors wrap bot.ErrInvalid.
func CheckURL(raw string, allow []string) (*url.URL, hostallow.List, error) {
	a, err := hostallow.Parse(allow)
	if err != nil {
		return nil, hostallow.List{}, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, hostallow.List{}, fmt.Errorf("%w: profile URL %q: want http(s)://host[:port]/path without credentials", bot.ErrInvalid, raw)
	}
	if !a.Admits(u.Hostname()) {
		return nil, hostallow.List{}, fmt.Errorf("%w: profile URL %s: host %q is not in the allow-list", bot.ErrInvalid, u.Redacted(), u.Hostname())
	}
	return u, a, nil
}

// Fetch downloads the profile t.URL names; see bot.Profiler.
func (c *Client) Fetch(ctx context.Context, t bot.ProfileTarget) ([]byte, error) {
	u, allow, err := CheckURL(t.URL, t.Allow)
	if err != nil {
		return nil, err
	}
	release, err := c.turn(ctx, u.Host)
	if err != nil {
		return nil, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{DialContext: c.dialer(u.Hostname(), allow), Proxy: nil, DisableKeepAlives: true,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: c.o.Timeout, MaxResponseHeaderBytes: 64 << 10},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Host != u.Host || len(via) > 3 {
				return fmt.Errorf("refused a redirect to %s: only %s may be contacted", r.URL.Redacted(), u.Host)
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		var te interface{ Timeout() bool }
		if ctx.Err() != nil || (errors.As(err, &te) && te.Timeout()) {
			return nil, fmt.Errorf("fetching %s: no answer within %s", u.Redacted(), c.o.Timeout)
		}
		return nil, fmt.Errorf("fetching %s: %w", u.Redacted(), unwrapURL(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP %d", u.Redacted(), res.StatusCode)
	}
	if res.ContentLength > c.o.MaxBytes {
		return nil, fmt.Errorf("fetching %s: the profile is %d bytes, more than the %d allowed", u.Redacted(), res.ContentLength, c.o.MaxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, c.o.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u.Redacted(), err)
	}
	if int64(len(data)) > c.o.MaxBytes {
		return nil, fmt.Errorf("fetching %s: the profile is larger than the %d bytes allowed", u.Redacted(), c.o.MaxBytes)
	}
	// Checked as Diff reads it, streaming: a profile near the cap never
	// sits parsed in memory, not even here.
	if _, _, err := streamSums(data, "fetched"); err != nil {
		return data, fmt.Errorf("%w: what %s answered does not parse as a heap profile: %v", bot.ErrInvalid, u.Redacted(), err)
	}
	return data, nil
}

// dialer dials host only, and only the addresses allow admits (see
// hostallow.List.DialContext).
func (c *Client) dialer(host string, allow hostallow.List) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := allow.DialContext(c.o.Resolver)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(strings.Trim(h, "[]"), strings.Trim(host, "[]")) {
			return nil, fmt.Errorf("refused to dial %s: only %s may be contacted", h, host)
		}
		return dial(ctx, network, addr)
	}
}

// turn waits until no other fetch runs against host, so that an incident
// storm never has the bot hammer one ailing service.
func (c *Client) turn(ctx context.Context, host string) (func(), error) {
	c.mu.Lock()
	h, ok := c.busy[host]
	if !ok {
		h = &hostTurn{tok: make(chan struct{}, 1)}
		c.busy[host] = h
	}
	h.users++
	c.mu.Unlock()
	leave := func() {
		c.mu.Lock()
		if h.users--; h.users == 0 {
			delete(c.busy, host) // the map holds only hosts in use
		}
		c.mu.Unlock()
	}
	select {
	case h.tok <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, fmt.Errorf("waiting for another fetch from %s: %w", host, ctx.Err())
	}
	return func() { <-h.tok; leave() }, nil
}

type hostTurn struct {
	tok   chan struct{}
	users int
}

// unwrapURL drops url.Error's copy of the URL (the caller names it).
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
