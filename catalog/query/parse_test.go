package query

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Query
		// canonical is the expected String(); "" means the input itself.
		canonical string
	}{
		{in: "", want: Query{}},
		{in: " \t\n ", want: Query{}, canonical: ""},
		{in: "lang:go", want: Query{Filters: []Filter{{"lang", []string{"go"}}}}},
		{
			in: "lang:go framework:gin",
			want: Query{Filters: []Filter{
				{"lang", []string{"go"}},
				{"framework", []string{"gin"}},
			}},
		},
		{in: "-license:gpl", want: Query{Excludes: []Filter{{"license", []string{"gpl"}}}}},
		{in: "lang:go,rust", want: Query{Filters: []Filter{{"lang", []string{"go", "rust"}}}}},
		{in: "-lang:go,rust", want: Query{Excludes: []Filter{{"lang", []string{"go", "rust"}}}}},
		{
			in:        "lang:go,Go,rust,GO", // duplicates collapse after case folding
			want:      Query{Filters: []Filter{{"lang", []string{"go", "rust"}}}},
			canonical: "lang:go,rust",
		},
		{
			in:        "lang:go lang:js",
			want:      Query{Filters: []Filter{{"lang", []string{"go"}}, {"lang", []string{"js"}}}},
			canonical: "lang:go lang:js",
		},
		{in: "LANG:Go", want: Query{Filters: []Filter{{"lang", []string{"go"}}}}, canonical: "lang:go"},
		{in: "runtime:node:20", want: Query{Filters: []Filter{{"runtime", []string{"node:20"}}}}},
		{in: "k.e_y-1:v", want: Query{Filters: []Filter{{"k.e_y-1", []string{"v"}}}}},
		{in: "status:ready", want: Query{Filters: []Filter{{"status", []string{"ready"}}}}},
		{in: "lang:Ünïcode", want: Query{Filters: []Filter{{"lang", []string{"ünïcode"}}}}, canonical: "lang:ünïcode"},
		{in: "chat", want: Query{Words: []string{"chat"}, Prefix: true}},
		{in: "chat ", want: Query{Words: []string{"chat"}}},
		{in: "Live Chat", want: Query{Words: []string{"live", "chat"}, Prefix: true}, canonical: "live chat"},
		{in: "chat lang:go", want: Query{Filters: []Filter{{"lang", []string{"go"}}}, Words: []string{"chat"}}, canonical: "lang:go chat "},
		{in: "lang:go chat", want: Query{Filters: []Filter{{"lang", []string{"go"}}}, Words: []string{"chat"}, Prefix: true}},
		{in: "c++ node.js", want: Query{Words: []string{"c++", "node.js"}, Prefix: true}},
		{in: `"live chat"`, want: Query{Phrases: []string{"live chat"}}},
		{in: `"  Live   Chat "`, want: Query{Phrases: []string{"live chat"}}, canonical: `"live chat"`},
		{in: "\"tab\tand\nnewline\"", want: Query{Phrases: []string{"tab and newline"}}, canonical: `"tab and newline"`},
		{in: `"https://example.com/x"`, want: Query{Phrases: []string{"https://example.com/x"}}},
		{in: `"--verbose"`, want: Query{Phrases: []string{"--verbose"}}},
		{in: `-"old stuff"`, want: Query{ExcludedPhrases: []string{"old stuff"}}},
		{in: "-php", want: Query{ExcludedWords: []string{"php"}}},
		{in: "chat -php", want: Query{Words: []string{"chat"}, ExcludedWords: []string{"php"}}, canonical: "-php chat "},
		{in: "a-b", want: Query{Words: []string{"a-b"}, Prefix: true}},
		{in: "\u00a0chat\u3000", want: Query{Words: []string{"chat"}}, canonical: "chat "},
		{
			in: `dash "real time" lang:go,js -license:gpl,agpl -"beta" -php framework:gin status:ready board`,
			want: Query{
				Filters:         []Filter{{"lang", []string{"go", "js"}}, {"framework", []string{"gin"}}, {"status", []string{"ready"}}},
				Excludes:        []Filter{{"license", []string{"gpl", "agpl"}}},
				Words:           []string{"dash", "board"},
				Phrases:         []string{"real time"},
				ExcludedWords:   []string{"php"},
				ExcludedPhrases: []string{"beta"},
				Prefix:          true,
			},
			canonical: `lang:go,js framework:gin status:ready -license:gpl,agpl "real time" -"beta" -php dash board`,
		},
		{in: strings.Repeat("w ", MaxTerms), want: Query{Words: repeat("w", MaxTerms)}},
		{in: "k:" + strings.Repeat("v,", MaxValues-1) + "v", want: Query{Filters: []Filter{{"k", []string{"v"}}}}, canonical: "k:v"},
		{
			in:   strings.Repeat("k", catalog.MaxTagKeyLen) + ":" + strings.Repeat("é", catalog.MaxTagValueLen),
			want: Query{Filters: []Filter{{strings.Repeat("k", catalog.MaxTagKeyLen), []string{strings.Repeat("é", catalog.MaxTagValueLen)}}}},
		},
	}

	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(*q, tt.want) {
				t.Fatalf("Parse(%q) =\n%#v\nwant\n%#v", tt.in, *q, tt.want)
			}
			canonical := tt.canonical
			if canonical == "" && !isBlank(tt.in) {
				canonical = tt.in
			}
			if got := q.String(); got != canonical {
				t.Fatalf("String() = %q, want %q", got, canonical)
			}
			again, err := Parse(q.String())
			if err != nil {
				t.Fatalf("Parse(String()) = %v", err)
			}
			if !reflect.DeepEqual(again, q) {
				t.Fatalf("round trip changed the query:\n%#v\n%#v", again, q)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

func TestParseErrors(t *testing.T) {
	tooManyTerms := strings.Repeat("w ", MaxTerms) + "x"
	values := make([]string, MaxValues+1)
	for i := range values {
		values[i] = fmt.Sprintf("v%d", i)
	}
	tooManyValues := "k:" + strings.Join(values, ",")
	tests := []struct {
		in   string
		pos  int
		want string // substring of the message
	}{
		{`"live chat`, 0, "unterminated quote"},
		{`lang:go "live chat`, 8, "unterminated quote"},
		{`-"live`, 1, "unterminated quote"},
		{`"live"chat`, 6, "expected a space after the closing"},
		{`""`, 0, "empty phrase"},
		{`"   "`, 0, "empty phrase"},
		{`-""`, 1, "empty phrase"},
		{`live"chat`, 4, `'"' inside a term`},
		{`lang:"go"`, 5, `'"' inside a term`},
		{`:go`, 0, "empty key before ':'"},
		{`chat -:go`, 6, "empty key before ':'"},
		{`lang:`, 5, `empty value after "lang:"`},
		{`-lang: x`, 6, `empty value after "lang:"`},
		{`lang:a,,b`, 7, "values are separated by one comma"},
		{`lang:,a`, 5, "values are separated by one comma"},
		{`lang:a,`, 7, "remove the trailing comma"},
		{`c++:x`, 1, `character '+' is not allowed in a tag key`},
		{`git+ssh://x`, 3, `character '+' is not allowed`},
		{`ké:v`, 1, `character 'é' is not allowed in a tag key`},
		{`-`, 0, "'-' must be followed by"},
		{`chat - php`, 5, "'-' must be followed by"},
		{`--verbose`, 1, `excluded with a single '-'; to search for text starting with '-', quote it: "--verbose"`},
		{`--lang:go`, 1, "excluded with a single '-'"},
		{strings.Repeat("k", catalog.MaxTagKeyLen+1) + ":v", 0, "longer than 64"},
		{"k:" + strings.Repeat("v", catalog.MaxTagValueLen+1), 2, "longer than 128"},
		{tooManyTerms, 2 * MaxTerms, "more than 32 terms"},
		{tooManyValues, strings.LastIndexByte(tooManyValues, ',') + 1, "more than 32 values"},
		{strings.Repeat("a", MaxBytes+1), MaxBytes, "longer than 1024 bytes"},
		{"chat \xff", 5, "not valid UTF-8"},
		{"chat\x00", 4, "control or invisible character U+0000"},
		{"ch\u200bat", 2, "U+200B"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tt.in, q)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *SyntaxError", err, err)
			}
			if se.Pos != tt.pos {
				t.Errorf("Pos = %d, want %d (%v)", se.Pos, tt.pos, err)
			}
			if !strings.Contains(se.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", se.Msg, tt.want)
			}
			if !errors.Is(err, catalog.ErrInvalid) {
				t.Errorf("errors.Is(%v, catalog.ErrInvalid) = false", err)
			}
			if !strings.Contains(err.Error(), "search query: ") {
				t.Errorf("Error() = %q does not say it is about the search query", err.Error())
			}
		})
	}
}

func TestURLIsAFilterUnlessQuoted(t *testing.T) {
	// Documented behaviour: a colon makes a filter.
	q, err := Parse("https://example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := []Filter{{"https", []string{"//example.com"}}}
	if !reflect.DeepEqual(q.Filters, want) {
		t.Fatalf("Filters = %#v, want %#v", q.Filters, want)
	}
}

func TestFilterValuesAreValidTags(t *testing.T) {
	q, err := Parse("Framework:Gin,FIBER -License:MIT runtime:node:20")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(q.Filters, q.Excludes...) {
		for i, tag := range f.Tags() {
			parsed, err := catalog.ParseTag(tag)
			if err != nil {
				t.Fatalf("Tags() gave %q, which catalog refuses: %v", tag, err)
			}
			if parsed.String() != tag || parsed.Value != f.Values[i] {
				t.Fatalf("Tags() gave %q, catalog normalises it to %q", tag, parsed.String())
			}
		}
	}
	if got := q.Filters[0].Tags(); !reflect.DeepEqual(got, []string{"framework:gin", "framework:fiber"}) {
		t.Fatalf("Tags() = %q", got)
	}
}

func TestPrefixWord(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dash", "dash"},
		{"lang:go Dash", "dash"},
		{"dash ", ""},
		{"dash lang:go", ""},
		{"chat -dash", ""},
		{`chat "dash"`, ""},
		{"", ""},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.PrefixWord(); got != tt.want {
			t.Errorf("Parse(%q).PrefixWord() = %q, want %q", tt.in, got, tt.want)
		}
	}
	var nilQuery *Query
	if nilQuery.PrefixWord() != "" || !nilQuery.IsEmpty() || nilQuery.HasText() || nilQuery.String() != "" {
		t.Fatal("a nil *Query is not the empty query")
	}
}

func TestSplit(t *testing.T) {
	q, err := Parse("status:ready,failed lang:go -status:queued -license:gpl chat")
	if err != nil {
		t.Fatal(err)
	}
	matched, rest := q.Split("Status")
	if want := "status:ready,failed -status:queued"; matched.String() != want {
		t.Errorf("matched = %q, want %q", matched.String(), want)
	}
	if want := "lang:go -license:gpl chat"; rest.String() != want {
		t.Errorf("rest = %q, want %q", rest.String(), want)
	}
	// The parts are copies: changing them leaves q alone.
	rest.Filters[0].Values[0] = "changed"
	matched.Filters[0].Values[0] = "changed"
	rest.Words[0] = "changed"
	if want := "status:ready,failed lang:go -status:queued -license:gpl chat"; q.String() != want {
		t.Errorf("q changed to %q", q.String())
	}
	if m, r := (*Query)(nil).Split("status"); !m.IsEmpty() || !r.IsEmpty() {
		t.Error("splitting a nil query gave conditions")
	}
}

func TestIsEmptyHasText(t *testing.T) {
	tests := []struct {
		in          string
		empty, text bool
	}{
		{"", true, false},
		{"   ", true, false},
		{"lang:go", false, false},
		{"-lang:go", false, false},
		{"chat", false, true},
		{`"a b"`, false, true},
		{"-chat", false, true},
		{`-"a b"`, false, true},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if q.IsEmpty() != tt.empty || q.HasText() != tt.text {
			t.Errorf("%q: IsEmpty=%v HasText=%v, want %v %v", tt.in, q.IsEmpty(), q.HasText(), tt.empty, tt.text)
		}
	}
}
