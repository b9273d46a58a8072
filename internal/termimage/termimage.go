// Package termimage draws pictures in a terminal: with the kitty graphics
// protocol, iTerm2's inline images or sixel where the terminal has one,
// else with coloured half blocks (▀, two pixels per cell) where it has
// true colour, else not at all. The terminal is recognised from its
// environment (TERM, TERM_PROGRAM, LC_TERMINAL, KITTY_WINDOW_ID,
// COLORTERM…), never by asking it: a query that a terminal does not answer
// would hold up the start of every command. It links the standard library
// and golang.org/x/image/webp only, for the CLI binary.
package termimage

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/webp"
)

// Protocol is how a terminal draws pictures.
type Protocol int

const (
	None       Protocol = iota // no pictures
	HalfBlocks                 // ▀ with a 24-bit foreground and background
	Kitty                      // the kitty graphics protocol (kitty, Ghostty, WezTerm)
	ITerm2                     // OSC 1337 inline images (iTerm2, WezTerm, Warp)
	Sixel                      // DEC sixel (foot, mlterm, Windows Terminal, xterm -ti vt340)
)

func (p Protocol) String() string {
	switch p {
	case HalfBlocks:
		return "half blocks"
	case Kitty:
		return "kitty"
	case ITerm2:
		return "iTerm2"
	case Sixel:
		return "sixel"
	}
	return "none"
}

// Detect tells the protocol of the terminal from its environment. Inside
// tmux or screen, which pass image escapes through only when configured
// to, it settles for half blocks.
func Detect(getenv func(string) string) Protocol {
	term := strings.ToLower(getenv("TERM"))
	prog := getenv("TERM_PROGRAM")
	trueColor := func() Protocol {
		switch strings.ToLower(getenv("COLORTERM")) {
		case "truecolor", "24bit":
			return HalfBlocks
		}
		return None
	}
	if term == "dumb" {
		return None
	}
	if getenv("TMUX") != "" || strings.HasPrefix(term, "screen") || strings.HasPrefix(term, "tmux") {
		return trueColor()
	}
	switch {
	case getenv("KITTY_WINDOW_ID") != "" || term == "xterm-kitty" || term == "xterm-ghostty" || prog == "ghostty":
		return Kitty
	case prog == "iTerm.app" || getenv("LC_TERMINAL") == "iTerm2" || prog == "WezTerm" || prog == "WarpTerminal":
		return ITerm2
	case strings.HasPrefix(term, "foot") || strings.HasPrefix(term, "mlterm") || strings.Contains(term, "sixel") ||
		getenv("WT_SESSION") != "":
		return Sixel
	}
	if term == "xterm-direct" || strings.HasSuffix(term, "-direct") {
		return HalfBlocks
	}
	return trueColor()
}

// Decode reads a WebP, PNG (or any registered format) picture.
func Decode(data []byte) (image.Image, error) {
	if bytes.HasPrefix(data, []byte("RIFF")) {
		return webp.Decode(bytes.NewReader(data))
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	return img, err
}

// Render draws img cols cells wide (its height follows its aspect, cells
// being twice as tall as wide) and returns the text to print, ending with
// a newline; "" for None.
func Render(img image.Image, cols int, p Protocol) (string, error) {
	if cols < 2 {
		cols = 2
	}
	b := img.Bounds()
	if b.Empty() {
		return "", fmt.Errorf("empty picture")
	}
	// Rows of cells: a cell is about twice as tall as wide.
	rows := max(1, (cols*b.Dy()+b.Dx())/(2*b.Dx()))
	var out strings.Builder
	switch p {
	case None:
		return "", nil
	case HalfBlocks:
		halfBlocks(&out, Scale(img, cols, rows*2))
	case Kitty:
		if err := kitty(&out, img, cols, rows); err != nil {
			return "", err
		}
	case ITerm2:
		if err := iterm2(&out, img, cols, rows); err != nil {
			return "", err
		}
	case Sixel:
		// About 8×16 pixels a cell.
		sixel(&out, Scale(img, cols*8, rows*16))
	default:
		return "", fmt.Errorf("unknown protocol %d", p)
	}
	return out.String(), nil
}

// halfBlocks writes two pixel rows per line: the upper half block takes
// the upper pixel's colour, its background the lower one's.
func halfBlocks(w *strings.Builder, img image.Image) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x++ {
			tr, tg, tb := rgb(img.At(x, y))
			if y+1 < b.Max.Y {
				br, bg, bb := rgb(img.At(x, y+1))
				fmt.Fprintf(w, "\x1b[38;2;%d;%d;%dm\x1b[48;2;%d;%d;%dm▀", tr, tg, tb, br, bg, bb)
			} else {
				fmt.Fprintf(w, "\x1b[38;2;%d;%d;%dm\x1b[49m▀", tr, tg, tb)
			}
		}
		w.WriteString("\x1b[0m\n")
	}
}

func rgb(c color.Color) (uint8, uint8, uint8) {
	r, g, b, _ := color.NRGBAModel.Convert(c).RGBA()
	return uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// kitty transmits the picture as PNG in chunks of 4096 base64 bytes and
// places it over cols×rows cells (a=T), quietly (q=2: no replies to read).
func kitty(w *strings.Builder, img image.Image, cols, rows int) error {
	data, err := encodePNG(img)
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(data)
	first := true
	for len(enc) > 0 {
		n := min(4096, len(enc))
		chunk := enc[:n]
		enc = enc[n:]
		more := 0
		if len(enc) > 0 {
			more = 1
		}
		if first {
			fmt.Fprintf(w, "\x1b_Ga=T,f=100,q=2,c=%d,r=%d,m=%d;%s\x1b\\", cols, rows, more, chunk)
			first = false
		} else {
			fmt.Fprintf(w, "\x1b_Gm=%d;%s\x1b\\", more, chunk)
		}
	}
	w.WriteString("\n")
	return nil
}

// iterm2 writes an OSC 1337 inline image cols×rows cells large.
func iterm2(w *strings.Builder, img image.Image, cols, rows int) error {
	data, err := encodePNG(img)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\x1b]1337;File=inline=1;size=%d;width=%d;height=%d;preserveAspectRatio=1:%s\a\n",
		len(data), cols, rows, base64.StdEncoding.EncodeToString(data))
	return nil
}

// sixel writes img in DEC sixel with the 216 web-safe colours, dithered.
func sixel(w *strings.Builder, img image.Image) {
	b := img.Bounds()
	pal := image.NewPaletted(image.Rect(0, 0, b.Dx(), b.Dy()), palette.WebSafe)
	draw.FloydSteinberg.Draw(pal, pal.Bounds(), img, b.Min)
	width, height := pal.Bounds().Dx(), pal.Bounds().Dy()
	// DCS P1=0 (aspect 2:1 default… overridden by the raster attributes),
	// P2=1 (pixels not set keep the background), q.
	fmt.Fprintf(w, "\x1bP0;1;0q\"1;1;%d;%d", width, height)
	used := map[uint8]bool{}
	for _, i := range pal.Pix {
		used[i] = true
	}
	for i, c := range pal.Palette {
		if !used[uint8(i)] {
			continue
		}
		r, g, bl := rgb(c)
		fmt.Fprintf(w, "#%d;2;%d;%d;%d", i, int(r)*100/255, int(g)*100/255, int(bl)*100/255)
	}
	row := make([]byte, width)
	for y0 := 0; y0 < height; y0 += 6 {
		// The colours of this band of six rows.
		band := map[uint8]bool{}
		for y := y0; y < min(y0+6, height); y++ {
			for x := 0; x < width; x++ {
				band[pal.ColorIndexAt(x, y)] = true
			}
		}
		firstColour := true
		for ci := 0; ci < len(pal.Palette); ci++ {
			if !band[uint8(ci)] {
				continue
			}
			for x := 0; x < width; x++ {
				var bits byte
				for dy := 0; dy < 6 && y0+dy < height; dy++ {
					if pal.ColorIndexAt(x, y0+dy) == uint8(ci) {
						bits |= 1 << dy
					}
				}
				row[x] = 63 + bits
			}
			if !firstColour {
				w.WriteByte('$') // back to the band's start
			}
			firstColour = false
			fmt.Fprintf(w, "#%d", ci)
			writeRuns(w, row)
		}
		w.WriteByte('-') // next band
	}
	w.WriteString("\x1b\\\n")
}

// writeRuns writes sixel characters with repeats (!N) for runs over 3.
func writeRuns(w *strings.Builder, row []byte) {
	for i := 0; i < len(row); {
		j := i
		for j < len(row) && row[j] == row[i] {
			j++
		}
		if n := j - i; n > 3 {
			fmt.Fprintf(w, "!%d%c", n, row[i])
		} else {
			for k := i; k < j; k++ {
				w.WriteByte(row[k])
			}
		}
		i = j
	}
}

// Scale resizes img to w×h by averaging the source pixels under each
// target pixel (a box filter: good for shrinking, which is what a
// terminal needs).
func Scale(img image.Image, w, h int) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	sw, sh := b.Dx(), b.Dy()
	for y := 0; y < h; y++ {
		y0, y1 := b.Min.Y+y*sh/h, b.Min.Y+max((y+1)*sh/h, y*sh/h+1)
		for x := 0; x < w; x++ {
			x0, x1 := b.Min.X+x*sw/w, b.Min.X+max((x+1)*sw/w, x*sw/w+1)
			var r, g, bl, a, n uint64
			for yy := y0; yy < y1 && yy < b.Max.Y; yy++ {
				for xx := x0; xx < x1 && xx < b.Max.X; xx++ {
					cr, cg, cb, ca := img.At(xx, yy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			if n == 0 {
				continue
			}
			// Premultiplied sums back to straight colour.
			c := color.RGBA64{uint16(r / n), uint16(g / n), uint16(bl / n), uint16(a / n)}
			out.Set(x, y, c)
		}
	}
	return out
}

// Write renders img for p and writes it to w.
func Write(w io.Writer, img image.Image, cols int, p Protocol) error {
	s, err := Render(img, cols, p)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, s)
	return err
}
