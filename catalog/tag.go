package catalog

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// TagSource says where a repository's tag came from. Manual tags survive
// re-ingestion; author and auto tags are replaced by each successful one.
type TagSource string

const (
	SourceAuthor TagSource = "author" // declared by the repository (tags.yaml, README front matter, package keywords)
	SourceManual TagSource = "manual" // set by a user through the API or CLI
	SourceAuto   TagSource = "auto"   // derived by ingestion (language, runtime, license, framework)
)

// Valid reports whether s is a known source.
func (s TagSource) Valid() bool {
	return s == SourceAuthor || s == SourceManual || s == SourceAuto
}

// Limits of tags.
const (
	MaxTagKeyLen   = 64
	MaxTagValueLen = 128
	MaxTagsPerRepo = 256
)

// Tag is a key:value label of a repository.
type Tag struct {
	Key    string    `json:"key"`
	Value  string    `json:"value"`
	Source TagSource `json:"source,omitempty"`
	// Count is the number of repositories carrying the tag, where listed.
	Count int64 `json:"count,omitempty"`
}

// String returns "key:value".
func (t Tag) String() string { return t.Key + ":" + t.Value }

// ParseTag parses and normalises "key:value". Keys are lower-case
// [a-z0-9._-]; values are printable, without spaces or commas (a comma means
// OR in the search language), and are lower-cased so that search and
// autocomplete are case-insensitive.
func ParseTag(s string) (Tag, error) {
	key, value, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Tag{}, fmt.Errorf("tag %q: want key:value, e.g. lang:go", textutil.Truncate(s, 80))
	}
	return NewTag(key, value)
}

// NewTag validates and normalises a key and a value.
func NewTag(key, value string) (Tag, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	value = strings.ToLower(strings.TrimSpace(value))
	if err := ValidateTagKey(key); err != nil {
		return Tag{}, err
	}
	if value == "" {
		return Tag{}, fmt.Errorf("tag %q: empty value, want key:value", key+":")
	}
	if utf8.RuneCountInString(value) > MaxTagValueLen {
		return Tag{}, fmt.Errorf("tag %q: value longer than %d characters", textutil.Truncate(key+":"+value, 80), MaxTagValueLen)
	}
	if !utf8.ValidString(value) {
		return Tag{}, fmt.Errorf("tag %q: value is not valid UTF-8", key)
	}
	for _, r := range value {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == ',' || r == '"' {
			return Tag{}, fmt.Errorf("tag %q: value may not contain %q (spaces, commas, double quotes and control characters are not allowed: the search language uses them)", textutil.Truncate(key+":"+value, 80), r)
		}
	}
	return Tag{Key: key, Value: value}, nil
}

// ValidateTagKey checks a lower-case tag key.
func ValidateTagKey(key string) error {
	if key == "" {
		return fmt.Errorf("tag key is empty, want key:value")
	}
	if len(key) > MaxTagKeyLen {
		return fmt.Errorf("tag key %q is longer than %d characters", textutil.Truncate(key, 80), MaxTagKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("tag key %q: only a-z, 0-9, '.', '_' and '-' are allowed", textutil.Truncate(key, 80))
		}
	}
	return nil
}

// SanitizeTagValue turns free text from metadata (a keyword, a framework
// name) into a valid tag value, or "" when nothing usable is left.
func SanitizeTagValue(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	dash := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == ',' || r == '"':
			if b.Len() > 0 && !dash {
				b.WriteByte('-')
				dash = true
			}
		case unicode.IsPrint(r):
			b.WriteRune(r)
			dash = false
		}
		if utf8.RuneCountInString(b.String()) >= MaxTagValueLen {
			break
		}
	}
	out := strings.Trim(b.String(), "-")
	for utf8.RuneCountInString(out) > MaxTagValueLen {
		_, size := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-size]
	}
	return out
}

// ParseTags parses the "key:value" tags a user gives in field (at most
// MaxTagsPerRepo); errors name the field.
func ParseTags(field string, raw []string) ([]Tag, error) {
	if len(raw) > MaxTagsPerRepo {
		return nil, Invalid(field, "more than %d tags", MaxTagsPerRepo)
	}
	tags := make([]Tag, 0, len(raw))
	for _, t := range raw {
		tag, err := ParseTag(t)
		if err != nil {
			return nil, Invalid(field, "%v", err)
		}
		tags = append(tags, tag)
	}
	return tags, nil
}
