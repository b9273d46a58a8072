package tui

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/appstore-dev/appstore/catalog"
)

// thumbSource is the fake daemon with thumbnails.
type thumbSource struct {
	*fakeSource
	pics map[string][]byte
}

func (s thumbSource) Thumbnail(ctx context.Context, slug string) ([]byte, error) {
	return s.pics[slug], nil
}

// stripes is a 320×200 picture: a teal band over an orange one.
func stripes(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 320, 200))
	for y := 0; y < 200; y++ {
		c := color.NRGBA{0x11, 0x88, 0x77, 0xff}
		if y >= 100 {
			c = color.NRGBA{0xee, 0x88, 0x22, 0xff}
		}
		for x := 0; x < 320; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGoldenDetailThumbnail: the detail view draws the app's thumbnail in
// true-colour half blocks above its description.
func TestGoldenDetailThumbnail(t *testing.T) {
	src := catalogSource()
	src.mu.Lock()
	for _, r := range src.repos {
		if r.Slug == "dash" {
			r.ThumbnailURL = catalog.ThumbnailPath("dash", "v1")
		}
	}
	src.mu.Unlock()
	ts := thumbSource{fakeSource: src, pics: map[string][]byte{"dash": stripes(t)}}
	clock := &fakeClock{t: fakeEpoch}
	opts := testOptions(ts, clock, make(chan string, 8))
	opts.Images = true
	m := New(context.Background(), opts)
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(goldenW, 40))
	t.Cleanup(func() { _ = tm.Quit() })
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "Team dashboard with charts", "▀")
	screen := finalScreen(t, tm)
	// 40 columns, 13 rows of half blocks: teal on top, orange below, one
	// row mixing both.
	teal, orange := "\x1b[38;2;17;136;119m\x1b[48;2;17;136;119m▀", "\x1b[38;2;238;136;34m\x1b[48;2;238;136;34m▀"
	if n := strings.Count(string(screen), teal); n < 40*5 {
		t.Errorf("%d teal cells, want at least 200", n)
	}
	if n := strings.Count(string(screen), orange); n < 40*5 {
		t.Errorf("%d orange cells, want at least 200", n)
	}
	golden.RequireEqual(t, screen)
}

// Without Options.Images nothing is drawn and nothing is fetched.
func TestDetailWithoutImages(t *testing.T) {
	src := catalogSource()
	for _, r := range src.repos {
		r.ThumbnailURL = catalog.ThumbnailPath(r.Slug, "v1")
	}
	ts := thumbSource{fakeSource: src, pics: map[string][]byte{"dash": stripes(t)}}
	tm, _ := startGolden(t, ts)
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "Team dashboard with charts")
	if screen := finalScreen(t, tm); bytes.Contains(screen, []byte("▀")) {
		t.Error("a thumbnail was drawn without Options.Images")
	}
}
