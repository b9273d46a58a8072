package scripts

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/daemon/localpg"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestDemo runs demo.sh as `make demo` does, twice: appstored comes up on the
// embedded PostgreSQL, the example apps are registered (the second time they
// are already there), and Ctrl-C stops the daemon cleanly.
func TestDemo(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	_, err := exec.LookPath("git")
	testenv.Require(t, "git", err)
	root, data := demoRoot(t)
	apps := filepath.Join(root, "apps")
	for _, name := range []string{"hello", "board"} {
		gitRepo(t, filepath.Join(apps, name))
	}
	addr := freeAddr(t)

	first := runDemo(t, root, addr, data, apps)
	for _, want := range []string{"registered " + filepath.Join(apps, "board"), "registered " + filepath.Join(apps, "hello"), "stopping appstored"} {
		if !strings.Contains(first, want) {
			t.Errorf("first run: no %q in\n%s", want, first)
		}
	}
	second := runDemo(t, root, addr, data, apps)
	for _, want := range []string{filepath.Join(apps, "hello") + " is already registered", "stopping appstored"} {
		if !strings.Contains(second, want) {
			t.Errorf("second run: no %q in\n%s", want, second)
		}
	}
	for _, out := range []string{first, second} {
		for _, slug := range []string{"hello", "board"} {
			if !strings.Contains(out, "\n"+slug+"\t") {
				t.Errorf("appstore list does not show %s:\n%s", slug, out)
			}
		}
	}
}

// runDemo starts demo.sh, waits until it says to press Ctrl-C, sends SIGINT,
// and checks that it exits 0 with the daemon gone.
// demoRoot gives demo.sh what it works from, a repository root: the script
// in scripts/ and the binaries in bin/. data is the demo's data directory;
// its embedded cluster is removed when the test ends.
func demoRoot(t *testing.T) (root, data string) {
	t.Helper()
	root = t.TempDir()
	for _, d := range []string{"scripts", "bin"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile("demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	writeScript(t, filepath.Join(root, "scripts", "demo.sh"), string(src))
	for _, name := range []string{"appstore", "appstored"} {
		if err := os.Symlink(testenv.Binary(t, "./cmd/"+name), filepath.Join(root, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	data = filepath.Join(root, ".demo")
	t.Cleanup(func() {
		// appstored keeps its embedded cluster in <data>/postgres; as root that
		// may live under /var/lib/appstore/pg, which t.TempDir does not remove.
		_ = localpg.Remove(context.Background(), localpg.Options{DataDir: filepath.Join(data, "postgres")})
	})
	return root, data
}

func runDemo(t *testing.T, root, addr, data, apps string) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "demo.sh"))
	cmd.Env = append(os.Environ(), "APPSTORE_DEMO_ADDR="+addr, "APPSTORE_DEMO_DATA="+data, "APPSTORE_DEMO_APPS="+apps)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	defer cmd.Process.Kill()

	var out strings.Builder
	prompt := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		said := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if !said && strings.Contains(sc.Text(), "press Ctrl-C") {
				said = true
				close(prompt)
			}
		}
	}()
	select {
	case <-prompt:
	case err := <-exited:
		<-copied
		t.Fatalf("demo.sh exited (%v) before it was up:\n%s", err, out.String())
	case <-time.After(3 * time.Minute):
		t.Fatal("demo.sh did not come up in 3 minutes")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		<-copied
		if err != nil {
			t.Fatalf("demo.sh after Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("demo.sh did not stop after Ctrl-C")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something still listens on %s after the demo stopped", addr)
	}
	if _, err := os.Stat(filepath.Join(data, "appstored.pid")); !os.IsNotExist(err) {
		t.Errorf("appstored.pid left behind: %v", err)
	}
	return out.String()
}

func gitRepo(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeScript(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nEXPOSE 8080\n")
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "."},
		{"-c", "user.name=demo", "-c", "user.email=demo@example.com", "commit", "-q", "-m", "init"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
