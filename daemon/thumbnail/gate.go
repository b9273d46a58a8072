package thumbnail

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// gate is the browser's only way out: Chromium runs with --proxy-server
// pointing here (loopback included, --proxy-bypass-list=<-loopback>), and
// the gate forwards requests for the app's preview origin straight to its
// container's published port, refusing everything else before a
// connection is made. So a page cannot reach the daemon's API, another
// app or another host, whatever the page tries (fetch, WebSocket, a
// worker, a popup), and the capture's requests never pass through the
// preview proxy: they neither wake the app nor count as activity that
// keeps it awake.
//
// The gate also counts the requests in flight, which tells when the page
// has settled.
type gate struct {
	origin string // host:port of the preview origin, lower-case
	addr   string // 127.0.0.1:<port> of the container
	logger *slog.Logger

	ln  net.Listener
	srv *http.Server
	rp  *httputil.ReverseProxy

	mu       sync.Mutex
	inflight int
	last     time.Time // the last request began or ended
	refused  refusals
	served   int
}

const maxBlockedKept = 20

func startGate(origin, addr string, logger *slog.Logger) (*gate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gate{origin: canonicalHostPort(origin, "http"), addr: addr, logger: logger, ln: ln, last: time.Now()}
	dial := (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	g.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = pr.In.URL.Host
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del("Proxy-Connection")
			pr.Out.Header.Del("Proxy-Authorization")
		},
		Transport: &http.Transport{
			// Whatever the URL says, the connection goes to the container.
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dial(ctx, "tcp", g.addr)
			},
			DisableCompression:    true,
			ResponseHeaderTimeout: time.Minute,
			MaxIdleConnsPerHost:   8,
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

// URL is the proxy address to give Chromium.
func (g *gate) URL() string { return "http://" + g.ln.Addr().String() }

func (g *gate) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := g.srv.Shutdown(ctx); err != nil {
		_ = g.srv.Close()
	}
	if t, ok := g.rp.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// allowed reports whether a request for host (host[:port]) under scheme
// goes to the preview origin.
func (g *gate) allowed(host, scheme string) bool {
	return canonicalHostPort(host, scheme) == g.origin
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		g.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || r.URL.Scheme != "http" || !g.allowed(r.URL.Host, "http") {
		g.block(w, r.Method+" "+r.URL.String())
		return
	}
	g.begin()
	defer g.end()
	g.rp.ServeHTTP(w, r)
}

// tunnel serves CONNECT, which Chromium uses for WebSockets (and HTTPS)
// through a proxy: only to the preview origin, spliced to the container.
func (g *gate) tunnel(w http.ResponseWriter, r *http.Request) {
	if !g.allowed(r.Host, "http") {
		g.block(w, "CONNECT "+r.Host)
		return
	}
	g.begin()
	g.end() // a tunnel is activity when it opens, not for as long as it lasts
	up, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		up.Close()
		down.Close()
		return
	}
	go func() {
		defer up.Close()
		defer down.Close()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, buf); done <- struct{}{} }()
		go func() { _, _ = io.Copy(down, up); done <- struct{}{} }()
		<-done
	}()
}

func (g *gate) block(w http.ResponseWriter, what string) {
	g.refused.add(what)
	g.logger.Debug("thumbnail: request refused", "request", what)
	http.Error(w, "appstore's thumbnail browser only reaches the app's preview origin", http.StatusForbidden)
}

func (g *gate) begin() {
	g.mu.Lock()
	g.inflight++
	g.served++
	g.last = time.Now()
	g.mu.Unlock()
}

func (g *gate) end() {
	g.mu.Lock()
	g.inflight--
	g.last = time.Now()
	g.mu.Unlock()
}

// quietSince returns how long no request has been in flight (0 while one
// is).
func (g *gate) quietSince(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inflight > 0 {
		return 0
	}
	return now.Sub(g.last)
}

func (g *gate) stats() (served, refused int) {
	g.mu.Lock()
	served = g.served
	g.mu.Unlock()
	_, refused = g.refused.list()
	return served, refused
}

// refusals keeps the first refused requests ("METHOD URL") and counts all.
type refusals struct {
	mu    sync.Mutex
	first []string
	n     int
}

func (r *refusals) add(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if len(r.first) < maxBlockedKept {
		r.first = append(r.first, what)
	}
}

func (r *refusals) list() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.first...), r.n
}

// canonicalHostPort lower-cases host[:port] and adds the scheme's default
// port, so that "Hello.localhost" and "hello.localhost:80" compare equal.
func canonicalHostPort(hostport, scheme string) string {
	hostport = strings.ToLower(strings.TrimSpace(hostport))
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		var aerr *net.AddrError
		if !errors.As(err, &aerr) {
			return hostport
		}
		host = strings.Trim(hostport, "[]")
		port = "80"
		if scheme == "https" || scheme == "wss" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.TrimSuffix(host, "."), port)
}
