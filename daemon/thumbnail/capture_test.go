package thumbnail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/image/webp"

	"github.com/appstore-dev/appstore/daemon/thumbnail"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// browser returns a Browser on the test machine's Chromium
// ($APPSTORE_CHROMIUM, else PATH); a missing one skips, or fails with CI=true.
func browser(t *testing.T, opts thumbnail.Options) *thumbnail.Browser {
	t.Helper()
	if opts.Chromium == "" {
		opts.Chromium = os.Getenv("APPSTORE_CHROMIUM")
	}
	if opts.Chromium == "" {
		if _, err := os.Stat("/usr/bin/chromium"); err == nil {
			opts.Chromium = "/usr/bin/chromium"
		}
	}
	b, err := thumbnail.New(opts)
	testenv.Require(t, "Chromium (the thumbnail browser; apt-get install chromium)", err)
	return b
}

// app serves page at / (and more handlers) on loopback, like a container's
// published port, and returns the target a capture of its preview uses.
func app(t *testing.T, mux *http.ServeMux) thumbnail.Target {
	t.Helper()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return thumbnail.Target{URL: "http://shots.localhost:7070/", Addr: srv.Listener.Addr().String()}
}

func page(html string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	})
	return mux
}

// recorder is another host (or the daemon): it counts what reaches it.
type recorder struct {
	srv  *httptest.Server
	hits atomic.Int64
	seen atomic.Value // the last request line
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.hits.Add(1)
		rec.seen.Store(r.Method + " " + r.Host + r.URL.String())
		w.Header().Set("Access-Control-Allow-Origin", "*")
		fmt.Fprint(w, `{"secret":"the daemon's catalog"}`)
	}))
	t.Cleanup(rec.srv.Close)
	// Count connections too: a refused request must not even connect.
	return rec
}

func (rec *recorder) port() string {
	_, p, _ := net.SplitHostPort(rec.srv.Listener.Addr().String())
	return p
}

func decode(t *testing.T, b []byte, w, h int) image.Image {
	t.Helper()
	img, err := webp.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode the thumbnail: %v", err)
	}
	if got := img.Bounds().Size(); got.X != w || got.Y != h {
		t.Fatalf("thumbnail is %v, want %dx%d", got, w, h)
	}
	return img
}

// near reports whether c is within tol of want on every channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) int { return max(int(a>>8)-int(b), int(b)-int(a>>8)) }
	return d(r, want.R) <= tol && d(g, want.G) <= tol && d(b, want.B) <= tol
}

// share is the fraction of the image's pixels near want.
func share(img image.Image, want color.RGBA) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), want, 12) {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

var teal = color.RGBA{0x11, 0x88, 0x77, 0xff}

func TestCaptureShowsThePage(t *testing.T) {
	b := browser(t, thumbnail.Options{})
	tgt := app(t, page(`<!doctype html><html><head><title>shots</title>
<style>html,body{margin:0;height:100%;background:#118877}</style></head>
<body><h1 style="color:#fff;font:48px sans-serif;margin:0;padding:40px">Hello, shots</h1></body></html>`))
	shot, err := b.Capture(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capture: %s", shot.Summary())
	for _, im := range []struct {
		data []byte
		w, h int
	}{{shot.Image, thumbnail.Width, thumbnail.Height}, {shot.Image2x, thumbnail.Width2x, thumbnail.Height2x}} {
		img := decode(t, im.data, im.w, im.h)
		// Most of the page is its background; the heading is white.
		if s := share(img, teal); s < 0.8 {
			t.Errorf("%dx%d: %.0f%% of the pixels are the page's background #118877, want most", im.w, im.h, s*100)
		}
		if !near(img.At(im.w/2, im.h*3/4), teal, 12) {
			t.Errorf("%dx%d: pixel below the heading is %v, want #118877", im.w, im.h, img.At(im.w/2, im.h*3/4))
		}
	}
	if shot.NumBlocked != 0 {
		t.Errorf("refused %v, want nothing refused", shot.Blocked)
	}
}

// A page that tries to reach the daemon's API, another host or another
// app, by every way a page has, reaches none of them: they see no request
// at all. The page still renders (and says so with its colour).
func TestCaptureReachesOnlyThePreviewOrigin(t *testing.T) {
	b := browser(t, thumbnail.Options{})
	daemon := newRecorder(t) // stands for appstored: 127.0.0.1:<port>/api/v1/…
	other := newRecorder(t)  // another host
	ownAPI := atomic.Int64{}
	mux := page(fmt.Sprintf(`<!doctype html><html><head><title>nosy</title>
<style>html,body{margin:0;height:100%%;background:#aa2222}</style>
<link rel="stylesheet" href="http://127.0.0.1:%[1]s/api/v1/style.css">
<script src="http://localhost:%[1]s/api/v1/repositories.js"></script>
</head><body>
<img src="http://other.localhost:%[2]s/pixel.png">
<iframe src="http://127.0.0.1:%[1]s/api/v1/repositories"></iframe>
<script>
const tries = [
  fetch('http://127.0.0.1:%[1]s/api/v1/repositories'),
  fetch('http://localhost:%[1]s/api/v1/events/last'),
  fetch('http://127.0.0.1:%[2]s/other', {mode: 'no-cors'}),
  fetch('http://hello.localhost:%[1]s/'),
  fetch('/api/v1/own'),
  new Promise((ok) => { const ws = new WebSocket('ws://127.0.0.1:%[1]s/api/v1/events'); ws.onerror = ok; ws.onopen = ok; setTimeout(ok, 2000); }),
  new Promise((ok) => { try { navigator.sendBeacon('http://127.0.0.1:%[2]s/beacon', 'x'); } catch (e) {} ok(); }),
  new Promise((ok) => { try { window.open('http://127.0.0.1:%[2]s/popup'); } catch (e) {} ok(); }),
  new Promise((ok) => { try { const w = new Worker(URL.createObjectURL(new Blob(["fetch('http://127.0.0.1:%[1]s/api/v1/worker').finally(() => postMessage(1))"]))); w.onmessage = ok; w.onerror = ok; setTimeout(ok, 2000); } catch (e) { ok(); } }),
];
Promise.allSettled(tries).then(() => { document.body.style.background = '#118877'; });
</script></body></html>`, daemon.port(), other.port()))
	mux.HandleFunc("/api/v1/own", func(w http.ResponseWriter, r *http.Request) {
		ownAPI.Add(1) // the app's own /api/v1 is the app's business
		fmt.Fprint(w, "{}")
	})
	shot, err := b.Capture(context.Background(), app(t, mux))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capture: %s; refused: %v", shot.Summary(), shot.Blocked)
	if n := daemon.hits.Load(); n != 0 {
		t.Errorf("the daemon got %d requests (the last %v), want none", n, daemon.seen.Load())
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the other host got %d requests (the last %v), want none", n, other.seen.Load())
	}
	if ownAPI.Load() != 1 {
		t.Errorf("the app's own /api/v1/own was asked %d times, want 1", ownAPI.Load())
	}
	if shot.NumBlocked < 5 {
		t.Errorf("refused %d requests (%v), want at least the page's 5 direct ones", shot.NumBlocked, shot.Blocked)
	}
	for _, want := range []string{"127.0.0.1:" + daemon.port() + "/api/v1/repositories", "other.localhost:" + other.port()} {
		if !strings.Contains(strings.Join(shot.Blocked, "\n"), want) {
			t.Errorf("refused requests do not name %s: %v", want, shot.Blocked)
		}
	}
	// Every try ended (refused) and the page went on to paint.
	if s := share(decode(t, shot.Image, thumbnail.Width, thumbnail.Height), teal); s < 0.8 {
		t.Errorf("%.0f%% of the thumbnail is the colour the page turns once its tries failed, want most", s*100)
	}
}

// A page whose load never ends leaves no thumbnail, within the bound.
func TestCaptureOfAPageThatNeverSettles(t *testing.T) {
	b := browser(t, thumbnail.Options{LoadTimeout: 2 * time.Second})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux := page(`<!doctype html><title>slow</title><body style="background:#118877"><img src="/never.png">`)
	mux.HandleFunc("/never.png", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	began := time.Now()
	shot, err := b.Capture(context.Background(), app(t, mux))
	took := time.Since(began)
	var ce *thumbnail.Error
	if !errors.As(err, &ce) || ce.Reason != thumbnail.ReasonUnsettled {
		t.Fatalf("capture = %v, %v; want a %q error", shot, err, thumbnail.ReasonUnsettled)
	}
	if !strings.Contains(err.Error(), "did not finish loading within 2s") {
		t.Errorf("error %q does not say what happened", err)
	}
	if took > 15*time.Second {
		t.Errorf("the capture took %v, want it bounded by the load timeout (2s) and the browser's start", took)
	}
}

// A page that eats memory gets the browser killed, not the host.
func TestCaptureStopsABrowserThatUsesTooMuchMemory(t *testing.T) {
	b := browser(t, thumbnail.Options{MaxMemory: 600 << 20, LoadTimeout: 20 * time.Second})
	mux := page(`<!doctype html><title>hog</title><body><script>
const hog = [];
for (let i = 0; i < 400; i++) { const a = new Uint8Array(8 << 20); a.fill(i); hog.push(a); }
</script>`)
	_, err := b.Capture(context.Background(), app(t, mux))
	var ce *thumbnail.Error
	if !errors.As(err, &ce) || (ce.Reason != thumbnail.ReasonMemory && ce.Reason != thumbnail.ReasonCrashed) {
		t.Fatalf("capture error = %v; want the browser stopped for its memory", err)
	}
	t.Logf("capture: %v (%s)", err, ce.Reason)
}
