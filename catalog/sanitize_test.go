package catalog

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"  a\tb\n\x00c  ", 100, "a b c"},
		{"abc def", 5, "abc d"},
		{"\x1b[31mred\x1b[0m alert\x1b]0;title\x07!", 100, "red alert!"},
		{"osc 8 \x1b]8;;https://evil.example/\x07https://good.example/\x1b]8;;\x07", 100, "osc 8 https://good.example/"},
		{"bidi \u202eevil\u202c", 100, "bidi evil"},
		{"bad \xff bytes", 100, "bad bytes"},
		{"ünïcødé ✓", 100, "ünïcødé ✓"},
	} {
		if got := CleanText(tc.in, tc.max); got != tc.want {
			t.Errorf("CleanText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestCleanDescription(t *testing.T) {
	d, err := CleanDescription("A \x1b[1mbold\x1b[0m\r\nclaim")
	if err != nil || d != "A bold claim" {
		t.Errorf("CleanDescription = %q, %v", d, err)
	}
	_, err = CleanDescription(strings.Repeat("x", MaxDescriptionLen+1))
	var inv *InvalidError
	if !errors.As(err, &inv) || inv.Field != "description" {
		t.Errorf("too long: %v, want an invalid description", err)
	}
	long := strings.Repeat("é", MaxDescriptionLen)
	if d, err := CleanDescription(long); err != nil || utf8.RuneCountInString(d) != MaxDescriptionLen {
		t.Errorf("exactly the limit, in characters: %d characters, %v", utf8.RuneCountInString(d), err)
	}
}

func TestCleanHomepage(t *testing.T) {
	for _, ok := range []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"https://dash.example.org", "https://dash.example.org"},
		{" http://example.org/a?b=c#d ", "http://example.org/a?b=c#d"},
		{"HTTPS://Example.org/", "HTTPS://Example.org/"},
	} {
		if got, err := CleanHomepage(ok.in); err != nil || got != ok.want {
			t.Errorf("CleanHomepage(%q) = %q, %v; want %q", ok.in, got, err, ok.want)
		}
	}
	for _, bad := range []struct{ in, mention string }{
		{"javascript:alert(document.cookie)", "only http:// and https://"},
		{"JavaScript:alert(1)", "only http:// and https://"},
		{"data:text/html,<script>alert(1)</script>", "only http:// and https://"},
		{"vbscript:msgbox", "only http:// and https://"},
		{"//evil.example/x", "only http:// and https://"},
		{"/relative", "only http:// and https://"},
		{"https://", "no host"},
		{"https://user:pw@example.org", "credentials"},
		{"https://exa mple.org", "space"},
		{"https://example.org/\x1b]8;;x\x07", "control character"},
		{"https://example.org/\u202e", "control character"},
		{"https://example.org/" + strings.Repeat("a", MaxURLLen), "longer than"},
	} {
		_, err := CleanHomepage(bad.in)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != "homepage" || !strings.Contains(inv.Message, bad.mention) {
			t.Errorf("CleanHomepage(%q) = %v, want invalid homepage mentioning %q", bad.in, err, bad.mention)
		}
	}
}
