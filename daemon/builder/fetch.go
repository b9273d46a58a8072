package builder

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

// DefaultMaxRemoteBytes bounds one file fetched for ADD <url>.
const DefaultMaxRemoteBytes = 512 << 20

// fetchPolicy decides which hosts a build may fetch from or pull base
// images from: the Git address policy (public addresses; private ones
// when it admits them), and never this host's loopback, which is the
// engine's and appstored's own, whatever the policy says.
type fetchPolicy struct {
	git giturl.Policy
	// admit lets one address through, loopback included: tests serve
	// an "admitted public host" on loopback with it.
	admit netip.AddrPort
}

// numericHostRE matches host names made only of numbers, the forms that
// inet_aton reads as addresses (127.1, 2130706433, 0x7f.0.0.1, 017700000001).
var numericHostRE = regexp.MustCompile(`(?i)^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$`)

// hostProblem says why host may not be contacted ("" when it may). It
// resolves host as the Git policy does (literals, the policy's resolver,
// its ranges). A host that does not resolve is left to the connection,
// which fails saying so.
func (p fetchPolicy) hostProblem(ctx context.Context, host string) string {
	if host == "" {
		return "the URL names no host"
	}
	if _, err := netip.ParseAddr(host); err != nil && numericHostRE.MatchString(host) {
		return fmt.Sprintf("%s is an IP address written in a short or numeric form, which resolvers read as an address such as 127.0.0.1; write addresses as four decimal numbers", host)
	}
	addrs, err := p.git.Resolve(ctx, host)
	var pe *giturl.PolicyError
	if errors.As(err, &pe) && pe.Addr.IsValid() {
		return describeAddr(host, pe.Addr)
	}
	for _, a := range addrs {
		if a.IsLoopback() {
			return describeAddr(host, a)
		}
	}
	return ""
}

// problem is hostProblem for host:port, which admit lets through.
func (p fetchPolicy) problem(ctx context.Context, host, port string) string {
	if p.admit.IsValid() && port == strconv.Itoa(int(p.admit.Port())) {
		if a, err := netip.ParseAddr(host); err == nil && a == p.admit.Addr() {
			return ""
		}
	}
	return p.hostProblem(ctx, host)
}

// checkAddr refuses a connection to ap unless the policy admits it.
func (p fetchPolicy) checkAddr(ap netip.AddrPort) error {
	if p.admit.IsValid() && ap == p.admit {
		return nil
	}
	a := ap.Addr().Unmap()
	if a.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s, which is loopback: %w", ap, errFetchRefused)
	}
	if err := p.git.CheckAddr(a); err != nil {
		return fmt.Errorf("refusing to connect to %s (%s): %w", ap, describeAddr(a.String(), a), errFetchRefused)
	}
	return nil
}

// dial connects through the policy: host resolved once, every address
// checked, and checked again right before connect(2) (a DNS answer that
// changed meanwhile is caught there).
func (p fetchPolicy) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if why := p.problem(ctx, host, port); why != "" {
		return nil, fmt.Errorf("%s: %w", why, errFetchRefused)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		var r giturl.Resolver = net.DefaultResolver
		if p.git.Resolver != nil {
			r = p.git.Resolver
		}
		ips, err := r.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip.IP); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	pn, _ := strconv.Atoi(port)
	d := net.Dialer{Timeout: 30 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("refusing to connect to %q: %w", address, errFetchRefused)
		}
		return p.checkAddr(ap)
	}}
	var firstErr error
	for _, a := range addrs {
		if err := p.checkAddr(netip.AddrPortFrom(a, uint16(pn))); err != nil {
			return nil, err
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%s resolves to no address", host)
	}
	return nil, firstErr
}

// httpClient fetches through the policy, redirects included (at most 10,
// http and https only, each target checked).
func (p fetchPolicy) httpClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           p.dial,
			Proxy:                 nil, // a proxy would connect where the policy cannot see
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirected to %s, which is not http or https: %w", req.URL.Redacted(), errFetchRefused)
			}
			if why := p.problem(req.Context(), req.URL.Hostname(), urlPort(req.URL)); why != "" {
				return fmt.Errorf("redirected to %s: %s: %w", req.URL.Redacted(), why, errFetchRefused)
			}
			return nil
		},
	}
}

// fetchSource downloads an admitted ADD <url> and returns the local source
// that replaces it: a session directory holding the file under the name,
// mode and owner the http source would have given it.
func (g *guard) fetchSource(ctx context.Context, src *pb.SourceOp, where string) (*pb.SourceOp, error) {
	g.mu.Lock()
	name, ok := g.fetched[src.Identifier]
	g.n++
	n := g.n
	g.mu.Unlock()
	if !ok {
		dir := filepath.Join(g.fetchDir, strconv.Itoa(n))
		if err := g.download(ctx, src, dir, where); err != nil {
			return nil, err
		}
		name = "appstore-fetch-" + strconv.Itoa(n)
		uid := uint32(parseAttrInt(src.Attrs, pb.AttrHTTPUID, 0))
		gid := uint32(parseAttrInt(src.Attrs, pb.AttrHTTPGID, 0))
		if err := g.dirs.add(name, dir, uid, gid, nil); err != nil {
			return nil, err
		}
		g.mu.Lock()
		if g.fetched == nil {
			g.fetched = map[string]string{}
		}
		g.fetched[src.Identifier] = name
		g.mu.Unlock()
	}
	return &pb.SourceOp{Identifier: "local://" + name, Attrs: map[string]string{
		pb.AttrLocalSessionID: g.sessionID,
		pb.AttrSharedKeyHint:  name,
	}}, nil
}

func (g *guard) download(ctx context.Context, src *pb.SourceOp, dir, where string) error {
	raw := src.Identifier
	filename := src.Attrs[pb.AttrHTTPFilename]
	if filename == "" {
		filename = "index"
		if u, err := url.Parse(raw); err == nil {
			if b := filepath.Base(u.Path); b != "." && b != "/" {
				filename = b
			}
		}
	}
	if filename != filepath.Base(filename) || filename == ".." {
		return g.refuse("%s: %s names the file %q, which is not a plain file name", where, raw, filename)
	}
	g.say("Fetching %s for %s (--build-allow-remote-add)", raw, where)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return g.refuse("%s: %v", where, err)
	}
	resp, err := g.policy.httpClient().Do(req)
	if err != nil {
		if errors.Is(err, errFetchRefused) {
			return g.refuse("%s: fetching %s: %s; refused", where, raw, refusalText(err))
		}
		return g.refuse("%s: fetching %s failed: %v", where, raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return g.refuse("%s: fetching %s: the server answered %s", where, raw, resp.Status)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p := filepath.Join(dir, filename)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	limit := g.maxBytes
	if limit <= 0 {
		limit = DefaultMaxRemoteBytes
	}
	written, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return g.refuse("%s: fetching %s failed: %v", where, raw, err)
	}
	if written > limit {
		return g.refuse("%s: %s is larger than %s; download it in a RUN step", where, raw, formatBytes(limit))
	}
	if want := src.Attrs[pb.AttrHTTPChecksum]; want != "" {
		got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
		if d, err := digest.Parse(want); err != nil || (d.Algorithm() == digest.SHA256 && d != got) {
			return g.refuse("%s: %s has the checksum %s, not %s (ADD --checksum)", where, raw, got, want)
		}
	}
	mode := os.FileMode(parseAttrInt(src.Attrs, pb.AttrHTTPPerm, 0o600)) & os.ModePerm
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		_ = os.Chtimes(p, lm, lm)
	}
	return nil
}

// refusalText is the policy's sentence inside a wrapped refusal.
func refusalText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if i := len(s) - len(": "+errFetchRefused.Error()); i > 0 && s[i:] == ": "+errFetchRefused.Error() {
		s = s[:i]
	}
	return s
}

// urlPort is the port of an http(s) URL, the scheme's default included.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
