package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a private redis-server for one test, on a loopback port of
// its own, without persistence. It is killed when the test ends.
type RedisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Redis starts a private Redis server for the test and returns its URL,
// redis://127.0.0.1:<port>/0.
func Redis(t testing.TB) string {
	t.Helper()
	return StartRedis(t).URL()
}

// StartRedis starts a private Redis server for the test; Stop and Start let a
// test take it away and bring it back on the same address.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	Require(t, "redis-server", err)
	r := &RedisServer{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(r.kill)
	// A free port found by listening on :0 can be taken by someone else before
	// redis binds it: then try another.
	var lastErr error
	for range 5 {
		r.port, err = freePort()
		if err != nil {
			t.Fatal(err)
		}
		if lastErr = r.start(); lastErr == nil {
			return r
		}
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

// URL returns redis://127.0.0.1:<port>/0.
func (r *RedisServer) URL() string { return "redis://" + r.Addr() + "/0" }

// Addr returns 127.0.0.1:<port>.
func (r *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and waits
// until it has exited. Its data is gone: it has no persistence.
func (r *RedisServer) Stop() {
	r.t.Helper()
	if err := r.stop(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it.
func (r *RedisServer) Kill() {
	r.t.Helper()
	if err := r.stop(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
}

// Start starts the server again on the same port after Stop or Kill.
func (r *RedisServer) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("restart redis-server on %s: %v", r.Addr(), err)
	}
}

func (r *RedisServer) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return fmt.Errorf("redis-server on %s is already running", r.Addr())
	}
	logPath := filepath.Join(r.dir, "redis.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fi, _ := logf.Stat()
	logStart := fi.Size()
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", r.dir,
		"--daemonize", "no",
		"--logfile", "",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := redisPing(r.Addr()); err == nil {
			r.cmd, r.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited: %s", tailFrom(logPath, logStart))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server did not answer PING on %s within 15s: %s", r.Addr(), tailFrom(logPath, logStart))
		}
	}
}

func (r *RedisServer) stop(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd, r.done = nil, nil
	return nil
}

func (r *RedisServer) kill() { _ = r.stop(syscall.SIGKILL) }

// redisPing sends PING in the inline protocol and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	addr, err := freeTCPAddr()
	if err != nil {
		return 0, err
	}
	return addr.Port, nil
}

func tailFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if offset > int64(len(b)) {
		offset = 0
	}
	b = b[offset:]
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(no output)"
	}
	return s
}
