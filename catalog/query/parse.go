package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/catalog"
)

// span is the byte range [start, end) of one raw term in the input.
type span struct{ start, end int }

// scan splits s into raw terms. It never fails, so that TokenAt sees the
// same terms as Parse even in input Parse refuses. A term runs to the next
// whitespace, except that a term starting with `"` or `-"` runs to the
// closing quote first (spaces inside are part of the phrase) and to the end
// of the input when the quote is never closed. A quote anywhere else is just
// a character of the term, which Parse then rejects: keeping stray quotes
// local means one typo does not swallow the rest of the query.
func scan(s string) []span {
	var out []span
	i := 0
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			i += w
			continue
		}
		start := i
		j := i
		if s[j] == '-' {
			j++
		}
		if j < len(s) && s[j] == '"' {
			k := strings.IndexByte(s[j+1:], '"')
			if k < 0 {
				out = append(out, span{start, len(s)})
				return out
			}
			i = j + 1 + k + 1
		}
		for i < len(s) {
			r, w := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += w
		}
		out = append(out, span{start, i})
	}
	return out
}

// Parse parses a search query. See the package documentation for the
// grammar. Errors are *SyntaxError.
func Parse(s string) (*Query, error) {
	q, err := parse(s)
	if se, ok := err.(*SyntaxError); ok {
		// Every client says where the mistake is in characters, from 1
		// (the byte offset Pos is for programs).
		se.Char = utf8.RuneCountInString(s[:min(se.Pos, len(s))]) + 1
	}
	return q, err
}

func parse(s string) (*Query, error) {
	if len(s) > MaxBytes {
		return nil, syntaxErr(MaxBytes, "the query is longer than %d bytes: shorten it", MaxBytes)
	}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			return nil, syntaxErr(i, "the query is not valid UTF-8: send UTF-8 text")
		}
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return nil, syntaxErr(i, "control or invisible character %U: remove it", r)
		}
		i += w
	}
	terms := scan(s)
	if len(terms) > MaxTerms {
		return nil, syntaxErr(terms[MaxTerms].start, "more than %d terms: remove some", MaxTerms)
	}
	q := &Query{}
	for i, t := range terms {
		word, err := parseTerm(q, s, t)
		if err != nil {
			return nil, err
		}
		q.Prefix = word && i == len(terms)-1 && t.end == len(s)
	}
	return q, nil
}

// parseTerm adds the term s[t.start:t.end] to q. It reports whether the term
// was a positive bare word, the only kind that can be a prefix.
func parseTerm(q *Query, s string, t span) (word bool, err error) {
	pos := t.start
	negated := s[pos] == '-'
	if negated {
		pos++
	}
	body := s[pos:t.end]
	switch {
	case body == "":
		return false, syntaxErr(t.start, `'-' must be followed by key:value, a word or a "quoted phrase" with no space in between`)
	case body[0] == '-':
		return false, syntaxErr(pos, `a term is excluded with a single '-'; to search for text starting with '-', quote it: "%s"`, trimQuotes(s[t.start:t.end]))
	case body[0] == '"':
		p, err := parsePhrase(s, pos, t.end)
		if err != nil {
			return false, err
		}
		if negated {
			q.ExcludedPhrases = append(q.ExcludedPhrases, p)
		} else {
			q.Phrases = append(q.Phrases, p)
		}
		return false, nil
	}
	if i := strings.IndexByte(body, '"'); i >= 0 {
		return false, syntaxErr(pos+i, `'"' inside a term: a quoted phrase must be a whole term, e.g. "hello world"; tag values cannot contain quotes`)
	}
	colon := strings.IndexByte(body, ':')
	if colon < 0 {
		w := strings.ToLower(body)
		if negated {
			q.ExcludedWords = append(q.ExcludedWords, w)
		} else {
			q.Words = append(q.Words, w)
		}
		return !negated, nil
	}
	f, err := parseFilter(s, pos, pos+colon, t.end)
	if err != nil {
		return false, err
	}
	if negated {
		q.Excludes = append(q.Excludes, f)
	} else {
		q.Filters = append(q.Filters, f)
	}
	return false, nil
}

// parsePhrase parses the phrase whose opening quote is at s[open] and whose
// term ends at end.
func parsePhrase(s string, open, end int) (string, error) {
	k := strings.IndexByte(s[open+1:end], '"')
	if k < 0 {
		return "", syntaxErr(open, `unterminated quote: add a closing '"' after the phrase`)
	}
	closing := open + 1 + k
	if closing+1 != end {
		return "", syntaxErr(closing+1, `expected a space after the closing '"' of a phrase`)
	}
	p := strings.ToLower(strings.Join(strings.Fields(s[open+1:closing]), " "))
	if p == "" {
		return "", syntaxErr(open, `empty phrase: put words between the quotes, e.g. "hello world"`)
	}
	return p, nil
}

// parseFilter parses key:v1,v2 where s[start:colon] is the key and the term
// ends at end.
func parseFilter(s string, start, colon, end int) (Filter, error) {
	key := s[start:colon]
	if key == "" {
		return Filter{}, syntaxErr(colon, "empty key before ':': want key:value, e.g. lang:go")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			r, _ := utf8.DecodeRuneInString(key[i:])
			return Filter{}, syntaxErr(start+i, "character %q is not allowed in a tag key (before ':'): keys use a-z, 0-9, '.', '_' and '-'; quote text that contains ':', e.g. \"%s\"", r, s[start:end])
		}
	}
	if len(key) > catalog.MaxTagKeyLen {
		return Filter{}, syntaxErr(start, "tag key %q is longer than %d characters", key[:20]+"…", catalog.MaxTagKeyLen)
	}
	f := Filter{Key: strings.ToLower(key)}
	if colon+1 == end {
		return Filter{}, syntaxErr(end, "empty value after %q: want a value, e.g. %sgo, or %sa,b for either of two", s[start:end], s[start:end], s[start:end])
	}
	for vs := colon + 1; ; {
		ve := vs + strings.IndexByte(s[vs:end], ',')
		if ve < vs {
			ve = end
		}
		if ve == vs {
			if ve == end {
				return Filter{}, syntaxErr(vs, "empty value after ',' in %q: remove the trailing comma or add a value", s[start:end])
			}
			return Filter{}, syntaxErr(vs, "empty value in %q: values are separated by one comma, e.g. %s:a,b", s[start:end], f.Key)
		}
		v := s[vs:ve]
		if utf8.RuneCountInString(v) > catalog.MaxTagValueLen {
			return Filter{}, syntaxErr(vs, "tag value is longer than %d characters", catalog.MaxTagValueLen)
		}
		if v = strings.ToLower(v); !contains(f.Values, v) {
			if len(f.Values) == MaxValues {
				return Filter{}, syntaxErr(vs, "more than %d values for %q: split the search", MaxValues, f.Key)
			}
			f.Values = append(f.Values, v)
		}
		if ve == end {
			return f, nil
		}
		vs = ve + 1
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func trimQuotes(s string) string { return strings.ReplaceAll(s, `"`, "") }

func syntaxErr(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
