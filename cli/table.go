package cli

import (
	"fmt"
	"strings"

	"github.com/mattn/go-runewidth"
)

// table prints rows of fields. On a terminal it prints a header and pads
// columns to line up (by display width, so colours and wide characters do
// not break alignment, which text/tabwriter cannot promise); otherwise it
// prints tab-separated fields without header, colour or truncation, for
// cut, awk and while-read loops.
type table struct {
	ios    *IOStreams
	header []string
	rows   [][]field
}

// field is one cell. color is applied on terminals only; max, when set,
// truncates the text on terminals.
type field struct {
	text  string
	color func(string) string
	max   int
}

func newTable(ios *IOStreams, header ...string) *table {
	return &table{ios: ios, header: header}
}

func (t *table) row(fields ...field) { t.rows = append(t.rows, fields) }

// cell is a plain field.
func cell(s string) field { return field{text: s} }

func (t *table) render() error {
	if !t.ios.IsStdoutTTY() {
		var b strings.Builder
		for _, r := range t.rows {
			for i, f := range r {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(plainText(f.text))
			}
			b.WriteByte('\n')
		}
		_, err := fmt.Fprint(t.ios.Out, b.String())
		return err
	}

	rows := make([][]field, 0, len(t.rows)+1)
	if len(t.header) > 0 {
		h := make([]field, len(t.header))
		for i, s := range t.header {
			h[i] = field{text: s, color: t.ios.Bold}
		}
		rows = append(rows, h)
	}
	for _, r := range t.rows {
		out := make([]field, len(r))
		for i, f := range r {
			f.text = plainText(f.text)
			if f.max > 0 {
				f.text = runewidth.Truncate(f.text, f.max, "…")
			}
			out[i] = f
		}
		rows = append(rows, out)
	}
	var widths []int
	for _, r := range rows {
		for i, f := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(f.text))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, f := range r {
			text := f.text
			if f.color != nil {
				text = f.color(text)
			}
			b.WriteString(text)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(f.text)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := fmt.Fprint(t.ios.Out, b.String())
	return err
}

// plainText keeps a field on one line and inside its column: tabs and line
// breaks from descriptions or error messages become spaces.
func plainText(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return ' '
		}
		return r
	}, s)
}
