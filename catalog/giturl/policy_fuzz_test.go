package giturl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"unicode"
)

// FuzzParsePolicy feeds arbitrary input through Parse and the policy. It
// holds the properties the daemon relies on: no panic; nothing accepted
// that git could read as an option or that carries control characters;
// CloneURL parses back to the same Key, so a stored URL keeps its
// identity; and the strict policy refuses every local URL and every host
// that resolves to loopback.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		"https://github.com/acme/dash.git",
		"git@github.com:acme/dash.git",
		"ssh://git@host:2222/a/b",
		"git://127.0.0.1:9418/x.git",
		"http://[::1]:8080/x",
		"http://[::ffff:127.0.0.1]/x",
		"[::1]:a/b",
		"git@[fe80::1]:a/b",
		"file:///srv/git/x",
		"/srv/git/x",
		"-uhttps://x/y",
		"https://x/-y",
		"https://h/a/../../b",
		"git+ssh://h/p",
		"HTTPS://H:443/P.GIT/",
		"h:p",
		"h_1.x:~/repo",
		"user@host:/abs/path.git",
		"\thttps://h/a\n",
		"https://h/%2e%2e/x",
		"https://h/a%00b",
	} {
		f.Add(s)
	}
	dns := resolver(map[string][]string{})
	loopback := Policy{Resolver: loopbackResolver{}}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := Parse(raw)
		if err != nil {
			return
		}
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "-") {
			t.Fatalf("Parse(%q) accepted a leading '-'", raw)
		}
		for _, r := range trimmed {
			if unicode.IsControl(r) {
				t.Fatalf("Parse(%q) accepted control character %q", raw, r)
			}
		}
		for _, field := range []string{u.Host, u.User, u.Path, u.Port} {
			if strings.HasPrefix(field, "-") {
				t.Fatalf("Parse(%q) = %+v: a field starts with '-'", raw, u)
			}
			if strings.IndexFunc(field, unicode.IsControl) >= 0 {
				t.Fatalf("Parse(%q) = %+v: a field holds a control character", raw, u)
			}
		}
		clone := u.CloneURL()
		if strings.HasPrefix(clone, "-") {
			t.Fatalf("CloneURL(%q) = %q starts with '-'", raw, clone)
		}
		key, err := Normalize(clone)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its CloneURL %q does not parse: %v", raw, clone, err)
		}
		if key != u.Key() {
			t.Fatalf("Key unstable: Parse(%q).Key() = %q, Normalize(CloneURL = %q) = %q", raw, u.Key(), clone, key)
		}

		ctx := context.Background()
		err = Policy{Resolver: dns}.Check(ctx, u)
		if u.IsLocal() {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("strict policy admitted local URL %q", raw)
			}
			if (Policy{AllowLocal: true}).Check(ctx, u) != nil {
				t.Fatalf("AllowLocal refused %q", raw)
			}
			return
		}
		if a, err := netip.ParseAddr(u.Host); err == nil {
			class, _ := Classify(a)
			if err := (Policy{}).Check(ctx, u); (err == nil) != (class == "") {
				t.Fatalf("Check(%q) = %v for an address classified %q", raw, err, class)
			}
			return
		}
		// Whatever the host name is, if it resolves to loopback it is refused.
		if err := loopback.Check(ctx, u); !errors.Is(err, ErrRefused) {
			t.Fatalf("Check(%q) with a loopback answer = %v, want refusal", raw, err)
		}
	})
}

type loopbackResolver struct{}

func (loopbackResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}
