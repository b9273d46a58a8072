package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// The web view's end-to-end tests drive Debian's Chromium (headless) with
// chromedp against an appstored started in process. Each step keeps a
// screenshot under $APPSTORE_ARTIFACTS/web/<test>/ (default
// <module>/artifacts/web/<test>/, gitignored), with the daemon's log.

// chromium returns the browser to drive: $APPSTORE_CHROMIUM, else chromium
// on PATH, else Debian's /usr/bin/chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("APPSTORE_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/chromium"); serr == nil {
			return "/usr/bin/chromium"
		}
	}
	testenv.Require(t, "Chromium (headless browser of the web view tests; apt-get install chromium)", err)
	return p
}

// artifacts returns the directory of this test's screenshots and logs.
func artifacts(t *testing.T) string {
	t.Helper()
	base := os.Getenv("APPSTORE_ARTIFACTS")
	if base == "" {
		base = filepath.Join(testenv.ModuleRoot(t), "artifacts")
	}
	dir := filepath.Join(base, "web", regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("artefacts in %s", dir)
	return dir
}

// startDaemon starts appstored in process on a fresh database (unless cfg
// names one), logging to appstored.log among the artefacts, and shuts it
// down at the end of the test.
func startDaemon(t *testing.T, dir string, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = testenv.Postgres(t)
	}
	d := runDaemon(t, dir, cfg)
	t.Cleanup(func() { stopDaemon(t, d) })
	return d
}

// runDaemon starts appstored with cfg (listening on cfg.Addr, default a
// free port); the caller stops it with stopDaemon.
func runDaemon(t *testing.T, dir string, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "appstored.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	cfg.Logger = slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start appstored: %v", err)
	}
	return d
}

func stopDaemon(t *testing.T, d *daemon.Daemon) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// browser is one headless Chromium tab and the test it serves.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	shot int

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newBrowser starts Chromium with a fresh profile. Its start-up stalls on
// a closed network without the flags that turn off background
// networking, component updates, sync and QUIC.
func newBrowser(t *testing.T, dir string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container: the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// The first Run binds the browser's life to its context: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		testenv.Require(t, "a working Chromium", fmt.Errorf("start %s: %w", chromium(t), err))
	}
	b := &browser{t: t, ctx: ctx, dir: dir}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		<-done
		b.checkConsole()
	})
	return b
}

// checkConsole fails the test for uncaught exceptions and for anything the
// Content-Security-Policy refused; other messages (a refused request the
// test provoked) are logged.
func (b *browser) checkConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		text := fmt.Sprintf("console %s %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text)
		switch {
		case m.IsException():
			b.t.Errorf("uncaught exception in the page: %s", text)
		case strings.Contains(m.Text, "Content Security Policy"):
			b.t.Errorf("the page broke its own Content-Security-Policy: %s", text)
		default:
			b.t.Log(text)
		}
	}
}

// step runs actions with a deadline; a failure keeps a screenshot of the
// page as it was.
func (b *browser) step(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	b.screenshot("FAILED-" + what)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	b.t.Fatalf("%s: %v\nat %s, the page reads:\n%s", what, err, loc, text)
}

// wait polls the page until the JavaScript expression is true.
func (b *browser) wait(what, expr string, timeout time.Duration) {
	b.t.Helper()
	b.step(what, timeout+5*time.Second,
		chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// screenshot keeps the whole page as NN-name.png among the artefacts.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shot++
	p := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot %s", p)
}
