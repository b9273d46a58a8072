package query

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// cursor splits a test input at its '|', the cursor.
func cursor(t *testing.T, marked string) (string, int) {
	t.Helper()
	pos := strings.IndexByte(marked, '|')
	if pos < 0 || strings.Count(marked, "|") != 1 {
		t.Fatalf("test input %q must hold exactly one '|' for the cursor", marked)
	}
	return marked[:pos] + marked[pos+1:], pos
}

func TestTokenAt(t *testing.T) {
	tests := []struct {
		in   string // '|' is the cursor
		want Token  // Text is filled from Start/End
	}{
		{"|", Token{Start: 0, End: 0, Kind: KindWord}},
		{"fra|", Token{Start: 0, End: 3, Kind: KindWord, Value: "fra", Prefix: "fra"}},
		{"FRA|", Token{Start: 0, End: 3, Kind: KindWord, Value: "fra", Prefix: "fra"}},
		{"fr|a", Token{Start: 0, End: 3, Kind: KindWord, Value: "fra", Prefix: "fr"}},
		{"|fra", Token{Start: 0, End: 0, Kind: KindWord}},
		{"lang:go fra|", Token{Start: 8, End: 11, Kind: KindWord, Value: "fra", Prefix: "fra"}},
		{"lang:go |", Token{Start: 8, End: 8, Kind: KindWord}},
		{"lang:go | chat", Token{Start: 8, End: 8, Kind: KindWord}},
		{"lang:go |chat", Token{Start: 8, End: 8, Kind: KindWord}},
		{"lang:go| chat", Token{Start: 0, End: 7, Kind: KindValue, HasColon: true, Key: "lang", Values: []string{"go"}, Value: "go", Prefix: "go"}},
		{"framework:|", Token{Start: 0, End: 10, Kind: KindValue, HasColon: true, Key: "framework", Values: []string{""}}},
		{"framework:g|", Token{Start: 0, End: 11, Kind: KindValue, HasColon: true, Key: "framework", Values: []string{"g"}, Value: "g", Prefix: "g"}},
		{"Framework:G|in", Token{Start: 0, End: 13, Kind: KindValue, HasColon: true, Key: "framework", Values: []string{"gin"}, Value: "gin", Prefix: "g"}},
		{"lang:go,r|", Token{Start: 0, End: 9, Kind: KindValue, HasColon: true, Key: "lang", Values: []string{"go", "r"}, Index: 1, Value: "r", Prefix: "r"}},
		{"lang:go,|", Token{Start: 0, End: 8, Kind: KindValue, HasColon: true, Key: "lang", Values: []string{"go", ""}, Index: 1}},
		{"lang:g|o,rust", Token{Start: 0, End: 12, Kind: KindValue, HasColon: true, Key: "lang", Values: []string{"go", "rust"}, Value: "go", Prefix: "g"}},
		{"lang:go,|rust", Token{Start: 0, End: 12, Kind: KindValue, HasColon: true, Key: "lang", Values: []string{"go", "rust"}, Index: 1, Value: "rust"}},
		{"runtime:node:2|", Token{Start: 0, End: 14, Kind: KindValue, HasColon: true, Key: "runtime", Values: []string{"node:2"}, Value: "node:2", Prefix: "node:2"}},
		{"fra|mework:gin", Token{Start: 0, End: 13, Kind: KindWord, HasColon: true, Value: "framework", Prefix: "fra"}},
		{"lang|:go", Token{Start: 0, End: 7, Kind: KindWord, HasColon: true, Value: "lang", Prefix: "lang"}},
		{"-|", Token{Start: 0, End: 1, Kind: KindWord, Negated: true}},
		{"-fra|", Token{Start: 0, End: 4, Kind: KindWord, Negated: true, Value: "fra", Prefix: "fra"}},
		{"-|fra", Token{Start: 0, End: 4, Kind: KindWord, Negated: true, Value: "fra"}},
		{"chat -license:g|", Token{Start: 5, End: 15, Kind: KindValue, Negated: true, HasColon: true, Key: "license", Values: []string{"g"}, Value: "g", Prefix: "g"}},
		{`"live ch|`, Token{Start: 0, End: 8, Kind: KindPhrase, Value: "live ch", Prefix: "live ch"}},
		{`lang:go "Live| chat" x`, Token{Start: 8, End: 19, Kind: KindPhrase, Value: "live chat", Prefix: "live"}},
		{`"live chat"|`, Token{Start: 0, End: 11, Kind: KindPhrase, Value: "live chat", Prefix: "live chat"}},
		{`-"old| stuff"`, Token{Start: 0, End: 12, Kind: KindPhrase, Negated: true, Value: "old stuff", Prefix: "old"}},
		{`"a b" "c |d`, Token{Start: 6, End: 10, Kind: KindPhrase, Value: "c d", Prefix: "c "}},
		{"é|", Token{Start: 0, End: 2, Kind: KindWord, Value: "é", Prefix: "é"}},
		{"a\u00a0|b", Token{Start: 3, End: 3, Kind: KindWord}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, pos := cursor(t, tt.in)
			want := tt.want
			want.Text = s[want.Start:want.End]
			got := TokenAt(s, pos)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("TokenAt(%q, %d) =\n%#v\nwant\n%#v", s, pos, got, want)
			}
		})
	}
}

func TestTokenAtClampsTheCursor(t *testing.T) {
	s := "lang:go fra"
	if got := TokenAt(s, 1000); got.Start != 8 || got.End != 11 || got.Prefix != "fra" {
		t.Errorf("TokenAt past the end = %+v, want the last term", got)
	}
	if got := TokenAt(s, -5); got.Start != 0 || got.End != 0 {
		t.Errorf("TokenAt before the start = %+v, want an empty token at 0", got)
	}
}

func TestWithoutToken(t *testing.T) {
	tests := []struct {
		in, want string // '|' is the cursor
		rest     string // canonical form of the parsed rest
	}{
		{"lang:go fra|", "lang:go ", "lang:go"},
		{"fra| lang:go", " lang:go", "lang:go"},
		{"lang:go framework:g| -license:gpl chat", "lang:go  -license:gpl chat", "lang:go -license:gpl chat"},
		{"lang:go,r| framework:gin", " framework:gin", "framework:gin"},
		{"lang:go |", "lang:go ", "lang:go"},
		{`lang:go "live| chat"`, "lang:go ", "lang:go"},
		{`lang:go "live chat|`, "lang:go ", "lang:go"},
		{"-license:g| dash", " dash", "dash"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, pos := cursor(t, tt.in)
			got := WithoutToken(s, TokenAt(s, pos))
			if got != tt.want {
				t.Fatalf("WithoutToken = %q, want %q", got, tt.want)
			}
			q, err := Parse(got)
			if err != nil {
				t.Fatalf("the rest %q does not parse: %v", got, err)
			}
			if q.String() != tt.rest {
				t.Fatalf("rest parses as %q, want %q", q.String(), tt.rest)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		in, suggestion, want string
	}{
		{"fra|", "framework:", "framework:"},
		{"fra|", "framework:gin", "framework:gin"},
		{"framework:g|", "gin", "framework:gin"},
		{"lang:go,r|", "rust", "lang:go,rust"},
		{"lang:g|o,rust", "js", "lang:js,rust"},
		{"-license:g|", "gpl", "license:gpl"},
		{`"live ch|`, "live chat", `"live chat"`},
		// The cursor in the key of a pair: a key keeps the values, a pair
		// replaces the term.
		{"la|ng:go,rust", "language:", "language:go,rust"},
		{"-lic|:mit", "license:", "license:mit"},
		{"la|ng:go", "lang:python", "lang:python"},
		{"la|ng:", "language:", "language:"},
	}
	for _, tt := range tests {
		s, pos := cursor(t, tt.in)
		if got := TokenAt(s, pos).Complete(tt.suggestion); got != tt.want {
			t.Errorf("TokenAt(%q).Complete(%q) = %q, want %q", tt.in, tt.suggestion, got, tt.want)
		}
	}
}

func TestReplace(t *testing.T) {
	tests := []struct {
		in         string // '|' is the cursor
		suggestion string // passed through Token.Complete
		want       string // '|' is the new cursor
	}{
		{"fra|", "framework:gin", "framework:gin |"},
		{"fra|", "framework:", "framework:|"},
		{"lang:go fra|", "framework:gin", "lang:go framework:gin |"},
		{"fr|a lang:go", "framework:gin", "framework:gin |lang:go"},
		{"fra| lang:go", "framework:", "framework:| lang:go"},
		{"framework:g|", "gin", "framework:gin |"},
		{"framework:g| chat", "gin", "framework:gin |chat"},
		{"lang:go,r|", "rust", "lang:go,rust |"},
		{"-fra|", "framework:gin", "-framework:gin |"},
		{"-license:g|", "gpl", "-license:gpl |"},
		{"lang:go |", "framework:gin", "lang:go framework:gin |"},
		{"|chat", "lang:go", "lang:go |chat"},
		{"|chat", "lang:", "lang:| chat"},
		{"lang:go | chat", "framework:gin", "lang:go framework:gin |chat"},
		{"|", "lang:", "lang:|"},
		{"la|ng:go chat", "language:", "language:go |chat"},
		{"-lic|:mit", "license:", "-license:mit |"},
		{"é fr|a", "framework:gin", "é framework:gin |"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, pos := cursor(t, tt.in)
			tok := TokenAt(s, pos)
			text, cur := Replace(s, tok, tok.Complete(tt.suggestion))
			if got := text[:cur] + "|" + text[cur:]; got != tt.want {
				t.Fatalf("Replace = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReplaceKeepsAnExplicitDash(t *testing.T) {
	s := "-fra"
	text, cur := Replace(s, TokenAt(s, len(s)), "-framework:gin")
	if text != "-framework:gin " || cur != len(text) {
		t.Fatalf("Replace = %q, %d", text, cur)
	}
}

func TestStaleTokenDoesNotPanic(t *testing.T) {
	tok := TokenAt("lang:go framework:gin", 21)
	short := "lang"
	if got := WithoutToken(short, tok); got != short {
		t.Errorf("WithoutToken with a stale token = %q, want %q", got, short)
	}
	text, cur := Replace(short, tok, "x")
	if cur < 0 || cur > len(text) {
		t.Errorf("Replace with a stale token put the cursor at %d in %q", cur, text)
	}
}

func TestKindJSON(t *testing.T) {
	tok := TokenAt("lang:g", 6)
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kind":"value"`) {
		t.Fatalf("JSON %s does not name the kind", b)
	}
	var back Token
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tok) {
		t.Fatalf("JSON round trip: %#v, want %#v", back, tok)
	}
	var k Kind
	if err := k.UnmarshalText([]byte("nope")); err == nil {
		t.Fatal("UnmarshalText accepted an unknown kind")
	}
	if _, err := Kind(7).MarshalText(); err == nil {
		t.Fatal("MarshalText accepted an unknown kind")
	}
	if Kind(7).String() != "Kind(7)" || KindPhrase.String() != "phrase" {
		t.Fatal("Kind.String")
	}
}
