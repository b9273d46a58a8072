package gitserver

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Server serves repositories over one protocol on 127.0.0.1. Repositories
// are published as symlinks "<Name>.git" under one project root, so the
// repositories are served in place and later commits are visible at once.
type Server struct {
	// Base is the URL prefix of every repository ("http://127.0.0.1:port"
	// or "git://127.0.0.1:port"); Base+"/x.git" names a missing one.
	Base string
	// Root is the directory the server exports.
	Root string

	mu sync.Mutex
	t  testing.TB
}

// URL returns the clone URL of repo on this server. The repository must
// have been given to HTTP/Daemon or Add.
func (s *Server) URL(repo *Repo) string {
	return s.Base + "/" + repo.Name + ".git"
}

// Add publishes more repositories on a running server.
func (s *Server) Add(repos ...*Repo) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range repos {
		link := filepath.Join(s.Root, r.Name+".git")
		if target, err := os.Readlink(link); err == nil {
			if target == r.Dir {
				continue
			}
			s.t.Fatalf("gitserver: two repositories named %q on one server", r.Name)
		}
		if err := os.Symlink(r.Dir, link); err != nil {
			s.t.Fatalf("gitserver: %v", err)
		}
	}
}

func newServer(t testing.TB, repos []*Repo) *Server {
	t.Helper()
	RequireGit(t)
	s := &Server{Root: t.TempDir(), t: t}
	s.Add(repos...)
	return s
}

// HTTP serves repos over smart HTTP: git-http-backend behind net/http/cgi,
// the same CGI program a production Apache or nginx setup runs.
func HTTP(t testing.TB, repos ...*Repo) *Server {
	t.Helper()
	s := newServer(t, repos)
	srv := httptest.NewServer(HTTPHandler(t, s.Root))
	t.Cleanup(srv.Close)
	s.Base = srv.URL
	return s
}

// HTTPHandler is the smart HTTP handler for every repository under root,
// for tests that put it behind their own server or middleware (a stalling
// or redirecting front, a request counter).
func HTTPHandler(t testing.TB, root string) http.Handler {
	t.Helper()
	backend := filepath.Join(execPath(t), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("gitserver: %v: install git's http-backend (Debian package git)", err)
	}
	env := append(Env(), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1")
	return &cgi.Handler{
		Path: backend,
		Root: "/",
		Env:  env,
		// git-http-backend reports failures on stderr; keep them in the
		// test log rather than the process's stderr.
		Stderr: testWriter{t},
		// A client that hangs up mid-pack (a size or time limit at work)
		// makes the handler log a broken pipe: keep it in the test log.
		Logger: log.New(testWriter{t}, "cgi: ", 0),
	}
}

// Daemon serves repos over the git:// protocol with git daemon. Each
// connection accepted on 127.0.0.1 is handed to `git daemon --inetd`, which
// speaks the real protocol; this needs no free-port guess and is ready as
// soon as Daemon returns.
func Daemon(t testing.TB, repos ...*Repo) *Server {
	t.Helper()
	s := newServer(t, repos)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gitserver: listen: %v", err)
	}
	s.Base = "git://" + ln.Addr().String()
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				select {
				case <-done:
				default:
					t.Errorf("gitserver: accept: %v", err)
				}
				return
			}
			wg.Go(func() { s.serveInetd(t, conn, done) })
		}
	})
	return s
}

func (s *Server) serveInetd(t testing.TB, conn net.Conn, done <-chan struct{}) {
	defer conn.Close()
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Errorf("gitserver: %v", err)
		return
	}
	defer f.Close()
	cmd := exec.Command("git", "daemon", "--inetd", "--export-all",
		"--base-path="+s.Root, "--informative-errors")
	cmd.Env = Env()
	cmd.Stdin, cmd.Stdout = f, f
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Errorf("gitserver: git daemon: %v", err)
		return
	}
	exited := make(chan struct{})
	go func() {
		select {
		case <-done:
			_ = cmd.Process.Kill()
		case <-exited:
		}
	}()
	_ = cmd.Wait() // a client that hangs up early makes it exit non-zero
	close(exited)
}

func execPath(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("gitserver: git --exec-path: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// testWriter sends a child's stderr to the test log, once per write.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a write after the test ended must not panic the process
	if s := strings.TrimSpace(string(p)); s != "" {
		w.t.Logf("git: %s", s)
	}
	return len(p), nil
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("gitserver %s (root %s)", s.Base, s.Root) }
