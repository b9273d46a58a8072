package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/webp"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// chromiumPath is the browser of the thumbnail tests: $APPSTORE_CHROMIUM,
// else chromium on PATH; missing, the test skips (fails with CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("APPSTORE_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	testenv.Require(t, "Chromium (the thumbnail browser; apt-get install chromium)", err)
	return p
}

// thumbDaemon starts appstored with every role, thumbnails on and a short
// load timeout, on the real Docker engine.
func thumbDaemon(t *testing.T) (*daemon.Daemon, *client.Client, func(args ...string) (string, string)) {
	t.Helper()
	docker := runnertest.Docker(t)
	chromium := chromiumPath(t)
	dataDir := t.TempDir()
	d := daemontest.Start(t, daemon.Config{
		DataDir: dataDir, Thumbnails: true, Chromium: chromium,
		ThumbnailLoadTimeout: 3 * time.Second, StartupTimeout: 20 * time.Second,
	})
	id, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnertest.CleanupContainers(t, docker, strings.TrimSpace(string(id)))
	c := &client.Client{BaseURL: d.URL}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if list, err := c.Launches(ctx, client.ListLaunchesOptions{Active: true, Limit: 100}); err == nil {
			for _, l := range list.Launches {
				_, _ = c.StopLaunch(ctx, l.ID)
			}
		}
	})
	image := func(args ...string) (string, string) {
		return runnertest.Image(t, docker, runnertest.ImageOptions{Args: args})
	}
	return d, c, image
}

// waitFor polls cond every 50 ms for up to max.
func waitFor(t *testing.T, what string, max time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v; %s", what, max, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launchRunning launches slug and waits until it answers.
func launchRunning(t *testing.T, c *client.Client, slug string) *client.Launch {
	t.Helper()
	ctx := context.Background()
	l, err := c.StartLaunch(ctx, slug, client.LaunchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err = c.WaitLaunch(ctx, l.ID, 30*time.Second); err != nil || l.Status != catalog.LaunchRunning {
		t.Fatalf("launch %s: %+v, %v", slug, l, err)
	}
	return l
}

func thumbnailURL(t *testing.T, c *client.Client, slug string) string {
	t.Helper()
	r, err := c.Repository(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return r.ThumbnailURL
}

func waitThumbnail(t *testing.T, c *client.Client, slug string) string {
	t.Helper()
	var url string
	waitFor(t, slug+"'s thumbnail", 60*time.Second, func() (bool, string) {
		url = thumbnailURL(t, c, slug)
		tl, _ := c.Timeline(context.Background(), slug, client.TimelineOptions{})
		return url != "", "timeline " + stepsText(tl)
	})
	return url
}

func stepsText(tl []client.IngestionEvent) string {
	var b strings.Builder
	for _, s := range tl {
		b.WriteString(string(s.Status) + ": " + s.Message + "; ")
	}
	return b.String()
}

func get(t *testing.T, url string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func decodeWebP(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := webp.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode the thumbnail (%d bytes): %v", len(b), err)
	}
	return img
}

// shareOf is the fraction of img's pixels within 12 of want on each channel.
func shareOf(img image.Image, want color.RGBA) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			d := func(a uint32, w uint8) int { return max(int(a>>8)-int(w), int(w)-int(a>>8)) }
			if d(r, want.R) <= 12 && d(g, want.G) <= 12 && d(bl, want.B) <= 12 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

// requestsByRoute reads appstore_http_requests_total from /metrics, summed
// over status codes.
func requestsByRoute(t *testing.T, base string) map[string]int {
	t.Helper()
	_, body := get(t, base+"/metrics", nil)
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "appstore_http_requests_total{") {
			continue
		}
		i := strings.Index(line, `route="`)
		if i < 0 {
			continue
		}
		route := line[i+len(`route="`):]
		route = route[:strings.IndexByte(route, '"')]
		var n float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &n); err == nil {
			out[route] += int(n)
		}
	}
	return out
}

var teal = color.RGBA{0x11, 0x88, 0x77, 0xff}

// TestThumbnailOfALaunchedApp: a launch of a new build gets a thumbnail
// that shows the page; it is served with an ETag and caching headers, in
// both sizes; the capture never went through the preview proxy (it keeps
// no app awake); a refresh takes a new one.
func TestThumbnailOfALaunchedApp(t *testing.T) {
	d, c, image := thumbDaemon(t)
	ctx := context.Background()
	tag, id := image("-name", "solid", "-page", "#3366cc")
	repoID, _ := runnertest.App(t, d.Store, "solid", tag, id, 0)

	// None yet: 404 that says how to get one.
	resp, body := get(t, d.URL+catalog.ThumbnailPath("solid", ""), nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "appstore thumbnail solid --refresh") {
		t.Fatalf("before any launch: %d %s", resp.StatusCode, body)
	}
	before := requestsByRoute(t, d.URL)

	l := launchRunning(t, c, "solid")
	url := waitThumbnail(t, c, "solid")
	if !strings.HasPrefix(url, "/api/v1/repositories/solid/thumbnail?v=") {
		t.Fatalf("thumbnail_url = %q", url)
	}
	resp, body = get(t, d.URL+url, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/webp" ||
		resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("ETag") == "" {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, resp.Header)
	}
	img := decodeWebP(t, body)
	if img.Bounds().Dx() != 320 || img.Bounds().Dy() != 200 {
		t.Errorf("thumbnail is %v, want 320x200", img.Bounds())
	}
	blue := color.RGBA{0x33, 0x66, 0xcc, 0xff}
	if s := shareOf(img, blue); s < 0.8 {
		t.Errorf("%.0f%% of the thumbnail is the page's background #3366cc, want most", s*100)
	}
	// Revalidation, the 2x size, and the unversioned URL.
	if resp2, _ := get(t, d.URL+url, http.Header{"If-None-Match": {resp.Header.Get("ETag")}}); resp2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp2.StatusCode)
	}
	resp2x, body2x := get(t, d.URL+catalog.ThumbnailPath("solid", "")+"?size=2x", nil)
	if img2x := decodeWebP(t, body2x); img2x.Bounds().Dx() != 640 || resp2x.Header.Get("Cache-Control") != "no-cache" || resp2x.Header.Get("ETag") == resp.Header.Get("ETag") {
		t.Errorf("2x: %v, %v", img2x.Bounds(), resp2x.Header)
	}
	if r, b := get(t, d.URL+catalog.ThumbnailPath("solid", "")+"?size=3x", nil); r.StatusCode != 400 || !strings.Contains(string(b), "use 1x") {
		t.Errorf("size=3x: %d %s", r.StatusCode, b)
	}

	// The capture reached the container directly: the preview proxy saw
	// nothing, so the launch's idle timer is untouched.
	after := requestsByRoute(t, d.URL)
	if n := after["preview"] - before["preview"]; n != 0 {
		t.Errorf("%d requests went through the preview proxy during the capture, want none", n)
	}
	if l2, err := c.Launch(ctx, l.ID); err != nil || l2.LastRequestAt != nil {
		t.Errorf("launch after the capture: last request at %v (%v), want none", l2.LastRequestAt, err)
	}
	evs, err := d.Store.Events(ctx, store.EventFilter{Topics: []string{"repository"}, Subject: "solid"})
	if err != nil {
		t.Fatal(err)
	}
	if n := countEvents(evs, "repository.updated", `"thumbnail"`); n != 1 {
		t.Errorf("%d repository.updated events name the thumbnail, want 1", n)
	}

	// A refresh of an app that is not running launches it and takes a new
	// one (the same picture, captured again).
	if _, err := c.StopLaunch(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	th, err := d.Store.Thumbnail(ctx, "solid")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.RefreshThumbnail(ctx, "solid")
	if err != nil || !ref.Launched || ref.LaunchID == l.ID {
		t.Fatalf("refresh: %+v, %v; want a new launch", ref, err)
	}
	waitFor(t, "the refreshed thumbnail", 60*time.Second, func() (bool, string) {
		now, err := d.Store.Thumbnail(ctx, "solid")
		return err == nil && now.LaunchID == ref.LaunchID && now.CapturedAt.After(th.CapturedAt), fmt.Sprint("still of launch ", th.LaunchID)
	})
	_ = repoID
}

// TestThumbnailBrowserReachesOnlyTheApp: a page that tries the daemon's
// API on the daemon's own port (its names and another app's preview) and
// its event stream gets nothing: the daemon sees none of those requests.
// The page still renders.
func TestThumbnailBrowserReachesOnlyTheApp(t *testing.T) {
	d, c, image := thumbDaemon(t)
	tag, id := image("-name", "nosy", "-page", "nosy")
	runnertest.App(t, d.Store, "nosy", tag, id, 0)
	before := requestsByRoute(t, d.URL)
	launchRunning(t, c, "nosy")
	url := waitThumbnail(t, c, "nosy")
	after := requestsByRoute(t, d.URL)
	for _, route := range []string{"GET /api/v1/version", "GET /api/v1/search", "GET /api/v1/events", "GET /healthz", "preview", "unmatched"} {
		if n := after[route] - before[route]; n != 0 {
			t.Errorf("the daemon served %d requests of %s during the capture, want none", n, route)
		}
	}
	_, body := get(t, d.URL+url, nil)
	if s := shareOf(decodeWebP(t, body), teal); s < 0.8 {
		t.Errorf("%.0f%% of the thumbnail is the colour the page paints once its tries failed, want most", s*100)
	}
}

// TestThumbnailOfAPageThatNeverSettles: no thumbnail, a warning in the
// timeline, and the launch runs on.
func TestThumbnailOfAPageThatNeverSettles(t *testing.T) {
	d, c, image := thumbDaemon(t)
	ctx := context.Background()
	tag, id := image("-name", "never", "-page", "never")
	runnertest.App(t, d.Store, "never", tag, id, 0)
	l := launchRunning(t, c, "never")
	var warning string
	waitFor(t, "a warning in the timeline", 60*time.Second, func() (bool, string) {
		tl, err := c.Timeline(ctx, "never", client.TimelineOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, s := range tl {
			if s.Status == catalog.TimelineWarning {
				warning = s.Message
				return true, ""
			}
		}
		return false, stepsText(tl)
	})
	if !strings.Contains(warning, "did not finish loading within 3s") || !strings.Contains(warning, "appstore thumbnail never --refresh") {
		t.Errorf("warning %q does not say what happened and what to do", warning)
	}
	if url := thumbnailURL(t, c, "never"); url != "" {
		t.Errorf("thumbnail_url = %q, want none", url)
	}
	if l2, err := c.Launch(ctx, l.ID); err != nil || l2.Status != catalog.LaunchRunning {
		t.Errorf("launch after the failed capture: %+v, %v; want it running", l2, err)
	}
	_, err := d.Store.Thumbnail(ctx, "never")
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("stored thumbnail: %v, want none", err)
	}
}

func countEvents(evs []catalog.Event, typ, contains string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ && strings.Contains(string(e.Data), contains) {
			n++
		}
	}
	return n
}
