package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon"
)

func solidPNG(t *testing.T, w, h int, c color.NRGBA) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func register(t *testing.T, st *store.Store, name string) *catalog.Repository {
	t.Helper()
	u, err := giturl.Parse("https://git.example.com/acme/" + name + ".git")
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.CreateRepository(context.Background(), store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: name, Owner: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func saveThumb(t *testing.T, st *store.Store, repoID int64, c color.NRGBA) {
	t.Helper()
	_, err := st.SaveThumbnail(context.Background(), catalog.Thumbnail{
		RepositoryID: repoID, ContentType: "image/png", Width: 320, Height: 200,
		Image: solidPNG(t, 320, 200, c), Image2x: solidPNG(t, 640, 400, c),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pixelJS reads the colour at the middle of the first image under sel,
// drawn into a canvas (the image is the page's own origin).
const pixelJS = `(() => { const img = document.querySelector(%q);
  if (!img || !img.complete || !img.naturalWidth) return '';
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const [r, gr, b] = g.getImageData(c.width / 2, c.height / 2, 1, 1).data; return r + ',' + gr + ',' + b; })()`

// TestWebViewShowsThumbnails: a card shows its app's thumbnail above the
// name, in a 16:10 box, lazily; a card without one shows the app's
// initial on a gradient (never an empty box) and turns into the picture
// when a thumbnail is taken while the page is open; the app page shows it
// large.
func TestWebViewShowsThumbnails(t *testing.T) {
	chromium(t)
	dir := artifacts(t)
	d := startDaemon(t, dir, daemon.Config{Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})
	shot := register(t, d.Store, "shot")
	plain := register(t, d.Store, "plain")
	saveThumb(t, d.Store, shot.ID, color.NRGBA{0x11, 0x88, 0x77, 0xff})

	b := newBrowser(t, dir)
	const short = 20 * time.Second
	b.step("open the search page", short, chromedp.Navigate(d.URL+"/"))
	b.wait("two cards, live", `document.querySelectorAll('.card').length === 2 && document.getElementById('conn').dataset.state === 'live'`, short)
	b.wait("the thumbnail loaded", `(() => { const i = document.querySelector('.card[data-slug=shot] .cover img'); return i && i.complete && i.naturalWidth > 0; })()`, short)
	b.screenshot("cards")

	img := eval[map[string]any](b, `(() => { const i = document.querySelector('.card[data-slug=shot] .cover img');
	  const card = i.closest('.card'); const h3 = card.querySelector('h3');
	  return {src: i.getAttribute('src'), srcset: i.getAttribute('srcset'), loading: i.loading, alt: i.alt,
	    above: i.getBoundingClientRect().bottom <= h3.getBoundingClientRect().top + 1}; })()`)
	if src, _ := img["src"].(string); !strings.HasPrefix(src, "/api/v1/repositories/shot/thumbnail?v=") || !contains(img["srcset"], "size=2x 2x") ||
		img["loading"] != "lazy" || img["above"] != true || img["alt"] != "Screenshot of shot" {
		t.Errorf("thumbnail <img>: %v", img)
	}
	if got := eval[string](b, fmt.Sprintf(pixelJS, ".card[data-slug=shot] .cover img")); got != "17,136,119" {
		t.Errorf("the card's picture is %q at its middle, want the thumbnail's 17,136,119", got)
	}
	// Both covers keep the capture's 16:10 shape, picture or not.
	for _, slug := range []string{"shot", "plain"} {
		ratio := eval[float64](b, `(() => { const r = document.querySelector('.card[data-slug=`+slug+`] .cover').getBoundingClientRect(); return r.width / r.height; })()`)
		if ratio < 1.55 || ratio > 1.65 {
			t.Errorf("%s's cover is %.2f:1, want 16:10", slug, ratio)
		}
	}
	ph := eval[map[string]any](b, `(() => { const c = document.querySelector('.card[data-slug=plain] .cover');
	  return {placeholder: c.classList.contains('placeholder'), glyph: c.textContent, bg: getComputedStyle(c).backgroundImage}; })()`)
	if ph["placeholder"] != true || ph["glyph"] != "P" || !contains(ph["bg"], "linear-gradient") {
		t.Errorf("the cover without a thumbnail: %v, want the initial P on a gradient", ph)
	}

	// A thumbnail taken while the page is open replaces the placeholder.
	saveThumb(t, d.Store, plain.ID, color.NRGBA{0xee, 0x88, 0x22, 0xff})
	b.wait("the new thumbnail replaced the placeholder",
		`(() => { const i = document.querySelector('.card[data-slug=plain] .cover img'); return i && i.complete && i.naturalWidth > 0; })()`, short)
	if got := eval[string](b, fmt.Sprintf(pixelJS, ".card[data-slug=plain] .cover img")); got != "238,136,34" {
		t.Errorf("the new picture is %q at its middle, want 238,136,34", got)
	}
	b.screenshot("cards-updated")

	// The app page shows it large.
	b.step("open shot's page", short, chromedp.Navigate(d.URL+"/app/shot"))
	b.wait("the large thumbnail", `(() => { const i = document.querySelector('.app .cover.large img'); return i && i.complete && i.naturalWidth > 0; })()`, short)
	if w := eval[float64](b, `document.querySelector('.app .cover.large').getBoundingClientRect().width`); w < 400 {
		t.Errorf("the app page's thumbnail is %.0f px wide, want it large", w)
	}
	b.screenshot("app-page")
}

func contains(v any, s string) bool {
	str, _ := v.(string)
	return bytes.Contains([]byte(str), []byte(s))
}
