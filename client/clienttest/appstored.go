package clienttest

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
)

// Appstored is a real appstored process started by a test.
type Appstored struct {
	// URL is the daemon's root URL.
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// StartAppstored runs the appstored binary bin (built by the test, e.g.
// with testenv.Binary) on a free loopback port with args (say
// "--database-url", testenv.Postgres(t)), waits until /readyz answers 200,
// and stops it with SIGTERM when the test ends. Its output is in Logs and
// is printed if the test fails.
func StartAppstored(t testing.TB, bin string, args ...string) *Appstored {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	d := &Appstored{URL: "http://" + addr, logs: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"--addr", addr}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start appstored: %v", err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("appstored output:\n%s", d.logs)
		}
	})

	c := &client.Client{BaseURL: d.URL}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Ready(ctx)
		cancel()
		if err == nil {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("appstored exited before it was ready (%v):\n%s", d.cmd.ProcessState, d.logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("appstored not ready after 90s: %v\n%s", err, d.logs)
		}
	}
}

// Client returns a client of the daemon.
func (d *Appstored) Client() *client.Client { return &client.Client{BaseURL: d.URL} }

// Logs returns what the daemon has written so far.
func (d *Appstored) Logs() string { return d.logs.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
