package testenv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeAppstored stands in for appstored: it serves /readyz on --addr once
// --ready-after has passed, exits at once with --exit 3, and exits 0 on
// SIGTERM, saying so.
const fakeAppstored = `package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "", "")
	readyAfter := flag.Duration("ready-after", 0, "")
	exit := flag.Int("exit", -1, "")
	flag.Parse()
	if *exit >= 0 {
		fmt.Println("exiting early")
		os.Exit(*exit)
	}
	start := time.Now()
	http.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < *readyAfter {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() { <-stop; fmt.Println("stopped on SIGTERM"); os.Exit(0) }()
	fmt.Println("listening on", *addr)
	fmt.Println(http.ListenAndServe(*addr, nil))
	os.Exit(1)
}
`

func TestStartAppstored(t *testing.T) {
	bin := StaticBinary(t, fakeAppstored)

	d := StartAppstored(t, bin, "--ready-after", "300ms")
	resp, err := http.Get(d.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("StartAppstored returned before /readyz answered 200: %v %v", resp, err)
	}
	resp.Body.Close()
	if d.URL != "http://"+d.Addr || !strings.Contains(d.Logs(), "listening on "+d.Addr) {
		t.Errorf("URL %s, Addr %s, logs %q", d.URL, d.Addr, d.Logs())
	}
	if code := d.ExitCode(); code != -1 {
		t.Errorf("exit code %d while running", code)
	}
	d.Stop()
	if code := d.ExitCode(); code != 0 || !strings.Contains(d.Logs(), "stopped on SIGTERM") {
		t.Errorf("after Stop: exit %d, logs %q", code, d.Logs())
	}

	k := StartAppstored(t, bin)
	k.Kill()
	if code := k.ExitCode(); code != -1 || strings.Contains(k.Logs(), "stopped") {
		t.Errorf("after Kill: exit %d, logs %q", code, k.Logs())
	}
	if _, err := net.Dial("tcp", k.Addr); err == nil {
		t.Error("something still listens after Kill")
	}

	rec := &recordingTB{TB: t}
	StartAppstored(rec, bin, "--exit", "3")
	if !strings.Contains(rec.fatal, "exited before it was ready") || !strings.Contains(rec.fatal, "exiting early") {
		t.Errorf("a daemon that exits at once: %q", rec.fatal)
	}
}

func TestLockedBuffer(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = io.WriteString(&b, "x")
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Errorf("%d bytes, want 800", n)
	}
}

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr %s is not free: %v", addr, err)
	}
	ln.Close()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("FreeAddr %s is not on loopback", addr)
	}
}

// TestEmbeddedClusterIsRemoved: an appstored with its embedded PostgreSQL,
// killed (so its server keeps running), leaves nothing once its test ends:
// no server process, no cluster files, in its data directory or elsewhere.
func TestEmbeddedClusterIsRemoved(t *testing.T) {
	RequirePostgresBinaries(t)
	bin := Binary(t, "./cmd/appstored")
	dataDir := filepath.Join(t.TempDir(), "data")
	var pgdata string
	var pid int
	t.Run("daemon", func(t *testing.T) {
		d := StartAppstored(t, bin, "--data-dir", dataDir, "--roles", "api")
		m := regexp.MustCompile(`PostgreSQL ready.* pid=(\d+)`).FindStringSubmatch(d.Logs())
		if m == nil {
			t.Fatalf("no PostgreSQL pid in the log:\n%s", d.Logs())
		}
		pid, _ = strconv.Atoi(m[1])
		pgdata = filepath.Join(dataDir, "postgres", "data")
		if _, err := os.Stat(pgdata); err != nil {
			t.Fatalf("the cluster is not in the data directory: %v", err)
		}
		d.Kill() // the cluster outlives its daemon, until the test ends
		if syscall.Kill(pid, 0) != nil {
			t.Fatalf("PostgreSQL %d died with its daemon: nothing left to check", pid)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(b), ") Z ") {
			break // a zombie: dead, waiting for its parent
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL %d of the finished test still runs", pid)
		}
	}
	if _, err := os.Stat(filepath.Dir(pgdata)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the cluster of the finished test is still there: %v", err)
	}
	if ents, _ := os.ReadDir("/var/lib/appstore/pg"); len(ents) > 0 {
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join("/var/lib/appstore/pg", e.Name(), "datadir")); err == nil && strings.TrimSpace(string(b)) == dataDir {
				t.Errorf("a cluster home for %s under /var/lib/appstore/pg", dataDir)
			}
		}
	}
}
