package giturl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a table; a host with several answers gives
// them in turn (the last one repeats), which is how DNS rebinding looks.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]string
	calls   map[string]int
}

func resolver(table map[string][]string) *fakeResolver {
	r := &fakeResolver{answers: map[string][][]string{}, calls: map[string]int{}}
	for h, ips := range table {
		r.answers[h] = [][]string{ips}
	}
	return r
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(r.calls[host], len(seq)-1)
	r.calls[host]++
	var out []net.IPAddr
	for _, s := range seq[i] {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestClassify(t *testing.T) {
	cases := []struct {
		addr   string
		public bool
		always bool
	}{
		{"140.82.112.3", true, false},
		{"8.8.8.8", true, false},
		{"2606:4700::1111", true, false},
		{"127.0.0.1", false, false},
		{"127.255.0.9", false, false},
		{"::1", false, false},
		{"::ffff:127.0.0.1", false, false},
		{"10.1.2.3", false, false},
		{"172.16.0.1", false, false},
		{"172.31.255.255", false, false},
		{"172.32.0.1", true, false},
		{"192.168.1.1", false, false},
		{"fc00::1", false, false},
		{"fd12:3456::1", false, false},
		{"100.64.0.1", false, false},
		{"100.127.255.254", false, false},
		{"100.128.0.1", true, false},
		{"198.18.0.1", false, false},
		{"192.0.2.10", false, false},
		{"240.0.0.1", false, false},
		{"0.0.0.0", false, true},
		{"0.1.2.3", false, true},
		{"::", false, true},
		{"169.254.169.254", false, true},
		{"fe80::1", false, true},
		{"::ffff:169.254.169.254", false, true},
		{"224.0.0.1", false, true},
		{"ff02::1", false, true},
		{"255.255.255.255", false, true},
		// IPv6 forms that carry an IPv4 address.
		{"::127.0.0.1", false, false},
		{"::8.8.8.8", false, false},
		{"::ffff:0:7f00:1", false, false},
		{"64:ff9b::7f00:1", false, false},
		{"64:ff9b::a9fe:a9fe", false, true},
		{"64:ff9b::808:808", true, false},
		{"2002:7f00:1::1", false, false},
		{"2002:0a00:0001::1", false, false},
		{"2002:0808:0808::1", true, false},
		{"2001:0:4136:e378::1", false, false},
		{"2001:db8::1", false, false},
		{"fec0::1", false, false},
		{"100::1", false, true},
	}
	for _, c := range cases {
		class, always := Classify(netip.MustParseAddr(c.addr))
		if (class == "") != c.public {
			t.Errorf("Classify(%s) = %q, want public=%v", c.addr, class, c.public)
		}
		if always != c.always {
			t.Errorf("Classify(%s) always = %v, want %v (%s)", c.addr, always, c.always, class)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	dns := resolver(map[string][]string{
		"github.com":     {"140.82.112.3"},
		"internal.corp":  {"10.0.0.5"},
		"both.example":   {"140.82.112.3", "192.168.0.7"},
		"localhost":      {"127.0.0.1", "::1"},
		"meta.example":   {"169.254.169.254"},
		"cgnat.example":  {"100.64.3.4"},
		"mapped.example": {"::ffff:10.0.0.1"},
		"six.example":    {"2606:4700::1111"},
	})
	strict := Policy{Resolver: dns}
	private := Policy{Resolver: dns, AllowPrivate: true}
	local := Policy{Resolver: dns, AllowLocal: true}
	prefixed := Policy{Resolver: dns, AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10")}}

	cases := []struct {
		url    string
		policy Policy
		want   string // "" = admitted, else a substring of the refusal
	}{
		{"https://github.com/a/b.git", strict, ""},
		{"git@github.com:a/b.git", strict, ""},
		{"git://six.example/a/b", strict, ""},
		{"https://internal.corp/a/b", strict, `"internal.corp" resolves to 10.0.0.5, which is a private address`},
		{"https://internal.corp/a/b", private, ""},
		{"git@internal.corp:a/b.git", strict, "private"},
		{"ssh://git@internal.corp:2222/a/b", strict, "--git-allow-private"},
		{"https://both.example/a/b", strict, "192.168.0.7"},
		{"https://both.example/a/b", private, ""},
		{"http://localhost:8080/a/b", strict, "loopback"},
		{"http://127.0.0.1:8080/a/b", strict, "git host 127.0.0.1 is loopback"},
		{"http://127.0.0.1:8080/a/b", private, ""},
		{"http://[::1]/a/b", strict, "loopback"},
		{"http://[::ffff:127.0.0.1]/a/b", strict, "loopback"},
		{"https://mapped.example/a/b", strict, "private"},
		{"http://169.254.169.254/a/b", private, "link-local"},
		{"https://meta.example/a/b", private, "no Git remote is served there"},
		{"http://0.0.0.0/a/b", private, "unspecified"},
		{"http://[::]/a/b", private, "unspecified"},
		{"http://224.0.0.1/a/b", private, "multicast"},
		{"https://cgnat.example/a/b", strict, "carrier-grade NAT"},
		{"https://cgnat.example/a/b", prefixed, ""},
		{"https://internal.corp/a/b", prefixed, "private"},
		{"http://[2002:7f00:1::1]/a/b", strict, "IPv4 translation"},
		{"http://[64:ff9b::a00:1]/a/b", strict, "private"},
		{"http://[64:ff9b::808:808]/a/b", strict, ""},
		{"https://nowhere.invalid/a/b", private, `git host "nowhere.invalid" does not resolve`},
		{"file:///srv/git/app", strict, "this appstored is exposed"},
		{"/srv/git/app", private, "file:// URLs and local paths"},
		{"/srv/git/app", local, ""},
		{"file:///srv/git/app", local, ""},
	}
	for _, c := range cases {
		u, err := Parse(c.url)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.url, err)
		}
		err = c.policy.Check(context.Background(), u)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want admitted", c.url, err)
		case c.want != "" && err == nil:
			t.Errorf("Check(%q) admitted, want refusal with %q", c.url, c.want)
		case c.want != "":
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check(%q) = %q, want it to mention %q", c.url, err, c.want)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrRefused) {
				t.Errorf("Check(%q) = %T, want a *PolicyError matching ErrRefused", c.url, err)
			}
		}
	}
}

func TestPolicyErrorTemporary(t *testing.T) {
	tmp := &PolicyError{Err: &net.DNSError{Err: "server misbehaving", IsTemporary: true}}
	gone := &PolicyError{Err: &net.DNSError{Err: "no such host", IsNotFound: true}}
	refused := &PolicyError{Addr: netip.MustParseAddr("10.0.0.1")}
	if !tmp.Temporary() || gone.Temporary() || refused.Temporary() {
		t.Errorf("Temporary: temp=%v notfound=%v refused=%v, want true false false", tmp.Temporary(), gone.Temporary(), refused.Temporary())
	}
}

func TestDialControlRefusesAtConnect(t *testing.T) {
	// Two real listeners on loopback. The policy admits only 127.0.0.2, as
	// an operator's AllowPrefixes would admit one internal server.
	allowed := listen(t, "127.0.0.2:0")
	forbidden := listen(t, "127.0.0.1:0")
	p := Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}

	d := net.Dialer{Timeout: 5 * time.Second, Control: p.DialControl}
	conn, err := d.Dial("tcp", allowed.Addr().String())
	if err != nil {
		t.Fatalf("dial admitted address: %v", err)
	}
	conn.Close()
	_, err = d.Dial("tcp", forbidden.Addr().String())
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "refusing to connect to 127.0.0.1") {
		t.Fatalf("dial 127.0.0.1 = %v, want a policy refusal", err)
	}

	for _, addr := range []string{"[::1]:22", "[::ffff:10.1.1.1]:443", "169.254.169.254:80", "not-an-address"} {
		if err := p.DialControl("tcp", addr, nil); !errors.Is(err, ErrRefused) {
			t.Errorf("DialControl(%q) = %v, want refusal", addr, err)
		}
	}
	if err := p.DialControl("tcp", "140.82.112.3:443", nil); err != nil {
		t.Errorf("DialControl(public) = %v", err)
	}
}

func TestDialContextChecksEachResolution(t *testing.T) {
	allowed := listen(t, "127.0.0.2:0")
	_, port, _ := net.SplitHostPort(allowed.Addr().String())
	// The host is admitted on the first lookup and rebinds to 127.0.0.1
	// on the next: the Check passes, the connection must not.
	dns := &fakeResolver{answers: map[string][][]string{"git.test": {{"127.0.0.2"}, {"127.0.0.1"}}}, calls: map[string]int{}}
	p := Policy{Resolver: dns, AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}

	u, err := Parse("http://git.test:" + port + "/a/b.git")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(context.Background(), u); err != nil {
		t.Fatalf("Check on the first answer: %v", err)
	}
	_, err = p.DialContext(context.Background(), "tcp", net.JoinHostPort("git.test", port))
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("DialContext after rebinding = %v, want refusal naming 127.0.0.1", err)
	}

	// An admitted host connects.
	dns.answers["ok.test"] = [][]string{{"127.0.0.2"}}
	conn, err := p.DialContext(context.Background(), "tcp", net.JoinHostPort("ok.test", port))
	if err != nil {
		t.Fatalf("DialContext(ok.test): %v", err)
	}
	conn.Close()
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}
