package textutil

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// escapeRE matches terminal escape sequences: CSI (colours, cursor moves,
// ESC[…m), OSC (window titles, OSC 8 hyperlinks, OSC 52 clipboard writes),
// the string commands DCS, SOS, PM and APC, character-set switches
// (ESC ( B) and the other two-byte escapes. Unterminated strings run to the
// end of the text.
var escapeRE = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]+[0-~]?|[0-~])`)

// StripTerminal makes program output safe to store and to print: terminal
// escape sequences are removed (an app's output shown by `appstore logs`
// must not retitle the window, write the clipboard or disguise a link),
// then every control character but tab and newline (NUL included, which
// PostgreSQL text cannot hold; C1 controls, which some terminals obey like
// ESC sequences) and the bidirectional overrides that reorder what is
// shown; invalid UTF-8 becomes U+FFFD. Text without any of these is
// returned as it is.
func StripTerminal(s string) string {
	if clean(s) {
		return s
	}
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = escapeRE.ReplaceAllString(s, "")
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if dropped(r) {
			return -1
		}
		return r
	}, s)
}

// CleanLine is StripTerminal for one line of output: a carriage return
// rewrites the line on a terminal (progress bars), so only the text after
// the last one is kept, and newlines go with the other control characters.
func CleanLine(s string) string {
	s = strings.TrimSuffix(s, "\r")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	s = StripTerminal(s)
	if strings.IndexByte(s, '\n') >= 0 {
		s = strings.ReplaceAll(s, "\n", "")
	}
	return s
}

// CleanLines applies CleanLine to each line of s (a message that quotes
// several lines of output), keeping the newlines between them.
func CleanLines(s string) string {
	if clean(s) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = CleanLine(l)
	}
	return strings.Join(lines, "\n")
}

// clean reports whether s is valid UTF-8 without anything StripTerminal
// or CleanLine would change (newlines aside): the common case, checked
// without allocating.
func clean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || dropped(r) {
			return false
		}
		i += n
	}
	return true
}

// dropped reports the runes StripTerminal removes.
func dropped(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20 || r == 0x7f: // C0 controls (NUL, BEL, BS, CR…) and DEL
		return true
	case r >= 0x80 && r <= 0x9f: // C1 controls (0x9b is a one-byte CSI)
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings, overrides, isolates
		return true
	}
	return false
}
