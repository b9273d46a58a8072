package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// fakeThumbDaemon serves the repository dash with a thumbnail (a PNG, all
// #3366cc) and bare without one.
func fakeThumbDaemon(t *testing.T) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 320, 200))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []byte{0x33, 0x66, 0xcc, 0xff})
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, img); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	repo := func(slug, thumb string) client.Repository {
		return client.Repository{ID: 1, Slug: slug, Name: slug, GitURL: "https://git.example.com/" + slug, IngestStatus: catalog.IngestReady,
			ThumbnailURL: thumb, Tags: []client.Tag{}}
	}
	mux.HandleFunc("GET /api/v1/repositories/dash", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(repo("dash", catalog.ThumbnailPath("dash", "abc")))
	})
	mux.HandleFunc("GET /api/v1/repositories/bare", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(repo("bare", ""))
	})
	mux.HandleFunc("GET /api/v1/repositories/{slug}/events", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"events":[]}`)
	})
	mux.HandleFunc("GET /api/v1/repositories/dash/thumbnail", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pic.Bytes())
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestShowDrawsTheThumbnail(t *testing.T) {
	url := fakeThumbDaemon(t)
	blueCell := "\x1b[38;2;51;102;204m\x1b[48;2;51;102;204m▀"
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string // in stdout; "" = no picture at all
	}{
		{"true colour", map[string]string{"TERM": "xterm-256color", "COLORTERM": "truecolor"}, nil, blueCell},
		{"kitty", map[string]string{"TERM": "xterm-kitty"}, nil, "\x1b_Ga=T,f=100"},
		{"iTerm2", map[string]string{"TERM_PROGRAM": "iTerm.app"}, nil, "\x1b]1337;File=inline=1"},
		{"sixel", map[string]string{"TERM": "foot"}, nil, "\x1bP0;1;0q"},
		{"256 colours only", map[string]string{"TERM": "xterm-256color"}, nil, ""},
		{"--no-images", map[string]string{"TERM": "xterm-kitty", "COLORTERM": "truecolor"}, []string{"--no-images"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.env[cliEnvURL] = url
			r := appstoreTTY(t, c.env, append([]string{"show", "dash"}, c.args...)...)
			if r.code != 0 {
				t.Fatalf("show: %+v", r)
			}
			switch {
			case c.want == "":
				if strings.Contains(r.stdout, "\x1b_G") || strings.Contains(r.stdout, "▀") || strings.Contains(r.stdout, "\x1b]1337") || strings.Contains(r.stdout, "\x1bP") {
					t.Errorf("a picture was drawn:\n%q", r.stdout)
				}
			case !strings.Contains(r.stdout, c.want):
				t.Errorf("stdout lacks %q:\n%q", c.want, r.stdout[:min(300, len(r.stdout))])
			}
			if !strings.Contains(r.stdout, "dash") {
				t.Errorf("the details are gone:\n%s", r.stdout)
			}
		})
	}
	// In a pipe: no picture, whatever the terminal.
	r := appstoreIn(t, url, "", "show", "dash")
	if r.code != 0 || strings.Contains(r.stdout, "\x1b") {
		t.Errorf("show in a pipe: %+v", r)
	}
}

func TestThumbnailCommand(t *testing.T) {
	url := fakeThumbDaemon(t)
	// A pipe: the URL.
	r := appstoreIn(t, url, "", "thumbnail", "dash")
	if r.code != 0 || r.stdout != url+"/api/v1/repositories/dash/thumbnail?v=abc\n" {
		t.Errorf("thumbnail dash: %+v", r)
	}
	// Saved to a file.
	out := filepath.Join(t.TempDir(), "dash.png")
	r = appstoreIn(t, url, "", "thumbnail", "dash", "-o", out)
	b, err := os.ReadFile(out)
	if r.code != 0 || err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("thumbnail -o: %+v, %d bytes, %v", r, len(b), err)
	}
	// JSON.
	r = appstoreIn(t, url, "", "thumbnail", "dash", "--json")
	var info map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &info) != nil || info["thumbnail_url"] != "/api/v1/repositories/dash/thumbnail?v=abc" {
		t.Errorf("thumbnail --json: %+v", r)
	}
	// None yet: exit 3, and what to do.
	r = appstoreIn(t, url, "", "thumbnail", "bare")
	if r.code != 3 || !strings.Contains(r.stderr, "appstore thumbnail bare --refresh") {
		t.Errorf("thumbnail bare: %+v", r)
	}
	// Bad flags are usage errors.
	if r = appstoreIn(t, url, "", "thumbnail", "dash", "--size", "3x"); r.code != 2 || !strings.Contains(r.stderr, "use 1x") {
		t.Errorf("--size 3x: %+v", r)
	}
}

// TestThumbnailRefreshAgainstAppstored: --refresh launches the app, waits
// for the event that the new thumbnail is stored, and show draws it.
func TestThumbnailRefreshAgainstAppstored(t *testing.T) {
	docker := runnertest.Docker(t)
	chromium := os.Getenv("APPSTORE_CHROMIUM")
	if chromium == "" {
		p, err := exec.LookPath("chromium")
		testenv.Require(t, "Chromium (the thumbnail browser; apt-get install chromium)", err)
		chromium = p
	}
	dataDir := t.TempDir()
	d := daemontest.Start(t, daemon.Config{DataDir: dataDir, Thumbnails: true, Chromium: chromium,
		ThumbnailLoadTimeout: 3 * time.Second, StartupTimeout: 20 * time.Second})
	id, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnertest.CleanupContainers(t, docker, strings.TrimSpace(string(id)))
	tag, img := runnertest.Image(t, docker, runnertest.ImageOptions{Args: []string{"-name", "green", "-page", "#22aa44"}})
	runnertest.App(t, d.Store, "green", tag, img, 0)

	r := appstoreIn(t, d.URL, "", "thumbnail", "green", "--refresh", "--json")
	var info map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &info) != nil || info["launched"] != true ||
		!strings.HasPrefix(fmt.Sprint(info["thumbnail_url"]), "/api/v1/repositories/green/thumbnail?v=") {
		t.Fatalf("thumbnail --refresh: %+v", r)
	}
	show := appstoreTTY(t, map[string]string{cliEnvURL: d.URL, "COLORTERM": "truecolor", "TERM": "xterm-256color"}, "show", "green")
	// The page's green, drawn in half blocks (WebP is lossy: near it).
	if show.code != 0 || !strings.Contains(show.stdout, "▀") || !hasNearColour(show.stdout, color.RGBA{0x22, 0xaa, 0x44, 0xff}) {
		t.Errorf("show green: %+v", show)
	}
	ctx := t.Context()
	c := &client.Client{BaseURL: d.URL}
	if list, err := c.Launches(ctx, client.ListLaunchesOptions{Active: true}); err == nil {
		for _, l := range list.Launches {
			_, _ = c.StopLaunch(ctx, l.ID)
		}
	}
}

// hasNearColour reports whether a 24-bit foreground of out is within 10
// of want on each channel.
func hasNearColour(out string, want color.RGBA) bool {
	for _, part := range strings.Split(out, "\x1b[38;2;")[1:] {
		var r, g, b int
		if _, err := fmt.Sscanf(part, "%d;%d;%dm", &r, &g, &b); err != nil {
			continue
		}
		d := func(a int, w uint8) bool { return max(a-int(w), int(w)-a) <= 10 }
		if d(r, want.R) && d(g, want.G) && d(b, want.B) {
			return true
		}
	}
	return false
}

const cliEnvURL = "APPSTORE_URL"
