// Package hostallow decides which hosts the bot may contact when a URL
// comes from outside (an alert's generatorURL or pprof_url, a group's
// externalURL): an allow-list of host names, addresses and networks,
// checked on the URL's host and again on every address actually dialled,
// so that neither DNS nor a redirect can steer a request elsewhere. The
// adapters that fetch such URLs (bot/heapprofile, bot/promgraph,
// bot/alertmanager) share it.
package hostallow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/incidentbot/incidentbot/bot"
)

// List is a parsed allow-list. The zero List admits nothing.
type List struct {
	names []string
	nets  []netip.Prefix
}

// Parse reads an allow-list: host names (payments.svc.cluster.local),
// addresses (10.0.0.5) and networks in CIDR notation (10.0.0.0/8).
// Errors wrap bot.ErrInvalid and name the entry.
func Parse(entries []string) (List, error) {
	var l List
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if p, err := netip.ParsePrefix(e); err == nil {
			l.nets = append(l.nets, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			l.nets = append(l.nets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if e == "" || strings.ContainsAny(e, "/:*@ []") {
			return List{}, fmt.Errorf("%w: allow entry %q: want a host name, an address or a CIDR network", bot.ErrInvalid, e)
		}
		l.names = append(l.names, strings.TrimSuffix(e, "."))
	}
	return l, nil
}

// Empty reports whether the list admits nothing.
func (l List) Empty() bool { return len(l.names) == 0 && len(l.nets) == 0 }

// String writes the list back, comma-separated.
func (l List) String() string {
	out := slices.Clone(l.names)
	for _, p := range l.nets {
		out = append(out, p.String())
	}
	return strings.Join(out, ",")
}

// special is an address no request built from outside input should reach
// by accident: loopback (the bot's own admin listener), link-local (cloud
// metadata at 169.254.169.254), multicast, unspecified.
func special(ip netip.Addr) bool {
	return ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified()
}

// admitsAddr reports whether ip is in a listed network. A special address
// counts only when the network that holds it is of its own kind (lists
// 127.0.0.1 or 169.254.0.0/16 on purpose): 0.0.0.0/0 does not admit the
// metadata service or loopback.
func (l List) admitsAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range l.nets {
		if !p.Contains(ip) {
			continue
		}
		if !special(ip) {
			return true
		}
		a := p.Addr()
		if (ip.IsLoopback() && a.IsLoopback()) || (ip.IsLinkLocalUnicast() && a.IsLinkLocalUnicast()) {
			return true
		}
	}
	return false
}

func (l List) admitsName(host string) bool {
	return slices.Contains(l.names, strings.TrimSuffix(strings.ToLower(host), "."))
}

// Admits reports whether a URL's host may be contacted at all: a listed
// name, or an address in a listed network. A name that is not listed is
// refused even if it would resolve into a listed network: names are
// checked as names, addresses as addresses.
func (l List) Admits(host string) bool {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return l.admitsAddr(ip)
	}
	return l.admitsName(host)
}

// dialable reports whether an address that host resolved to may be
// dialled: one in a listed network, or, for a listed name, any address but
// a special one (a listed name pointed at loopback or the metadata service
// is refused unless that address is listed itself).
func (l List) dialable(host string, ip netip.Addr) bool {
	return l.admitsAddr(ip) || (l.admitsName(host) && !special(ip.Unmap()))
}

// Resolver looks host names up (net.DefaultResolver, or a fake in tests).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialContext returns a dial function for an http.Transport that dials
// only what the list admits: an address host is checked as such; a name
// host must be listed, is resolved here, and each of its addresses is
// checked again, so that DNS cannot steer the request elsewhere. r nil
// means net.DefaultResolver.
func (l List) DialContext(r Resolver) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		h = strings.Trim(h, "[]")
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(h); err == nil {
			ips = []netip.Addr{ip}
		} else if !l.admitsName(h) {
			return nil, fmt.Errorf("refused to dial %s: the host is not in the allow-list", h)
		} else if ips, err = r.LookupNetIP(ctx, "ip", h); err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range ips {
			if !l.dialable(h, ip) {
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

// Static is a Resolver over a fixed table of names (tests, or hosts an
// operator pins): a name it lacks is an error.
type Static map[string][]netip.Addr

// LookupNetIP returns the addresses of host.
func (s Static) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := s[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}
