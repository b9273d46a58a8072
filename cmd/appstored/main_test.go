package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type proc struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// startBinary runs the real appstored and waits until /healthz answers.
func startBinary(t *testing.T, bin, addr string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, append([]string{"--addr", addr}, args...)...), logs: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
		}
	})
	c := &client.Client{BaseURL: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Health(ctx)
		cancel()
		if err == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("appstored exited before serving:\n%s", p.logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("appstored not healthy after 60s: %v\n%s", err, p.logs)
		}
	}
}

// wait waits for the process to exit.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("appstored did not exit\n%s", p.logs)
	}
}

// TestKilledDaemonRestartsWithNothingLost covers the embedded default end to
// end: SIGKILL leaves the managed PostgreSQL running (or half-dead); the next
// appstored on the same data directory adopts or recovers it.
func TestKilledDaemonRestartsWithNothingLost(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	bin := testenv.Binary(t, "./cmd/appstored")
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()

	addr := freeAddr(t)
	p := startBinary(t, bin, addr, "--data-dir", dataDir)
	c := &client.Client{BaseURL: "http://" + addr}
	for i := range 3 {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: fmt.Sprintf("https://github.com/acme/app%d.git", i)}); err != nil {
			t.Fatalf("add: %v\n%s", err, p.logs)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)

	addr = freeAddr(t)
	p = startBinary(t, bin, addr, "--data-dir", dataDir)
	c = &client.Client{BaseURL: "http://" + addr}
	list, err := c.Repositories(ctx, client.ListRepositoriesOptions{})
	if err != nil {
		t.Fatalf("list after restart: %v\n%s", err, p.logs)
	}
	if len(list.Repositories) != 3 {
		t.Fatalf("after SIGKILL and restart: %d repositories, want 3\n%s", len(list.Repositories), p.logs)
	}

	// A clean stop exits 0 and stops the embedded PostgreSQL too.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, p.logs)
	}
	if !strings.Contains(p.logs.String(), "appstored stopped") {
		t.Errorf("no clean stop in the log\n%s", p.logs)
	}
	m := regexp.MustCompile(`PostgreSQL ready.* pid=(\d+)`).FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no PostgreSQL pid in the log\n%s", p.logs)
	}
	pgPID, _ := strconv.Atoi(m[1])
	if alive(pgPID) {
		t.Errorf("embedded PostgreSQL (pid %d) still running after appstored stopped", pgPID)
	}
}

// alive reports whether pid runs and is not a zombie (in a container, pid 1
// may never reap the postmaster that pg_ctl detached).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestFlagsAndEnv(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "appstored ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"--bogus"}, &out, &errOut); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	t.Setenv("APPSTORE_SYNC_INTERVAL", "soon")
	errOut.Reset()
	if code := run([]string{}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "APPSTORE_SYNC_INTERVAL") {
		t.Errorf("bad env: exit %d, stderr %q", code, errOut.String())
	}
}
