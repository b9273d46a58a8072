package servicehealth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
)

// Policy decides which addresses a service's URLs may point at, checked
// when a service is registered or changed (CheckURL) and again by the
// poller right before each connection (DialControl), since a name can
// resolve differently a moment later.
//
//   - Link-local addresses (169.254.0.0/16, fe80::/10: where cloud metadata
//     services answer) and addresses that are never a service (unspecified,
//     multicast, broadcast) are refused always.
//   - Loopback is refused unless AllowLoopback: on an exposed appstored a
//     service on its own host would let a service-token holder probe the
//     daemon's host (--service-allow-loopback opts in; a local-only daemon
//     sets it).
//   - Private addresses are allowed: registered services are internal by
//     nature.
type Policy struct {
	AllowLoopback bool
	// Resolver resolves host names at registration; nil is
	// net.DefaultResolver.
	Resolver giturl.Resolver
}

// ErrRefused is what every refusal of the policy matches with errors.Is.
var ErrRefused = errors.New("service address refused by policy")

// PolicyError says which address was refused and why.
type PolicyError struct {
	Addr   netip.Addr
	Reason string
}

func (e *PolicyError) Error() string        { return e.Reason }
func (e *PolicyError) Is(target error) bool { return target == ErrRefused }

// CheckAddr refuses an address the policy does not admit.
func (p Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	class, always := giturl.Classify(a)
	switch {
	case always:
		return &PolicyError{Addr: a, Reason: fmt.Sprintf("%s is %s: no service is registered there", a, class)}
	case (a.IsLoopback() || strings.HasSuffix(class, "loopback")) && !p.AllowLoopback:
		return &PolicyError{Addr: a, Reason: fmt.Sprintf("%s is loopback (appstored's own host), refused on an exposed appstored: register the service at its host's network address, or start appstored with --service-allow-loopback", a)}
	}
	return nil
}

// registrationResolveTimeout bounds the look-up of a host at registration.
const registrationResolveTimeout = 5 * time.Second

// CheckURL checks a service URL given at registration (field names it in
// the *catalog.InvalidError of a refusal): an IP literal directly, a host
// name by every address it resolves to now. A name that does not resolve
// (yet) passes: the poller's connection is checked again (DialControl),
// and the service shows as unhealthy meanwhile. A URL that does not parse
// passes too: catalog.ServiceSpec.Normalize reports it.
func (p Policy) CheckURL(ctx context.Context, field, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Hostname() == "" {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(a); err != nil {
			return catalog.Invalid(field, "%q: %v", raw, err)
		}
		return nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, registrationResolveTimeout)
	defer cancel()
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			continue
		}
		if err := p.CheckAddr(a); err != nil {
			return catalog.Invalid(field, "%q: host %s resolves to %v", raw, host, err)
		}
	}
	return nil
}

// DialControl is a net.Dialer Control function: Go calls it with each
// resolved address right before connect(2), so nothing is sent to an
// address the policy refuses, whatever the name resolved to.
func (p Policy) DialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &PolicyError{Reason: fmt.Sprintf("refusing to connect to %q: not an IP address and port", address)}
	}
	if err := p.CheckAddr(ap.Addr()); err != nil {
		var pe *PolicyError
		if errors.As(err, &pe) {
			pe.Reason = "refused to connect: " + pe.Reason
		}
		return err
	}
	return nil
}
