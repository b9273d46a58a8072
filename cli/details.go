package cli

import (
	"fmt"
	"strings"
	"time"
)

// details is the "field: value" view of one object (show, services show):
// aligned, with colours and relative times on a terminal; "field:\tvalue"
// with RFC 3339 times in a pipe, for grep and cut. Empty values are left
// out, so that callers can add every field unconditionally.
type details struct {
	ios *IOStreams
	tty bool
	now time.Time
	// layout is how a terminal shows the absolute time after the relative
	// one.
	layout string
	lines  []detail
}

type detail struct {
	key, value string
	color      func(string) string
}

func newDetails(ios *IOStreams, now time.Time, layout string) *details {
	return &details{ios: ios, tty: ios.IsStdoutTTY(), now: now, layout: layout}
}

// add adds the line key: value unless value is empty. color, when not nil,
// colours the value on a terminal.
func (d *details) add(key, value string, color func(string) string) {
	if value != "" {
		d.lines = append(d.lines, detail{key, value, color})
	}
}

// when is t as a value: "3 days ago (2024-05-01 12:00)" on a terminal, RFC
// 3339 in UTC in a pipe, empty (the line left out) for the zero time.
func (d *details) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if d.tty {
		return fmt.Sprintf("%s (%s)", ago(d.now, t), t.Local().Format(d.layout))
	}
	return t.UTC().Format(time.RFC3339)
}

// keyWidth is the width of the key column on a terminal, colon included,
// for lines a caller prints after these in line with them.
func (d *details) keyWidth() int {
	width := 0
	for _, l := range d.lines {
		width = max(width, len(l.key)+1)
	}
	return width
}

// String renders the lines, each ending in a newline.
func (d *details) String() string {
	var b strings.Builder
	width := d.keyWidth()
	for _, l := range d.lines {
		v := plainText(l.value)
		if !d.tty {
			fmt.Fprintf(&b, "%s:\t%s\n", l.key, v)
			continue
		}
		if l.color != nil {
			v = l.color(v)
		}
		fmt.Fprintf(&b, "%-*s %s\n", width, l.key+":", v)
	}
	return b.String()
}
