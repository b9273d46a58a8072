package giturl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Policy decides which Git remotes appstored may reach. The zero value is
// the strict one an internet-facing daemon needs: only public addresses,
// no local files.
//
// A check before the clone is not enough on its own: DNS can answer
// differently a moment later (DNS rebinding). So the clone's connections go
// through DialContext or DialControl, which refuse forbidden addresses at
// connect time, and redirects are checked with CheckHost.
type Policy struct {
	// AllowLocal admits file:// URLs and absolute paths. appstored sets it
	// while it is local-only (on loopback, no --allowed-host beyond it),
	// where every client is a user of the host anyway, or with
	// --allow-local-repos.
	AllowLocal bool
	// AllowPrivate admits loopback, private (RFC 1918, fc00::/7), CGNAT and
	// other non-public unicast addresses: --git-allow-private, or a
	// local-only appstored.
	AllowPrivate bool
	// AllowPrefixes admits these ranges even when AllowPrivate is false,
	// for one internal Git server without opening every private address.
	AllowPrefixes []netip.Prefix
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
}

// ErrRefused is what every *PolicyError matches with errors.Is.
var ErrRefused = errors.New("git remote refused by policy")

// PolicyError says why a remote was refused. Reason is a full sentence for
// the person who gave the URL: what was refused and what to do.
type PolicyError struct {
	URL    string     // the URL or host:port that was checked
	Host   string     // the host name, if any
	Addr   netip.Addr // the refused address, if the refusal is about one
	Reason string
	Err    error // the resolver's error when the host did not resolve

	class, advice string // for rewording Reason as the check goes up
}

func (e *PolicyError) Error() string { return e.Reason }

// Unwrap returns the resolver error, if any.
func (e *PolicyError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRefused) true for every policy refusal.
func (e *PolicyError) Is(target error) bool { return target == ErrRefused }

// Temporary reports whether the refusal may go away on its own: a DNS
// failure that the resolver marked temporary or a timeout. Every other
// refusal stands until the URL or the policy changes.
func (e *PolicyError) Temporary() bool {
	var dnsErr *net.DNSError
	if errors.As(e.Err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	return e.Err != nil && errors.Is(e.Err, context.DeadlineExceeded)
}

// Check refuses u unless the policy admits it: local URLs need AllowLocal;
// network hosts must resolve, and every address they resolve to must be
// admitted (a host with one public and one private address is refused, as
// a rebinding attacker would publish both).
func (p Policy) Check(ctx context.Context, u *URL) error {
	if u == nil {
		return &PolicyError{Reason: "no git URL given"}
	}
	if u.IsLocal() {
		if !p.AllowLocal {
			return &PolicyError{URL: u.CloneURL(), Reason: "file:// URLs and local paths are refused: this appstored is exposed (it listens beyond loopback or answers an --allowed-host beyond it), and a local path would read its disk; give an https://, ssh:// or git:// URL, or start appstored with --allow-local-repos on a trusted server"}
		}
		return nil
	}
	_, err := p.resolve(ctx, u.Host, u.CloneURL())
	return err
}

// CheckHost checks one host name or IP literal as Check does; it is what a
// redirect's target goes through.
func (p Policy) CheckHost(ctx context.Context, host string) error {
	_, err := p.resolve(ctx, strings.Trim(host, "[]"), host)
	return err
}

// Resolve checks host and returns its admitted addresses, so a caller
// whose transport cannot take a dialer can connect to exactly the address
// that was checked (pinning) instead of resolving again.
func (p Policy) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	return p.resolve(ctx, strings.Trim(host, "[]"), host)
}

// resolveTimeout bounds a lookup when the caller's context has no deadline.
const resolveTimeout = 10 * time.Second

func (p Policy) resolve(ctx context.Context, host, what string) ([]netip.Addr, error) {
	if host == "" {
		return nil, &PolicyError{URL: what, Reason: fmt.Sprintf("git URL %q has no host", what)}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(a); err != nil {
			return nil, withURL(err, what, host)
		}
		return []netip.Addr{a.Unmap()}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, resolveTimeout)
		defer cancel()
	}
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, &PolicyError{URL: what, Host: host, Err: err,
			Reason: fmt.Sprintf("git host %q does not resolve (%v): check the host name in the URL", host, err)}
	}
	if len(ips) == 0 {
		return nil, &PolicyError{URL: what, Host: host,
			Reason: fmt.Sprintf("git host %q resolves to no address: check the host name in the URL", host)}
	}
	addrs := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			return nil, &PolicyError{URL: what, Host: host, Reason: fmt.Sprintf("git host %q resolves to an invalid address %q", host, ip.IP)}
		}
		if ip.Zone != "" {
			a = a.WithZone(ip.Zone)
		}
		if err := p.CheckAddr(a); err != nil {
			return nil, withURL(err, what, host)
		}
		addrs = append(addrs, a.Unmap())
	}
	return addrs, nil
}

func withURL(err error, what, host string) error {
	var pe *PolicyError
	if errors.As(err, &pe) && pe.class != "" {
		pe.URL = what
		if pe.Addr.String() == host {
			pe.Reason = fmt.Sprintf("git host %s is %s: %s", host, pe.class, pe.advice)
		} else {
			pe.Host = host
			pe.Reason = fmt.Sprintf("git host %q resolves to %s, which is %s: %s", host, pe.Addr, pe.class, pe.advice)
		}
	}
	return err
}

// CheckAddr refuses an address the policy does not admit. The reason
// starts with the address so callers can prefix the host name.
func (p Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	for _, pfx := range p.AllowPrefixes {
		if pfx.Contains(a.WithZone("")) {
			return nil
		}
	}
	class, always := Classify(a)
	if class == "" || (p.AllowPrivate && !always) {
		return nil
	}
	advice := "an exposed appstored only clones from public addresses unless started with --git-allow-private"
	if always {
		advice = "no Git remote is served there; give another URL"
	}
	return &PolicyError{Addr: a, class: class, advice: advice, Reason: fmt.Sprintf("address %s is %s: %s", a, class, advice)}
}

// DialControl is a net.Dialer Control function that refuses to connect to
// an address the policy does not admit. Go calls it with the resolved
// address right before connect(2), so a DNS answer that changed since Check
// is caught here.
func (p Policy) DialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &PolicyError{URL: address, Reason: fmt.Sprintf("refusing to connect to %q (%s): not an IP address and port", address, network)}
	}
	if err := p.CheckAddr(ap.Addr()); err != nil {
		var pe *PolicyError
		if errors.As(err, &pe) {
			pe.URL = address
			pe.Reason = fmt.Sprintf("refusing to connect to %s, which is %s: %s", address, pe.class, pe.advice)
		}
		return err
	}
	return nil
}

// DialContext connects to address ("host:port") through the policy: the
// host is resolved with the policy's Resolver, every address is checked,
// and the connect itself goes through DialControl. It fits
// http.Transport.DialContext.
func (p Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := p.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.DialControl}
	var firstErr error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// Classify names the kind of non-public address a is ("loopback",
// "a private address", …), or returns "" for a public unicast address.
// always is true for kinds that are never a Git remote and stay refused
// even with AllowPrivate: unspecified, multicast, broadcast and link-local
// (the home of cloud metadata services, the usual target of server-side
// request forgery).
func Classify(a netip.Addr) (class string, always bool) {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return "not a valid address", true
	case a.IsUnspecified():
		return "unspecified (it means this host)", true
	case a.IsLoopback():
		return "loopback", false
	case a.IsLinkLocalUnicast():
		return "link-local (where cloud metadata services live)", true
	case a.IsMulticast():
		return "multicast", true
	case a.IsPrivate():
		return "a private address", false
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			if r.embedded != nil {
				if c, al := Classify(r.embedded(a)); c != "" {
					return "an IPv4 translation of an address that is " + c, al
				}
				if !r.refuse {
					return "", false
				}
			}
			return r.class, r.always
		}
	}
	return "", false
}

type specialRange struct {
	prefix netip.Prefix
	class  string
	always bool
	// embedded extracts the IPv4 address carried inside an IPv6 one; the
	// range is then judged by that address unless refuse is set.
	embedded func(netip.Addr) netip.Addr
	refuse   bool
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// v4At returns the IPv4 address in bytes [i, i+4) of a 16-byte address.
func v4At(i int) func(netip.Addr) netip.Addr {
	return func(a netip.Addr) netip.Addr {
		b := a.As16()
		return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]})
	}
}

// specialRanges are the IANA special-purpose blocks (RFC 6890 and later)
// that Go's netip predicates do not cover.
var specialRanges = []specialRange{
	{prefix: mustPrefix("0.0.0.0/8"), class: "in 0.0.0.0/8 (this network)", always: true},
	{prefix: mustPrefix("100.64.0.0/10"), class: "carrier-grade NAT space (100.64.0.0/10)"},
	{prefix: mustPrefix("192.0.0.0/24"), class: "IETF protocol space (192.0.0.0/24)"},
	{prefix: mustPrefix("192.0.2.0/24"), class: "documentation space (TEST-NET-1)"},
	{prefix: mustPrefix("198.18.0.0/15"), class: "benchmarking space (198.18.0.0/15)"},
	{prefix: mustPrefix("198.51.100.0/24"), class: "documentation space (TEST-NET-2)"},
	{prefix: mustPrefix("203.0.113.0/24"), class: "documentation space (TEST-NET-3)"},
	{prefix: mustPrefix("255.255.255.255/32"), class: "the broadcast address", always: true},
	{prefix: mustPrefix("240.0.0.0/4"), class: "reserved (240.0.0.0/4)"},
	// IPv6 forms that carry an IPv4 address: judged by that address.
	{prefix: mustPrefix("::/96"), class: "an IPv4-compatible IPv6 address (deprecated)", embedded: v4At(12), refuse: true},
	{prefix: mustPrefix("::ffff:0:0:0/96"), class: "an IPv4-translated IPv6 address", embedded: v4At(12), refuse: true},
	{prefix: mustPrefix("64:ff9b::/96"), class: "NAT64", embedded: v4At(12)},
	{prefix: mustPrefix("64:ff9b:1::/48"), class: "local-use NAT64 (64:ff9b:1::/48)"},
	{prefix: mustPrefix("2002::/16"), class: "6to4", embedded: v4At(2)},
	{prefix: mustPrefix("2001::/32"), class: "Teredo (2001::/32), whose tunnel endpoint cannot be checked"},
	{prefix: mustPrefix("100::/64"), class: "the IPv6 discard prefix (100::/64)", always: true},
	{prefix: mustPrefix("2001:db8::/32"), class: "IPv6 documentation space (2001:db8::/32)"},
	{prefix: mustPrefix("2001:2::/48"), class: "IPv6 benchmarking space (2001:2::/48)"},
	{prefix: mustPrefix("fec0::/10"), class: "IPv6 site-local (deprecated, fec0::/10)"},
	{prefix: mustPrefix("5f00::/16"), class: "IPv6 SRv6 SID space (5f00::/16)"},
}
