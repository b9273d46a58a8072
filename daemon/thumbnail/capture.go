// Package thumbnail takes the screenshots that app cards show: a headless
// Chromium, driven with chromedp, opens a running app's preview once its
// launch first answers, waits for the page to settle, and keeps a
// card-sized WebP (and one twice that size) of a 1280×800 window.
//
// The browser is started for each capture with a fresh profile and no
// credentials of the daemon, and every request it makes goes through a
// gate (an HTTP proxy in this process) that reaches only the app's
// preview origin, forwarded straight to the app's container: the page
// cannot reach the daemon's API or any other host, and the capture never
// passes through the preview proxy, so it neither wakes an app nor keeps
// it awake. Inside the browser, the Fetch domain refuses requests for any
// other origin too (a second wall, and the list of what was refused);
// downloads, popups and permission prompts are denied. Captures run one at
// a time, within a deadline, and the browser's processes are killed when
// they use more memory than allowed.
package thumbnail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"golang.org/x/image/webp"
)

// Window is the size of the browser window a page is captured in; the
// thumbnails are a quarter (Width) and half (Width2x) of it.
const (
	WindowWidth  = 1280
	WindowHeight = 800
	Width        = WindowWidth / 4
	Height       = WindowHeight / 4
	Width2x      = Width * 2
	Height2x     = Height * 2
	// ContentType is the format of both images.
	ContentType = "image/webp"
)

// Defaults of Options.
const (
	DefaultLoadTimeout = 15 * time.Second
	DefaultQuietFor    = 500 * time.Millisecond
	DefaultQuietMax    = 5 * time.Second
	DefaultMaxMemory   = 1 << 30
	webpQuality        = 80
)

// Options configure a Browser. Zero values take the defaults.
type Options struct {
	// Chromium is the browser's executable; "" looks for chromium,
	// chromium-browser, google-chrome and google-chrome-stable on PATH.
	Chromium string
	Logger   *slog.Logger
	// LoadTimeout bounds the wait for the page's load event after the
	// navigation starts (default 15s). A page that does not load in time
	// gets no thumbnail.
	LoadTimeout time.Duration
	// QuietFor is how long the page must make no request after its load
	// event to count as settled (default 500ms); QuietMax bounds that
	// wait (default 5s): a page that polls for ever is captured then.
	QuietFor time.Duration
	QuietMax time.Duration
	// MaxMemory bounds the memory (PSS) of the browser's processes
	// together (default 1 GiB); over it the browser is killed.
	MaxMemory int64
}

func (o Options) withDefaults() Options {
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = DefaultLoadTimeout
	}
	if o.QuietFor <= 0 {
		o.QuietFor = DefaultQuietFor
	}
	if o.QuietMax <= 0 {
		o.QuietMax = DefaultQuietMax
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Browser takes screenshots, one at a time.
type Browser struct {
	opts Options
	path string
	mu   sync.Mutex
}

// FindChromium returns path if it names an executable, else the first of
// chromium, chromium-browser, google-chrome and google-chrome-stable on
// PATH.
func FindChromium(path string) (string, error) {
	if path != "" {
		p, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("--chromium %s: %w", path, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium on PATH (install chromium, or give --chromium PATH)")
}

// New finds the browser. It does not start it: each capture does.
func New(opts Options) (*Browser, error) {
	opts = opts.withDefaults()
	path, err := FindChromium(opts.Chromium)
	if err != nil {
		return nil, err
	}
	return &Browser{opts: opts, path: path}, nil
}

// Path is the browser's executable.
func (b *Browser) Path() string { return b.path }

// Target is the page to capture.
type Target struct {
	// URL is the app's preview URL as a person opens it
	// (http://<slug>.localhost:7070/): the page's origin and Host.
	URL string
	// Addr is where the app actually listens (127.0.0.1:<published
	// port>); every request for URL's origin goes there.
	Addr string
}

// Shot is a captured page.
type Shot struct {
	Image   []byte // Width×Height, ContentType
	Image2x []byte // Width2x×Height2x
	// Requests is how many requests reached the app. Blocked lists the
	// first requests of the page refused in the browser ("GET
	// http://127.0.0.1:7070/api/v1/…") and NumBlocked counts them all;
	// Refused counts the requests the gate refused (those of the page
	// that got past the browser's check, none so far, and the browser's
	// own, such as its update checks).
	Requests   int
	Blocked    []string
	NumBlocked int
	Refused    int
	Took       time.Duration
}

// Failure reasons of an *Error.
const (
	ReasonUnsettled = "unsettled" // the page did not load within LoadTimeout
	ReasonCrashed   = "crashed"   // the browser or the page's renderer died
	ReasonMemory    = "memory"    // killed for using more than MaxMemory
	ReasonLoad      = "load"      // the navigation failed (refused, reset)
	ReasonBrowser   = "browser"   // the browser did not start or misbehaved
)

// Error is a capture that failed; Reason is one of the Reason constants.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func failf(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Capture opens the target in a fresh browser and returns its screenshots.
// It returns within about LoadTimeout + QuietMax + 20 s (the browser's
// start and the screenshots), or when ctx ends.
func (b *Browser) Capture(ctx context.Context, t Target) (*Shot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	began := time.Now()
	u, err := url.Parse(t.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, failf(ReasonBrowser, "capture %q: want an http:// preview URL", t.URL)
	}
	g, err := startGate(u.Host, t.Addr, b.opts.Logger)
	if err != nil {
		return nil, failf(ReasonBrowser, "start the capture's proxy: %w", err)
	}
	defer g.close()

	profile, err := os.MkdirTemp("", "appstore-thumbnail-")
	if err != nil {
		return nil, failf(ReasonBrowser, "browser profile: %w", err)
	}
	defer os.RemoveAll(profile)

	// The whole capture, browser start included, has one deadline; when it
	// passes, the browser is killed.
	deadline := 10*time.Second + b.opts.LoadTimeout + b.opts.QuietMax + 10*time.Second
	ctx, cancel := context.WithTimeoutCause(ctx, deadline, failf(ReasonUnsettled, "the capture took longer than %v", deadline))
	defer cancel()
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, b.flags(g.URL(), profile)...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(func(string, ...any) {}), chromedp.WithErrorf(func(string, ...any) {}))
	defer cancelBrowser()

	// Start the browser and its tab.
	if err := chromedp.Do(bctx); err != nil {
		return nil, b.cause(ctx, failf(ReasonBrowser, "start %s: %w", b.path, err))
	}
	if p := chromedp.FromContext(bctx).Browser.Process(); p != nil {
		go watchMemory(ctx, p.Pid, b.opts.MaxMemory, func(used int64) {
			abort(failf(ReasonMemory, "the browser used %s, more than the %s allowed, and was stopped", formatBytes(used), formatBytes(b.opts.MaxMemory)))
		})
	}
	go func() {
		for ev, err := range chromedp.Events(bctx, inspector.TargetCrashed) {
			if err != nil {
				return
			}
			_ = ev
			abort(failf(ReasonCrashed, "the page's renderer crashed"))
			return
		}
	}()

	// Inside the browser: anything not for the preview origin fails
	// before it reaches the network.
	var pageBlocked refusals
	paused := chromedp.Events(bctx, fetch.RequestPaused)
	if _, err := chromedp.Call(bctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		return nil, b.cause(ctx, failf(ReasonBrowser, "intercept requests: %w", err))
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if ru, err := url.Parse(ev.Request.URL); err == nil && (ru.Scheme == "http" || ru.Scheme == "ws") && g.allowed(ru.Host, "http") {
				_, _ = chromedp.Call(bctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			pageBlocked.add(ev.Request.Method + " " + ev.Request.URL)
			_, _ = chromedp.Call(bctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorDeny}); err != nil {
		return nil, b.cause(ctx, failf(ReasonBrowser, "deny downloads: %w", err))
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(WindowWidth, WindowHeight)); err != nil {
		return nil, b.cause(ctx, failf(ReasonBrowser, "set the window size: %w", err))
	}

	// Navigate without waiting for the load: the wait is ours, bounded.
	nav, err := chromedp.Call(bctx, page.Navigate, page.NavigateParams{URL: t.URL})
	if err != nil {
		return nil, b.cause(ctx, failf(ReasonLoad, "open %s: %w", t.URL, err))
	}
	if nav.ErrorText != "" {
		return nil, b.cause(ctx, failf(ReasonLoad, "open %s: %s", t.URL, nav.ErrorText))
	}
	if err := b.settle(bctx, g); err != nil {
		return nil, b.cause(ctx, err)
	}

	shot := &Shot{}
	for _, s := range []struct {
		scale float64
		w, h  int
		out   *[]byte
	}{{0.25, Width, Height, &shot.Image}, {0.5, Width2x, Height2x, &shot.Image2x}} {
		img, err := b.screenshot(bctx, s.scale, s.w, s.h)
		if err != nil {
			return nil, b.cause(ctx, err)
		}
		*s.out = img
	}
	shot.Requests, shot.Refused = g.stats()
	shot.Blocked, shot.NumBlocked = pageBlocked.list()
	shot.Took = time.Since(began)
	return shot, nil
}

// cause prefers the reason the capture was aborted (memory, a crash, the
// deadline) over the error an interrupted call returned.
func (b *Browser) cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		var ce *Error
		if errors.As(c, &ce) {
			return ce
		}
	}
	return err
}

// settle waits for the load event, then for the network to be quiet.
func (b *Browser) settle(ctx context.Context, g *gate) error {
	loadBy := time.Now().Add(b.opts.LoadTimeout)
	for {
		loadCtx, cancel := context.WithTimeout(ctx, time.Second)
		state, err := chromedp.Run(loadCtx, chromedp.Evaluate[string](`document.readyState`))
		cancel()
		if err == nil && state == "complete" {
			break
		}
		if ctx.Err() != nil {
			return failf(ReasonCrashed, "the browser went away while the page loaded: %v", context.Cause(ctx))
		}
		if time.Now().After(loadBy) {
			return failf(ReasonUnsettled, "the page did not finish loading within %v", b.opts.LoadTimeout)
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return failf(ReasonCrashed, "the browser went away while the page loaded")
		}
	}
	quietBy := time.Now().Add(b.opts.QuietMax)
	for g.quietSince(time.Now()) < b.opts.QuietFor && time.Now().Before(quietBy) {
		if !sleep(ctx, 50*time.Millisecond) {
			return failf(ReasonCrashed, "the browser went away while the page settled")
		}
	}
	// Two animation frames: what the last script did is painted.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`,
		chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil && ctx.Err() != nil {
		return failf(ReasonCrashed, "the browser went away while the page settled")
	}
	return nil
}

func (b *Browser) screenshot(ctx context.Context, scale float64, w, h int) ([]byte, error) {
	q := int64(webpQuality)
	res, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:  page.CaptureScreenshotFormatWebp,
		Quality: &q,
		Clip:    &page.Viewport{X: 0, Y: 0, Width: WindowWidth, Height: WindowHeight, Scale: scale},
	})
	if err != nil {
		return nil, failf(ReasonCrashed, "screenshot: %w", err)
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(res.Data))
	if err != nil {
		return nil, failf(ReasonBrowser, "the browser's screenshot is not a WebP image: %w", err)
	}
	if cfg.Width != w || cfg.Height != h {
		return nil, failf(ReasonBrowser, "the browser's screenshot is %d×%d, not %d×%d", cfg.Width, cfg.Height, w, h)
	}
	return res.Data, nil
}

// flags are Chromium's command line: headless, no GPU, nothing of its own
// on the network, a fresh profile, every request through the gate.
func (b *Browser) flags(proxy, profile string) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(b.path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(WindowWidth, WindowHeight),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		// Every request through the gate, loopback included (Chromium
		// sends loopback past a proxy unless told not to).
		chromedp.ProxyServer(proxy),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		// No name resolves inside the browser (the gate resolves
		// nothing either: it dials the container), and WebRTC sends no
		// UDP around the proxy.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		chromedp.Flag("deny-permission-prompts", true),
		chromedp.Flag("block-new-web-contents", true),
		chromedp.Flag("js-flags", "--max-old-space-size=512"),
		chromedp.Flag("renderer-process-limit", "2"),
	}
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to start as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	return opts
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}

// Summary says in a line what a shot was, for logs.
func (s *Shot) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d refused in the page, %d by the gate, %d+%d bytes, %v", s.Requests, s.NumBlocked, s.Refused, len(s.Image), len(s.Image2x), s.Took.Round(time.Millisecond))
	return b.String()
}
