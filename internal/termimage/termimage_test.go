package termimage_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/internal/termimage"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want termimage.Protocol
	}{
		{nil, termimage.None},
		{[]string{"TERM", "xterm-256color"}, termimage.None},
		{[]string{"TERM", "xterm-256color", "COLORTERM", "truecolor"}, termimage.HalfBlocks},
		{[]string{"TERM", "xterm-256color", "COLORTERM", "24bit"}, termimage.HalfBlocks},
		{[]string{"TERM", "xterm-kitty"}, termimage.Kitty},
		{[]string{"TERM", "xterm-256color", "KITTY_WINDOW_ID", "1"}, termimage.Kitty},
		{[]string{"TERM", "xterm-ghostty"}, termimage.Kitty},
		{[]string{"TERM_PROGRAM", "iTerm.app", "TERM", "xterm-256color"}, termimage.ITerm2},
		{[]string{"LC_TERMINAL", "iTerm2", "TERM", "xterm-256color"}, termimage.ITerm2},
		{[]string{"TERM_PROGRAM", "WezTerm"}, termimage.ITerm2},
		{[]string{"TERM", "foot"}, termimage.Sixel},
		{[]string{"TERM", "mlterm"}, termimage.Sixel},
		{[]string{"TERM", "xterm-256color", "WT_SESSION", "x"}, termimage.Sixel},
		// tmux passes image escapes through only when told to.
		{[]string{"TERM", "tmux-256color", "TERM_PROGRAM", "iTerm.app", "TMUX", "/tmp/t", "COLORTERM", "truecolor"}, termimage.HalfBlocks},
		{[]string{"TERM", "screen", "KITTY_WINDOW_ID", "1"}, termimage.None},
		{[]string{"TERM", "dumb", "COLORTERM", "truecolor"}, termimage.None},
	} {
		if got := termimage.Detect(env(c.env...)); got != c.want {
			t.Errorf("Detect(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}

// twoTone is w×h, red above the middle and blue below.
func twoTone(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{0xff, 0, 0, 0xff}
			if y >= h/2 {
				c = color.NRGBA{0, 0, 0xff, 0xff}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func TestHalfBlocks(t *testing.T) {
	out, err := termimage.Render(twoTone(320, 200), 8, termimage.HalfBlocks)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// 8 columns of a 16:10 picture: 8×5 square pixels, two to a cell
	// stacked: 3 rows (8×6 pixels).
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%q", len(lines), out)
	}
	cell := regexp.MustCompile(`\x1b\[38;2;(\d+;\d+;\d+)m\x1b\[48;2;(\d+;\d+;\d+)m▀`)
	for i, line := range lines {
		cells := cell.FindAllStringSubmatch(line, -1)
		if len(cells) != 8 || !strings.HasSuffix(line, "\x1b[0m") {
			t.Fatalf("line %d: %d cells, want 8 and a reset: %q", i, len(cells), line)
		}
		top, bottom := cells[0][1], cells[0][2]
		want := [][2]string{{"255;0;0", "255;0;0"}, {"255;0;0", "0;0;255"}, {"0;0;255", "0;0;255"}}[i]
		if top != want[0] || bottom != want[1] {
			t.Errorf("line %d: %s over %s, want %s over %s", i, top, bottom, want[0], want[1])
		}
	}
}

func TestKittyAndITerm2CarryThePictureAsPNG(t *testing.T) {
	img := twoTone(32, 20)
	for _, p := range []termimage.Protocol{termimage.Kitty, termimage.ITerm2} {
		out, err := termimage.Render(img, 20, p)
		if err != nil {
			t.Fatal(err)
		}
		var payload string
		switch p {
		case termimage.Kitty:
			if !strings.HasPrefix(out, "\x1b_Ga=T,f=100,q=2,c=20,r=6,m=0;") {
				t.Fatalf("kitty: %q", out[:min(60, len(out))])
			}
			payload = strings.TrimSuffix(strings.TrimPrefix(out, "\x1b_Ga=T,f=100,q=2,c=20,r=6,m=0;"), "\x1b\\\n")
		case termimage.ITerm2:
			m := regexp.MustCompile(`^\x1b\]1337;File=inline=1;size=\d+;width=20;height=6;preserveAspectRatio=1:([A-Za-z0-9+/=]+)\a\n$`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("iTerm2: %q", out[:min(80, len(out))])
			}
			payload = m[1]
		}
		data, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			t.Fatalf("%v: payload: %v", p, err)
		}
		got, err := png.Decode(bytes.NewReader(data))
		if err != nil || got.Bounds() != img.Bounds() {
			t.Fatalf("%v: the PNG is %v (%v), want the picture", p, got.Bounds(), err)
		}
		if r, _, _, _ := got.At(0, 0).RGBA(); r>>8 != 0xff {
			t.Errorf("%v: top left is %v, want red", p, got.At(0, 0))
		}
	}
}

func TestKittyChunksLargePictures(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rnd.IntN(256)) // noise: the PNG stays large
	}
	out, err := termimage.Render(img, 40, termimage.Kitty)
	if err != nil {
		t.Fatal(err)
	}
	chunks := strings.Count(out, "\x1b_G")
	if chunks < 2 || !strings.Contains(out, "\x1b_Gm=1;") || !strings.Contains(out, "\x1b_Gm=0;") {
		t.Errorf("%d chunks; want several, the last with m=0", chunks)
	}
}

func TestSixel(t *testing.T) {
	out, err := termimage.Render(twoTone(320, 200), 4, termimage.Sixel)
	if err != nil {
		t.Fatal(err)
	}
	// 4 columns: 32×16 pixels (rows = 4*200/640 rounded = 1… at least one).
	if !strings.HasPrefix(out, "\x1bP0;1;0q\"1;1;32;") || !strings.HasSuffix(out, "\x1b\\\n") {
		t.Fatalf("sixel frame: %q", out)
	}
	// Red (100;0;0) and blue (0;0;100) are in the palette, and a band of
	// one colour is a run: !32 and the sixel of six set pixels, '~'.
	for _, want := range []string{";2;100;0;0", ";2;0;0;100", "!32~"} {
		if !strings.Contains(out, want) {
			t.Errorf("sixel lacks %q: %q", want, out)
		}
	}
}

func TestScaleAverages(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.NRGBA{0, 0, 0, 0xff})
	img.Set(1, 0, color.NRGBA{200, 100, 50, 0xff})
	got := termimage.Scale(img, 1, 1).NRGBAAt(0, 0)
	if got.R != 100 || got.G != 50 || got.B != 25 {
		t.Errorf("average = %v, want 100,50,25", got)
	}
}

func TestDecodeWebPAndPNG(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, twoTone(4, 4)); err != nil {
		t.Fatal(err)
	}
	img, err := termimage.Decode(buf.Bytes())
	if err != nil || img.Bounds().Dx() != 4 {
		t.Fatalf("PNG: %v %v", img, err)
	}
	if _, err := termimage.Decode([]byte("RIFF\x00\x00\x00\x00WEBPjunk")); err == nil {
		t.Error("a broken WebP decoded")
	}
}
