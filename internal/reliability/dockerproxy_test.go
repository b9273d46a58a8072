package reliability

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/appstore-dev/appstore/internal/testenv"
)

// dockerProxy stands between appstored and the Docker engine: a unix socket
// that forwards every connection to the real engine's socket. Cut closes
// the socket and every connection through it, which is what appstored sees
// when dockerd stops (connection refused, streams cut off); Restore brings
// it back on the same path, as a restarted dockerd would.
//
// This simulates an engine restart without restarting the engine, which is
// shared with every other test on the machine (and in CI). What it does not
// simulate: containers dying with the engine (with live-restore off, a real
// restart stops them; the runner then records their deaths, which its own
// tests cover with containers killed behind its back).
type dockerProxy struct {
	t      testing.TB
	path   string // the socket appstored uses
	target string // the engine's socket

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// newDockerProxy starts a proxy to the engine at DOCKER_HOST (a unix
// socket; the default /var/run/docker.sock). DOCKER_HOST=p.host() points a
// process at it.
func newDockerProxy(t testing.TB) *dockerProxy {
	t.Helper()
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		u, err := url.Parse(h)
		if err != nil || u.Scheme != "unix" {
			testenv.Require(t, "a Docker engine on a unix socket", fmt.Errorf("the Docker proxy needs one, DOCKER_HOST is %q", h))
		}
		target = u.Path
	}
	// A short directory: unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "dproxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &dockerProxy{t: t, path: filepath.Join(dir, "docker.sock"), target: target, conns: map[net.Conn]bool{}}
	p.Restore()
	t.Cleanup(p.Cut)
	return p
}

// host is the DOCKER_HOST value of the proxy.
func (p *dockerProxy) host() string { return "unix://" + p.path }

// Restore listens again (a no-op while listening).
func (p *dockerProxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	_ = os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatalf("docker proxy: %v", err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.serve(ln)
}

// Cut stops listening, removes the socket and closes every connection.
func (p *dockerProxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
		_ = os.Remove(p.path)
	}
	p.wg.Wait()
}

func (p *dockerProxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("unix", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			var both sync.WaitGroup
			both.Add(2)
			go func() { defer both.Done(); pipe(up, c) }()
			go func() { defer both.Done(); pipe(c, up) }()
			both.Wait()
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, up)
			p.mu.Unlock()
			c.Close()
			up.Close()
		}()
	}
}

// track registers a connection pair, unless the proxy was cut meanwhile.
func (p *dockerProxy) track(c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		up.Close()
		return false
	}
	p.conns[c], p.conns[up] = true, true
	return true
}

// pipe copies until src ends, then half-closes dst so that the other
// direction can still finish (an HTTP response after the request body).
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
