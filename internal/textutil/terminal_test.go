package textutil

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStripTerminal(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, tabs\tand\nnewlines", "plain text, tabs\tand\nnewlines"},
		{"\x1b[1;31mred\x1b[0m", "red"},
		{"\x1b]0;owned title\x07after", "after"},
		{"\x1b]0;title\x1b\\after", "after"},
		// OSC 52: write "evil" to the clipboard.
		{"a\x1b]52;c;ZXZpbA==\x07b", "ab"},
		// OSC 8: a link whose text says one thing and whose target another.
		{"\x1b]8;;https://evil.example/\x1b\\https://good.example/\x1b]8;;\x1b\\", "https://good.example/"},
		{"\x1bP1$qm\x1b\\dcs gone", "dcs gone"},
		{"\x1b_apc\x07x", "x"},
		{"\x1b(Bcharset\x1b)0", "charset"},
		{"\x1b7saved\x1b8", "saved"},
		{"unterminated \x1b]0;title", "unterminated "},
		{"lone escape \x1b", "lone escape "},
		{"NUL\x00 bell\x07 backspace\x08 del\x7f", "NUL bell backspace del"},
		{"c1 \u009b31mcsi", "c1 31mcsi"},
		{"bidi \u202egnp.exe\u202c", "bidi gnp.exe"},
		{"bad \xff\xfe bytes", "bad \uFFFD bytes"},
		{"é ünïcødé ✓", "é ünïcødé ✓"},
	} {
		got := StripTerminal(tc.in)
		if got != tc.want {
			t.Errorf("StripTerminal(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !utf8.ValidString(got) || strings.ContainsAny(got, "\x00\x1b\r") {
			t.Errorf("StripTerminal(%q) = %q still holds what a terminal or PostgreSQL reads specially", tc.in, got)
		}
	}
}

func TestCleanLineAndLines(t *testing.T) {
	if got := CleanLine("progress 10%\rprogress 100%\r"); got != "progress 100%" {
		t.Errorf("carriage returns: %q", got)
	}
	if got := CleanLine("one\ntwo"); got != "onetwo" {
		t.Errorf("a newline inside a line: %q", got)
	}
	in := "exited with code 1; last output:\n\x1b[31merror\x1b[0m\x00\nspin\rdone"
	if got, want := CleanLines(in), "exited with code 1; last output:\nerror\ndone"; got != want {
		t.Errorf("CleanLines = %q, want %q", got, want)
	}
	s := "nothing to clean\nhere"
	if got := CleanLines(s); got != s {
		t.Errorf("clean text changed: %q", got)
	}
}

func FuzzStripTerminal(f *testing.F) {
	for _, s := range []string{"\x1b[31mx", "\x1b]8;;u\x07t", "\x00\xff", "\u202e", "a\rb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{StripTerminal(s), CleanLine(s), CleanLines(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("%q: invalid UTF-8 out: %q", s, out)
			}
			for _, r := range out {
				if dropped(r) || r == 0x1b || r == '\r' {
					t.Fatalf("%q: %q kept %U", s, out, r)
				}
			}
			if StripTerminal(out) != out {
				t.Fatalf("%q: not idempotent: %q", s, out)
			}
		}
	})
}
