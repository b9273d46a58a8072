package query

import (
	"fmt"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
)

// Limits of a query. They keep parsing, the SQL built from a query and the
// work it causes bounded, whatever a client sends.
const (
	// MaxBytes is the longest query accepted, in bytes.
	MaxBytes = 1024
	// MaxTerms is the largest number of whitespace-separated terms.
	MaxTerms = 32
	// MaxValues is the largest number of comma-separated values in one
	// key:a,b,… term.
	MaxValues = 32
)

// Query is a parsed search. Every string in it is lower-cased; the zero value
// (and a nil *Query) is the empty query that selects everything.
//
// Turning it into SQL: each Filter is one AND-ed condition "the repository
// carries at least one of Filter.Tags()" (tags && $n); each of Excludes is
// "carries none of them" (NOT tags && $n); Words and Phrases are AND-ed full
// text conditions, ExcludedWords and ExcludedPhrases negated ones; when
// Prefix is set the last element of Words may match as a prefix.
type Query struct {
	// Filters are the key:value terms, in input order. A repository must
	// match every Filter, and a Filter when it carries any of its Values.
	// Two terms with the same key stay two Filters (lang:go lang:js means
	// both languages).
	Filters []Filter `json:"filters,omitempty"`
	// Excludes are the -key:value terms: a repository carrying any of the
	// values of any of them is left out.
	Excludes []Filter `json:"excludes,omitempty"`
	// Words are the bare words, full text over name, description and README.
	Words []string `json:"words,omitempty"`
	// Phrases are the "quoted phrases", whitespace collapsed to one space.
	Phrases []string `json:"phrases,omitempty"`
	// ExcludedWords are the -words: repositories whose text contains one
	// are left out.
	ExcludedWords []string `json:"excluded_words,omitempty"`
	// ExcludedPhrases are the -"quoted phrases".
	ExcludedPhrases []string `json:"excluded_phrases,omitempty"`
	// Prefix says that the last of Words ended the input with no
	// whitespace after it: the user is still typing it, so full text
	// should match it as a prefix ("cha" finds "chat").
	Prefix bool `json:"prefix,omitempty"`
}

// Filter is one key:value,… term: the repository must carry key:v for at
// least one v of Values (OR within a key).
type Filter struct {
	Key    string   `json:"key"`
	Values []string `json:"values"` // lower-case, no duplicates, never empty
}

// Tags returns the filter's values as "key:value" strings, the form stored
// in repositories.tags.
func (f Filter) Tags() []string {
	out := make([]string, len(f.Values))
	for i, v := range f.Values {
		out[i] = f.Key + ":" + v
	}
	return out
}

// String returns "key:v1,v2".
func (f Filter) String() string { return f.Key + ":" + strings.Join(f.Values, ",") }

// IsEmpty reports whether the query has no condition at all.
func (q *Query) IsEmpty() bool {
	return q == nil || len(q.Filters) == 0 && len(q.Excludes) == 0 && len(q.Words) == 0 &&
		len(q.Phrases) == 0 && len(q.ExcludedWords) == 0 && len(q.ExcludedPhrases) == 0
}

// HasText reports whether the query has a full text condition, positive or
// negative.
func (q *Query) HasText() bool {
	return q != nil && (len(q.Words) > 0 || len(q.Phrases) > 0 || len(q.ExcludedWords) > 0 || len(q.ExcludedPhrases) > 0)
}

// PrefixWord returns the word the user is still typing (the last of Words
// when Prefix is set), or "".
func (q *Query) PrefixWord() string {
	if q == nil || !q.Prefix || len(q.Words) == 0 {
		return ""
	}
	return q.Words[len(q.Words)-1]
}

// Split separates the filters and excludes on key from the rest of the query.
// Callers use it for keys that are not tags: status:ready selects by ingest
// status, so the search takes it out and filters the column instead.
// Both results are fresh copies; q is not changed.
func (q *Query) Split(key string) (matched, rest *Query) {
	matched, rest = &Query{}, &Query{}
	if q == nil {
		return matched, rest
	}
	key = strings.ToLower(key)
	for _, f := range q.Filters {
		if f.Key == key {
			matched.Filters = append(matched.Filters, f.clone())
		} else {
			rest.Filters = append(rest.Filters, f.clone())
		}
	}
	for _, f := range q.Excludes {
		if f.Key == key {
			matched.Excludes = append(matched.Excludes, f.clone())
		} else {
			rest.Excludes = append(rest.Excludes, f.clone())
		}
	}
	rest.Words = clone(q.Words)
	rest.Phrases = clone(q.Phrases)
	rest.ExcludedWords = clone(q.ExcludedWords)
	rest.ExcludedPhrases = clone(q.ExcludedPhrases)
	rest.Prefix = q.Prefix
	return matched, rest
}

func (f Filter) clone() Filter { return Filter{Key: f.Key, Values: clone(f.Values)} }

func clone(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

// String returns the canonical form of the query: filters, excludes,
// phrases, excluded phrases, excluded words, then words, separated by one
// space. When the last word is not a prefix (see Query.Prefix) a trailing
// space says so. For every query that Parse returns,
// Parse(q.String()) returns an equal query.
func (q *Query) String() string {
	if q == nil {
		return ""
	}
	var parts []string
	for _, f := range q.Filters {
		parts = append(parts, f.String())
	}
	for _, f := range q.Excludes {
		parts = append(parts, "-"+f.String())
	}
	for _, p := range q.Phrases {
		parts = append(parts, `"`+p+`"`)
	}
	for _, p := range q.ExcludedPhrases {
		parts = append(parts, `-"`+p+`"`)
	}
	for _, w := range q.ExcludedWords {
		parts = append(parts, "-"+w)
	}
	parts = append(parts, q.Words...)
	s := strings.Join(parts, " ")
	if len(q.Words) > 0 && !q.Prefix {
		s += " "
	}
	return s
}

// SyntaxError is a query that cannot be parsed. It matches catalog.ErrInvalid
// with errors.Is, so the API answers 400.
type SyntaxError struct {
	// Pos is the byte offset in the input where the problem is; it may be
	// len(input) when something is missing at the end.
	Pos int
	// Msg says what was wrong and what was expected.
	Msg string
	// Char is where the problem is as people count: characters from 1.
	Char int
}

func (e *SyntaxError) Error() string {
	if e.Char > 0 {
		return fmt.Sprintf("search query: %s (at character %d)", e.Msg, e.Char)
	}
	return fmt.Sprintf("search query: %s (at byte %d)", e.Msg, e.Pos)
}

// Is makes errors.Is(err, catalog.ErrInvalid) true.
func (e *SyntaxError) Is(target error) bool { return target == catalog.ErrInvalid }
