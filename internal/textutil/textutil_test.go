package textutil

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"abcd", 0, "…"},
		{"abcd", -1, "…"},
		// "é" is two bytes: a cut inside it backs off to its start.
		{"aé", 2, "a…"},
		{"aéb", 3, "aé…"},
		{"日本語", 4, "日…"},
		{"日本語", 6, "日本…"},
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	// Whatever the cut, the result is valid UTF-8 and within the bound.
	s := strings.Repeat("ü日a", 50)
	for n := 0; n < len(s)+2; n++ {
		got := Truncate(s, n)
		if !utf8.ValidString(got) || len(got) > n+len(Ellipsis) {
			t.Fatalf("Truncate(_, %d) = %q: invalid UTF-8 or longer than %d bytes", n, got, n+len(Ellipsis))
		}
	}
}

func TestShortSHA(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"abc":                     "abc",
		"0123456789abcdef0123":    "0123456789ab",
		"sha256:0123456789abcdef": "0123456789ab",
	} {
		if got := ShortSHA(in); got != want {
			t.Errorf("ShortSHA(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"one":                          "one",
		"one\ntwo":                     "one",
		"one\r\ntwo":                   "one",
		"\n\n  failed: exit 1  \nmore": "failed: exit 1",
		"progress\rdone":               "progress",
	} {
		if got := FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}
