// Package heapprofile captures and compares Go heap profiles for
// incidents: it fetches /debug/pprof/heap from allow-listed hosts only
// (checking the address actually dialled, never following a redirect to
// another host, bounded in time and size, one fetch at a time per host),
// diffs two captures with github.com/google/pprof/profile, and keeps the
// files in a directory. It implements bot.Profiler and bot.ProfileBlobs.
package heapprofile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"

	"github.com/incidentbot/incidentbot/bot"
)

// Options configures a Client. Zero values are usable defaults.
type Options struct {
	// Timeout bounds one fetch; default 30s.
	Timeout time.Duration
	// MaxBytes bounds one profile; default 64 MiB.
	MaxBytes int64
	// Resolver looks host names up; nil means net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
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

// Allowed is a parsed allow-list: host names, exact addresses, networks.
type Allowed struct {
	names []string
	nets  []netip.Prefix
}

// ParseAllow reads an allow-list: host names (payments.svc.cluster.local),
// addresses (10.0.0.5) and networks in CIDR notation (10.0.0.0/8).
// Errors wrap bot.ErrInvalid and name the entry.
func ParseAllow(entries []string) (Allowed, error) {
	var a Allowed
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if p, err := netip.ParsePrefix(e); err == nil {
			a.nets = append(a.nets, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			a.nets = append(a.nets, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if e == "" || strings.ContainsAny(e, "/:*@ ") {
			return Allowed{}, fmt.Errorf("%w: allow entry %q: want a host name, an address or a CIDR network", bot.ErrInvalid, e)
		}
		a.names = append(a.names, strings.TrimSuffix(e, "."))
	}
	return a, nil
}

// admitsName reports whether host is one of the allowed names.
func (a Allowed) admitsName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return slices.Contains(a.names, host)
}

// admitsAddr reports whether ip is in one of the allowed networks.
func (a Allowed) admitsAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Admits reports whether a URL's host may be contacted at all: a listed
// name, or an address in a listed network. A name that is not listed is
// refused even if it would resolve into a listed network: names are
// checked as names, addresses as addresses.
func (a Allowed) Admits(host string) bool {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.admitsAddr(ip)
	}
	return a.admitsName(host)
}

// dialable reports whether an address a listed name resolved to may be
// dialled: in a listed network when networks are listed; never a
// link-local (cloud metadata), multicast or unspecified address.
func (a Allowed) dialable(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return a.admitsAddr(ip) && ip.IsLinkLocalUnicast() // only when listed on purpose
	}
	return true
}

// CheckURL checks a profile URL against an allow-list without contacting
// anything: http(s), a host the list admits. Errors wrap bot.ErrInvalid.
func CheckURL(raw string, allow []string) (*url.URL, Allowed, error) {
	a, err := ParseAllow(allow)
	if err != nil {
		return nil, Allowed{}, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, Allowed{}, fmt.Errorf("%w: profile URL %q: want http(s)://host[:port]/path without credentials", bot.ErrInvalid, raw)
	}
	if !a.Admits(u.Hostname()) {
		return nil, Allowed{}, fmt.Errorf("%w: profile URL %s: host %q is not in the allow-list", bot.ErrInvalid, u.Redacted(), u.Hostname())
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
	if _, err := profile.ParseData(data); err != nil {
		return data, fmt.Errorf("%w: what %s answered does not parse as a profile: %v", bot.ErrInvalid, u.Redacted(), err)
	}
	return data, nil
}

// dialer dials only addresses the allow-list admits: an address host is
// checked as such; a name host is resolved here and each address checked
// again, so that DNS cannot steer the fetch elsewhere.
func (c *Client) dialer(host string, allow Allowed) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(strings.Trim(h, "[]"), strings.Trim(host, "[]")) {
			return nil, fmt.Errorf("refused to dial %s: only %s may be contacted", h, host)
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			ips = []netip.Addr{ip}
		} else if ips, err = c.o.Resolver.LookupNetIP(ctx, "ip", h); err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range ips {
			ok := allow.admitsAddr(ip) || (allow.admitsName(h) && allow.dialable(ip))
			if !ok {
				errs = append(errs, fmt.Errorf("refused to dial %s: %s is not in the allow-list", h, ip))
				continue
			}
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			return nil, fmt.Errorf("%s has no address", h)
		}
		return nil, errors.Join(errs...)
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
