package runner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
)

func TestParseAndFormatBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "1g": 1 << 30, "1GiB": 1 << 30, "1.5GB": 1_500_000_000, "1048576": 1 << 20, " 256 mib ": 256 << 20,
	} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "12 parsecs", "-1MiB", "MiB"} {
		if _, err := ParseBytes(in); err == nil || !strings.Contains(err.Error(), "512MiB") {
			t.Errorf("ParseBytes(%q): %v, want an error with an example", in, err)
		}
	}
	for n, want := range map[int64]string{256 << 20: "256 MiB", 1 << 30: "1 GiB", 1536 << 20: "1.5 GiB", 100: "100 B"} {
		if got := catalog.FormatSize(n); got != want {
			t.Errorf("catalog.FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestResolveProfile(t *testing.T) {
	none := Limits{}
	if p, err := none.resolveProfile("", ""); err != nil || p.Name != "small" {
		t.Errorf("default: %v %v", p, err)
	}
	if p, err := none.resolveProfile("", "Medium"); err != nil || p.Name != "medium" {
		t.Errorf("repository's: %v %v", p, err)
	}
	if p, err := none.resolveProfile("large", "small"); err != nil || p.Name != "large" || p.Memory != 1<<30 || p.CPUs != 2 || p.Pids != 512 {
		t.Errorf("requested: %+v %v", p, err)
	}
	if _, err := none.resolveProfile("huge", ""); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("unknown: %v", err)
	}
	tight := Limits{Memory: 512 << 20, CPUs: 1}
	if _, err := tight.resolveProfile("large", ""); !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), "choose one of small, medium") {
		t.Errorf("over the limits: %v", err)
	}
	// The repository cannot know the limits: its profile is lowered.
	if p, err := tight.resolveProfile("", "large"); err != nil || p.Name != "medium" {
		t.Errorf("repository's profile over the limits: %v %v", p, err)
	}
	if _, err := (Limits{Memory: 64 << 20}).resolveProfile("", ""); err == nil || !strings.Contains(err.Error(), "raise them") {
		t.Errorf("no profile fits: %v", err)
	}
}

func TestPreviewURLs(t *testing.T) {
	cases := []struct {
		domain, base, want string
	}{
		{"localhost", "http://127.0.0.1:7070", "http://dash.localhost:7070/"},
		{"apps.example.com", "http://127.0.0.1:80", "http://dash.apps.example.com/"},
		{"*.apps.example.com", "http://127.0.0.1:7070", "http://dash.apps.example.com:7070/"},
		{"https://apps.example.com", "http://127.0.0.1:7070", "https://dash.apps.example.com/"},
		{"http://apps.test:8443", "http://127.0.0.1:7070", "http://dash.apps.test:8443/"},
	}
	for _, c := range cases {
		pd, err := parsePreviewDomain(c.domain)
		if err != nil {
			t.Fatalf("%q: %v", c.domain, err)
		}
		r := &Runner{preview: pd, cfg: Config{BaseURL: func() string { return c.base }}}
		if got := r.PreviewURL("dash"); got != c.want {
			t.Errorf("%q on %s: %q, want %q", c.domain, c.base, got, c.want)
		}
	}
	for _, bad := range []string{"", "apps.example.com/x", "ftp://apps", "https://apps.example.com/path", "user@host"} {
		if _, err := parsePreviewDomain(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRouteMatchesPreviewHostsAndPaths(t *testing.T) {
	pd, _ := parsePreviewDomain("apps.test")
	r := &Runner{preview: pd}
	cases := map[string]string{ // host + path → slug ("" = not a preview)
		"dash.apps.test/":          "dash",
		"DASH.apps.test:8080/x":    "dash",
		"dash.apps.test./":         "dash",
		"a.b.apps.test/":           "",
		"apps.test/":               "",
		"-x.apps.test/":            "",
		"127.0.0.1:7070/apps/dash": "dash",
		"localhost/apps/dash/x/y":  "dash",
		"evil.com/apps/dash/":      "", // the path fallback keeps the Host check
		"127.0.0.1/apps/":          "",
		"127.0.0.1/api/v1/apps/x":  "",
	}
	for in, want := range cases {
		host, path, _ := strings.Cut(in, "/")
		req := httptest.NewRequest(http.MethodGet, "http://x/"+path, nil)
		req.Host = host
		h := r.Preview(req)
		got := ""
		if ph, ok := h.(*previewHandler); ok {
			got = ph.slug
		}
		if got != want {
			t.Errorf("%s: routed to %q, want %q", in, got, want)
		}
	}
}

func TestRewritesUnderThePathPrefix(t *testing.T) {
	tg := &target{route: &route{addr: "127.0.0.1:32768"}, prefix: "/apps/dash"}
	out := &http.Request{Host: "127.0.0.1:7070"}
	for in, want := range map[string]string{
		"/login":                         "/apps/dash/login",
		"/apps/dash/ok":                  "/apps/dash/ok",
		"relative":                       "relative",
		"http://127.0.0.1:32768/x?y=1":   "/apps/dash/x?y=1",
		"http://127.0.0.1:7070/next":     "/apps/dash/next",
		"https://elsewhere.example.com/": "https://elsewhere.example.com/",
		"//cdn.example.com/x":            "//cdn.example.com/x",
	} {
		if got := rewriteLocation(in, tg, out); got != want {
			t.Errorf("Location %q → %q, want %q", in, got, want)
		}
	}
	host := &target{route: &route{addr: "127.0.0.1:32768"}}
	if got := rewriteLocation("/login", host, out); got != "/login" {
		t.Errorf("host form: %q", got)
	}
	if got := rewriteLocation("http://127.0.0.1:32768/x", host, out); got != "/x" {
		t.Errorf("host form, container address: %q", got)
	}
	if got := rewriteCookiePath("s=1; Path=/; HttpOnly", "/apps/dash"); got != "s=1; Path=/apps/dash/; HttpOnly" {
		t.Errorf("cookie: %q", got)
	}
	if got := rewriteCookiePath("s=1", "/apps/dash"); got != "s=1" {
		t.Errorf("cookie without path: %q", got)
	}
	// An app on the path fallback must not reach cookies of the daemon's
	// origin or of another app: browsers trim the attribute's name and
	// value, and "/apps/dash" is a prefix of "/apps/dash-admin/".
	for _, c := range []string{"s=1; Path =/", "s=1; path= /", "s=1;Path\t=\t/;HttpOnly", "s=1; Path=/apps/dash-admin/", "s=1; Path=/apps/dashx"} {
		got := rewriteCookiePath(c, "/apps/dash")
		path := ""
		for _, p := range strings.Split(got, ";") {
			if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "path") {
				path = strings.TrimSpace(v) // the last one wins, as in browsers
			}
		}
		if path != "/apps/dash" && !strings.HasPrefix(path, "/apps/dash/") {
			t.Errorf("cookie %q → %q: its path %q leaves /apps/dash/", c, got, path)
		}
	}
}

func TestDemuxSplitsStreamsAndLines(t *testing.T) {
	var b bytes.Buffer
	frame := func(stream byte, s string) {
		hdr := []byte{stream, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(s)))
		b.Write(hdr)
		b.WriteString(s)
	}
	frame(1, "one\ntw")
	frame(2, "err\r\n")
	frame(1, "o\nthree")
	var got []string
	err := demux(&b, func(stream string, line []byte) error {
		got = append(got, stream+":"+string(line))
		return nil
	})
	want := "stdout:one stderr:err stdout:two stdout:three"
	if err != nil || strings.Join(got, " ") != want {
		t.Errorf("demux: %q %v, want %q", got, err, want)
	}
}

func TestProbeTellsListeningFromProxyClosing(t *testing.T) {
	ctx := context.Background()
	// What Docker's port proxy does while nothing listens inside: accept
	// and close at once.
	closer, _ := net.Listen("tcp", "127.0.0.1:0")
	defer closer.Close()
	go func() {
		for {
			c, err := closer.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if got := probe(ctx, closer.Addr().String(), "x"); got != probeNone {
		t.Error("a connection closed without a byte counted as ready")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	if got := probe(ctx, u.Host, "x"); got != probeAnswered {
		t.Error("an HTTP server answering 418 is not ready")
	}
	silent, _ := net.Listen("tcp", "127.0.0.1:0")
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { time.Sleep(3 * time.Second); c.Close() }()
		}
	}()
	if got := probe(ctx, silent.Addr().String(), "x"); got != probeHeld {
		t.Error("a TCP server that holds the connection is not seen holding it")
	}
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	if got := probe(ctx, addr, "x"); got != probeNone {
		t.Error("a refused connection counted as ready")
	}
}

func TestRouteTableKeepsRequestTimesAndNewestLaunch(t *testing.T) {
	var rt routeTable
	rt.bySlug = map[string]*route{}
	a := &route{launchID: 1, slug: "dash"}
	rt.set(a)
	rt.set(&route{launchID: 1, slug: "dash"}) // same launch again: kept
	if rt.get("dash") != a {
		t.Fatal("re-adding a route dropped its state")
	}
	now := time.Now()
	if p := rt.pending(now); len(p) != 0 {
		t.Errorf("pending without requests: %v", p)
	}
	a.last.Store(now.Add(-time.Second).UnixNano())
	p := rt.pending(now)
	if len(p) != 1 || !p[1].Equal(time.Unix(0, a.last.Load())) {
		t.Errorf("pending: %v", p)
	}
	rt.flushed(p)
	if p := rt.pending(now); len(p) != 0 {
		t.Errorf("pending after flush: %v", p)
	}
	a.active.Add(1) // a WebSocket open: the app is in use now
	if p := rt.pending(now); !p[1].Equal(now) || !rt.inUse(1) {
		t.Errorf("in use: %v", p)
	}
	rt.set(&route{launchID: 0, slug: "dash"})
	rt.set(&route{launchID: 2, slug: "dash"})
	if rt.get("dash").launchID != 2 {
		t.Error("the newest launch is not routed")
	}
	rt.retain(map[int64]bool{1: true})
	if rt.get("dash") != nil {
		t.Error("retain kept a launch that is not live")
	}
}
