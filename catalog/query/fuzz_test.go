package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/catalog"
)

var fuzzSeeds = []string{
	"",
	"lang:go framework:gin -license:gpl chat",
	`lang:go,rust "live chat" -"old" -php dash`,
	"status:ready",
	`"unterminated`,
	`"glued"text`,
	"lang:a,,b",
	"lang:",
	":go",
	"c++:x",
	"--x",
	"- x",
	"runtime:node:20",
	"LANG:Go İstanbul ß",
	"a\u00a0b\u3000c",
	"chat\x00",
	"\xff\xfe",
	"https://example.com/x?y=1",
	`-"`,
	`""`,
	strings.Repeat("w ", MaxTerms+1),
	"k:" + strings.Repeat("v,", MaxValues+1) + "v",
}

// FuzzParse checks that Parse never panics, that errors point into the
// input, and that every parsed query survives String and Parse unchanged and
// carries only tags the catalog accepts.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T is not a *SyntaxError", s, err)
			}
			if se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q) error position %d is outside the input (len %d)", s, se.Pos, len(s))
			}
			if se.Msg == "" {
				t.Fatalf("Parse(%q) error has no message", s)
			}
			return
		}
		if q.Prefix && len(q.Words) == 0 {
			t.Fatalf("Parse(%q) has Prefix without words", s)
		}
		for _, f := range append(append([]Filter(nil), q.Filters...), q.Excludes...) {
			if len(f.Values) == 0 {
				t.Fatalf("Parse(%q) gave a filter without values", s)
			}
			for _, tag := range f.Tags() {
				got, err := catalog.ParseTag(tag)
				if err != nil {
					t.Fatalf("Parse(%q) gave tag %q that the catalog refuses: %v", s, tag, err)
				}
				if got.String() != tag {
					t.Fatalf("Parse(%q) gave tag %q that the catalog normalises to %q", s, tag, got.String())
				}
			}
		}
		canonical := q.String()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, canonical, err)
		}
		if !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip of %q through %q:\n%#v\nwant\n%#v", s, canonical, again, q)
		}
	})
}

// FuzzTokenAt checks that for any input and cursor the token lies within the
// input around the cursor, that Replace and WithoutToken stay within their
// text, and that taking a term out of a valid query leaves a valid query.
func FuzzTokenAt(f *testing.F) {
	for _, s := range fuzzSeeds {
		for _, pos := range []int{-1, 0, len(s) / 2, len(s), len(s) + 3} {
			f.Add(s, pos, "framework:gin")
		}
	}
	f.Add("lang:go,r", 9, "rust")
	f.Add("fra", 3, "framework:")
	f.Fuzz(func(t *testing.T, s string, pos int, suggestion string) {
		tok := TokenAt(s, pos)
		cur := min(max(pos, 0), len(s))
		if tok.Start < 0 || tok.Start > tok.End || tok.End > len(s) {
			t.Fatalf("TokenAt(%q, %d) bounds [%d, %d) outside the input", s, pos, tok.Start, tok.End)
		}
		// A cursor inside a multi-byte character moves back to its start,
		// at most utf8.UTFMax-1 bytes.
		if cur < tok.Start || cur > tok.End+utf8.UTFMax-1 ||
			(cur == len(s) || utf8.RuneStart(s[cur])) && cur > tok.End {
			t.Fatalf("TokenAt(%q, %d) = [%d, %d) does not hold the cursor", s, pos, tok.Start, tok.End)
		}
		if tok.Text != s[tok.Start:tok.End] {
			t.Fatalf("TokenAt(%q, %d).Text = %q, want %q", s, pos, tok.Text, s[tok.Start:tok.End])
		}
		// In invalid UTF-8 lower-casing a cut sequence differs from the
		// whole; Parse refuses such input anyway.
		if utf8.ValidString(s) && !strings.HasPrefix(tok.Value, tok.Prefix) {
			t.Fatalf("TokenAt(%q, %d): prefix %q is not a prefix of value %q", s, pos, tok.Prefix, tok.Value)
		}
		if tok.Kind == KindValue && (tok.Index < 0 || tok.Index >= len(tok.Values) || tok.Values[tok.Index] != tok.Value) {
			t.Fatalf("TokenAt(%q, %d): index %d, values %q, value %q disagree", s, pos, tok.Index, tok.Values, tok.Value)
		}

		rest := WithoutToken(s, tok)
		if len(rest) != len(s)-(tok.End-tok.Start) {
			t.Fatalf("WithoutToken(%q) = %q removed more than the token", s, rest)
		}
		text, newCur := Replace(s, tok, tok.Complete(suggestion))
		if newCur < 0 || newCur > len(text) {
			t.Fatalf("Replace(%q, %q) cursor %d outside %q", s, suggestion, newCur, text)
		}
		if !strings.HasPrefix(text, s[:tok.Start]) {
			t.Fatalf("Replace(%q) changed text before the token: %q", s, text)
		}

		if _, err := Parse(s); err == nil {
			if _, err := Parse(rest); err != nil {
				t.Fatalf("%q parses but without the token at %d, %q does not: %v", s, pos, rest, err)
			}
		}
	})
}
