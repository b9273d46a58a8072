package testenv

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
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
