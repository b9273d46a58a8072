package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/daemon/localpg"
)

// LockedBuffer is a buffer that a running process or goroutine writes while
// the test reads it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FreeAddr returns a loopback address, "127.0.0.1:<port>", whose port was
// free a moment ago: for a server the test starts, or as an address where
// nothing listens.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr.String()
}

func freeTCPAddr() (*net.TCPAddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr), nil
}

// Appstored is an appstored process that a test started, so that it can
// kill, stop and restart it as an operator or a crash would.
type Appstored struct {
	// URL is the daemon's root URL, http://127.0.0.1:<port>; Addr is its
	// address alone.
	URL, Addr string

	t    testing.TB
	cmd  *exec.Cmd
	logs *LockedBuffer
	done chan struct{} // closed when the process has exited
}

// appstoredStopWait is how long a stop waits for appstored to exit after
// SIGTERM: a runner stops its containers first.
const appstoredStopWait = time.Minute

// StartAppstored runs the appstored binary bin (built by Binary(t,
// "./cmd/appstored")) on a free loopback address with args (say
// "--database-url", Postgres(t)) and waits until /readyz answers 200. When
// the test ends it stops the process that still runs (SIGTERM, SIGKILL
// after a minute) and, if the test failed, logs its output.
func StartAppstored(t testing.TB, bin string, args ...string) *Appstored {
	t.Helper()
	addr := FreeAddr(t)
	d := &Appstored{URL: "http://" + addr, Addr: addr, t: t, logs: &LockedBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"--addr", addr}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start appstored: %v", err)
		return nil
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	dataDir := flagValue(args, "--data-dir")
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(appstoredStopWait):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("appstored output:\n%s", d.logs)
		}
		if dataDir != "" && flagValue(args, "--database-url") == "" {
			// The embedded cluster it made (still running after a Kill)
			// goes with the test: nothing is left behind.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := localpg.Remove(ctx, localpg.Options{DataDir: dataDir}); err != nil {
				t.Errorf("remove the embedded PostgreSQL of %s: %v", dataDir, err)
			}
		}
	})

	const within = 90 * time.Second
	deadline := time.Now().Add(within)
	for {
		err := d.ready()
		if err == nil {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("appstored exited before it was ready (%v):\n%s", d.cmd.ProcessState, d.logs)
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("appstored not ready after %s: %v\n%s", within, err, d.logs)
			return nil
		}
	}
}

// flagValue is the value of --name in args ("--name v" or "--name=v"), or "".
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func (d *Appstored) ready() error {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(d.URL + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %s", resp.Status)
	}
	return nil
}

// Logs returns what the daemon has written so far.
func (d *Appstored) Logs() string { return d.logs.String() }

// Kill kills the daemon with SIGKILL, as a crash would, and waits until it
// has exited. What it started (an embedded PostgreSQL, containers) stays
// until the test ends (the embedded PostgreSQL is then removed).
func (d *Appstored) Kill() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	d.Wait(appstoredStopWait)
}

// Stop stops the daemon with SIGTERM, as an operator would; the test fails
// unless it exits within a minute.
func (d *Appstored) Stop() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	d.Wait(appstoredStopWait)
}

// Wait waits until the daemon has exited; the test fails unless it does
// within the time given.
func (d *Appstored) Wait(within time.Duration) {
	d.t.Helper()
	select {
	case <-d.done:
	case <-time.After(within):
		d.t.Fatalf("appstored did not exit within %s:\n%s", within, d.logs)
	}
}

// ExitCode is the daemon's exit status once it has exited (-1 before, or
// when a signal ended it).
func (d *Appstored) ExitCode() int {
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}
