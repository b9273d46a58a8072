package metadata

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/catalog"
)

// tagSet collects tags from all sources: one tag per key:value, an author tag
// wins over an auto tag of the same key:value, and author tags are kept first
// when the set is over catalog.MaxTagsPerRepo.
type tagSet struct {
	tags []catalog.Tag
	idx  map[string]int
}

func newTagSet() *tagSet { return &tagSet{idx: map[string]int{}} }

// add sanitises value, validates key and records the tag. It returns a
// reason when the tag cannot be made valid, "" otherwise.
func (s *tagSet) add(src catalog.TagSource, key, value string) string {
	v := catalog.SanitizeTagValue(value)
	if v == "" {
		return "empty value"
	}
	t, err := catalog.NewTag(key, v)
	if err != nil {
		return err.Error()
	}
	t.Source = src
	k := t.String()
	if i, ok := s.idx[k]; ok {
		if src == catalog.SourceAuthor {
			s.tags[i].Source = catalog.SourceAuthor
		}
		return ""
	}
	// Bound memory against a file that lists thousands of keywords; the
	// final cut to MaxTagsPerRepo happens in list.
	if len(s.tags) >= 4*catalog.MaxTagsPerRepo {
		return "too many tags"
	}
	s.idx[k] = len(s.tags)
	s.tags = append(s.tags, t)
	return ""
}

// list returns at most catalog.MaxTagsPerRepo tags, sorted by key and value,
// and how many were dropped to stay within the bound.
func (s *tagSet) list() ([]catalog.Tag, int) {
	kept := make([]catalog.Tag, 0, len(s.tags))
	for _, src := range []catalog.TagSource{catalog.SourceAuthor, catalog.SourceAuto} {
		for _, t := range s.tags {
			if t.Source == src && len(kept) < catalog.MaxTagsPerRepo {
				kept = append(kept, t)
			}
		}
	}
	sort.Slice(kept, func(i, j int) bool {
		if kept[i].Key != kept[j].Key {
			return kept[i].Key < kept[j].Key
		}
		return kept[i].Value < kept[j].Value
	})
	return kept, len(s.tags) - len(kept)
}

// cleanBody prepares README text for full-text search: valid UTF-8, no NUL
// (PostgreSQL text refuses it), at most max bytes cut at a rune boundary.
func cleanBody(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// cleanURL keeps a homepage that catalog.CleanHomepage accepts, or
// returns "".
func cleanURL(s string) string {
	u, err := catalog.CleanHomepage(s)
	if err != nil {
		return ""
	}
	return u
}

// licenseIDs turns a declared license (an SPDX id or expression such as
// "MIT", "(MIT OR Apache-2.0)", "GPL-3.0-or-later") into license: values:
// lower-case base SPDX ids, so that declared and detected licenses match.
// "UNLICENSED", "SEE LICENSE IN …", "other" and "unknown" give nothing.
func licenseIDs(expr string) []string {
	expr = strings.NewReplacer("(", " ", ")", " ", "/", " ").Replace(expr)
	var out []string
	for _, w := range strings.Fields(expr) {
		lw := strings.ToLower(w)
		switch lw {
		case "or", "and", "with", "/":
			continue
		case "unlicensed", "see", "license", "in", "other", "unknown", "none", "proprietary":
			// Not a license id, or not an open one; SEE LICENSE IN <file>
			// is read from the file instead.
			if lw == "see" {
				return out
			}
			continue
		}
		lw = strings.TrimSuffix(lw, "+")
		lw = strings.TrimSuffix(lw, "-only")
		lw = strings.TrimSuffix(lw, "-or-later")
		if lw == "" || len(out) >= 4 {
			continue
		}
		out = append(out, lw)
	}
	return out
}
