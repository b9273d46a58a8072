package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says what the token under the cursor is, and so what autocomplete
// offers for it.
type Kind int

const (
	// KindWord is a key, a key:value pair or a word being typed: there is
	// no ':' before the cursor in the term. Autocomplete offers keys and
	// key:value pairs starting with Token.Prefix.
	KindWord Kind = iota
	// KindValue is the value of a key:… term being typed: autocomplete
	// offers the values of Token.Key starting with Token.Prefix.
	KindValue
	// KindPhrase is inside a "quoted phrase": there is nothing to complete.
	KindPhrase
)

var kindNames = [...]string{KindWord: "word", KindValue: "value", KindPhrase: "phrase"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText encodes the kind as "word", "value" or "phrase".
func (k Kind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("query: unknown token kind %d", int(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText decodes "word", "value" or "phrase".
func (k *Kind) UnmarshalText(b []byte) error {
	for i, name := range kindNames {
		if string(b) == name {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("query: unknown token kind %q: want word, value or phrase", b)
}

// Token is the term the cursor is in, for autocomplete.
type Token struct {
	// Start and End are the byte range of the whole term in the input,
	// including a leading '-' and quotes. Start == End is an empty token:
	// the cursor is on whitespace (e.g. right after a space) or right
	// before a term, where a new term would be inserted.
	Start int `json:"start"`
	End   int `json:"end"`
	// Text is input[Start:End].
	Text    string `json:"text"`
	Kind    Kind   `json:"kind"`
	Negated bool   `json:"negated,omitempty"` // the term starts with '-'
	// HasColon says the term contains ':' (for KindWord: after the cursor).
	HasColon bool `json:"has_colon,omitempty"`
	// Key is the lower-cased key of a KindValue token.
	Key string `json:"key,omitempty"`
	// Values are, for KindValue, all comma-separated values of the term,
	// lower-cased, the one being typed included (possibly ""); Index is the
	// position of that one. Autocomplete may leave out the others.
	Values []string `json:"values,omitempty"`
	Index  int      `json:"index,omitempty"`
	// Value is the lower-cased part being completed: the word or key
	// (KindWord), Values[Index] (KindValue) or the phrase (KindPhrase).
	Value string `json:"value"`
	// Prefix is Value up to the cursor: what suggestions must start with.
	Prefix string `json:"prefix"`
}

// TokenAt returns the token that holds the cursor at byte offset pos of s
// (clamped to [0, len(s)]; an offset inside a multi-byte character counts
// as the start of that character). The cursor is in a term when it is after the
// term's first byte and at most at its end, so "fra|" and "fr|a" are in
// "fra", while "lang:go |" and "|fra" give an empty KindWord token at pos.
// TokenAt never fails; it sees the same terms as Parse, also in input Parse
// would refuse.
func TokenAt(s string, pos int) Token {
	pos = runeStart(s, min(max(pos, 0), len(s)))
	for _, t := range scan(s) {
		if t.start < pos && pos <= t.end {
			return termToken(s, t, pos)
		}
		if t.start >= pos {
			break
		}
	}
	return Token{Start: pos, End: pos, Kind: KindWord}
}

func termToken(s string, t span, pos int) Token {
	tok := Token{Start: t.start, End: t.end, Text: s[t.start:t.end], Kind: KindWord}
	body := t.start
	if s[body] == '-' {
		tok.Negated = true
		body++
	}
	if body < t.end && s[body] == '"' {
		tok.Kind = KindPhrase
		open := body + 1
		closing := t.end
		if k := strings.IndexByte(s[open:t.end], '"'); k >= 0 {
			closing = open + k
		}
		tok.Value = strings.ToLower(s[open:closing])
		tok.Prefix = strings.ToLower(s[open:min(max(pos, open), closing)])
		return tok
	}
	colon := body + strings.IndexByte(s[body:t.end], ':')
	if colon < body || pos <= colon {
		// No colon, or the cursor is in the key: the key (or word) is
		// being typed.
		end := t.end
		if colon >= body {
			end = colon
			tok.HasColon = true
		}
		tok.Value = strings.ToLower(s[body:end])
		tok.Prefix = strings.ToLower(s[body:max(pos, body)])
		return tok
	}
	tok.Kind = KindValue
	tok.HasColon = true
	tok.Key = strings.ToLower(s[body:colon])
	tok.Index = -1
	for vs := colon + 1; ; {
		ve := vs + strings.IndexByte(s[vs:t.end], ',')
		if ve < vs {
			ve = t.end
		}
		if tok.Index < 0 && pos <= ve {
			tok.Index = len(tok.Values)
			tok.Prefix = strings.ToLower(s[vs:pos])
		}
		tok.Values = append(tok.Values, strings.ToLower(s[vs:ve]))
		if ve == t.end {
			break
		}
		vs = ve + 1
	}
	tok.Value = tok.Values[tok.Index]
	return tok
}

// Complete returns the term, without a leading '-', that accepting
// suggestion for the part being typed makes: for KindWord the suggestion
// itself (a key "framework:", a pair "framework:gin" or a word), except
// that a key accepted with the cursor in the key of a key:value term keeps
// its values ("la|ng:go" completed with "language:" is "language:go"); for
// KindValue the key with Values[Index] replaced ("lang:go,r" completed with
// "rust" is "lang:go,rust"); for KindPhrase the quoted suggestion. Pass the
// result to Replace.
func (t Token) Complete(suggestion string) string {
	switch t.Kind {
	case KindValue:
		values := clone(t.Values)
		if t.Index >= 0 && t.Index < len(values) {
			values[t.Index] = suggestion
		} else {
			values = append(values, suggestion)
		}
		return t.Key + ":" + strings.Join(values, ",")
	case KindPhrase:
		return `"` + suggestion + `"`
	default:
		// The cursor is in the key of a key:value term ("la|ng:go"): a key
		// replaces the key and keeps the values the user typed, which
		// replacing the whole term would throw away.
		if t.HasColon && strings.HasSuffix(suggestion, ":") {
			body := strings.TrimPrefix(t.Text, "-")
			if i := strings.IndexByte(body, ':'); i >= 0 {
				return suggestion + body[i+1:]
			}
		}
		return suggestion
	}
}

// WithoutToken returns s with the token's term removed: the rest of the
// query, which narrows autocomplete counts. Removing a term of a query that
// parses leaves a query that parses.
func WithoutToken(s string, tok Token) string {
	start, end := bounds(s, tok)
	return s[:start] + s[end:]
}

// Replace puts term (usually tok.Complete(suggestion)) in place of the
// token's term and returns the new text and the cursor after it. The rules,
// which the web view mirrors:
//   - a negated token stays negated: '-' is put before term unless term
//     already starts with '-';
//   - a term ending in ':' (a key) leaves the cursor right after the ':' so
//     the value can be typed, with a space before any following term;
//   - any other term is finished: the cursor goes after one space, which is
//     added unless whitespace already follows.
func Replace(s string, tok Token, term string) (newText string, newCursor int) {
	start, end := bounds(s, tok)
	if tok.Negated && !strings.HasPrefix(term, "-") {
		term = "-" + term
	}
	before, after := s[:start], s[end:]
	cursor := len(before) + len(term)
	spaceFollows := false
	if r, w := utf8.DecodeRuneInString(after); w > 0 && unicode.IsSpace(r) {
		spaceFollows = true
		if !strings.HasSuffix(term, ":") {
			cursor += w
		}
	}
	if !spaceFollows && (after != "" || !strings.HasSuffix(term, ":")) {
		after = " " + after
		if !strings.HasSuffix(term, ":") {
			cursor++
		}
	}
	return before + term + after, cursor
}

// runeStart moves pos back to the first byte of the UTF-8 sequence it is
// in, so that a prefix never ends in half a character. It looks back at most
// utf8.UTFMax-1 bytes: further back there is no sequence pos could belong to.
func runeStart(s string, pos int) int {
	for i := 1; i < utf8.UTFMax && pos > 0 && pos < len(s) && !utf8.RuneStart(s[pos]); i++ {
		pos--
	}
	return pos
}

// bounds clamps a token's range to s, so that a stale token cannot panic.
func bounds(s string, tok Token) (start, end int) {
	start = min(max(tok.Start, 0), len(s))
	end = min(max(tok.End, start), len(s))
	return start, end
}
