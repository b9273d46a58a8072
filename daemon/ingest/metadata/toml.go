package metadata

import (
	"strings"
)

// A minimal TOML reader for the few facts taken from pyproject.toml and
// Cargo.toml: string values and arrays of strings under a section, and the
// keys of dependency tables. No TOML module is pinned and pulling one in for
// this narrow purpose is not worth it.
//
// What it understands: [section] and [[section]] headers; key = value lines
// with bare or quoted keys; basic "..." and literal '...' strings; arrays of
// strings over one or several lines, with comments; # comments. What it does
// not: multi-line strings (skipped), dotted keys (kept whole, e.g.
// "dependencies.axum"), inline tables (their key is kept, the value is not
// read). Anything it cannot read is skipped; it never fails.

// tomlEntry is one key = value of a section, or a table header (Key ""). Str is set for a string, List
// for an array (its string items); other values leave both empty.
type tomlEntry struct {
	Section string
	Key     string
	Str     string
	List    []string
	Line    int
}

// maxTOMLEntries bounds the entries kept from one file.
const maxTOMLEntries = 4096

func scanTOML(data []byte) []tomlEntry {
	lines := strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n")
	var out []tomlEntry
	section := ""
	for i := 0; i < len(lines) && len(out) < maxTOMLEntries; i++ {
		line := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			h := strings.TrimSpace(stripComment(line))
			h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
			h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
			section = normalizeTOMLKey(h)
			// A header is an entry with an empty key, so that tables
			// without keys ([dependencies.axum]) are still seen.
			out = append(out, tomlEntry{Section: section, Line: i + 1})
			continue
		}
		keyPart, rest, ok := cutUnquoted(line, '=')
		if !ok {
			continue
		}
		e := tomlEntry{Section: section, Key: normalizeTOMLKey(keyPart), Line: i + 1}
		rest = strings.TrimSpace(rest)
		switch {
		case strings.HasPrefix(rest, `"""`) || strings.HasPrefix(rest, `'''`):
			// Multi-line string: skip to its end.
			delim := rest[:3]
			if !strings.Contains(rest[3:], delim) {
				for i+1 < len(lines) && !strings.Contains(lines[i+1], delim) {
					i++
				}
				i++
			}
		case strings.HasPrefix(rest, `"`) || strings.HasPrefix(rest, `'`):
			e.Str, _ = tomlString(rest)
		case strings.HasPrefix(rest, "["):
			// Read the array until its closing bracket, across lines.
			depth := 0
			done := scanArrayLine(rest, &depth, &e.List)
			for !done && i+1 < len(lines) {
				i++
				done = scanArrayLine(lines[i], &depth, &e.List)
			}
		}
		out = append(out, e)
	}
	return out
}

// normalizeTOMLKey trims a key or header and removes quotes around its
// dotted parts: `"tool".poetry` and tool.poetry are the same table.
func normalizeTOMLKey(k string) string {
	parts := strings.Split(strings.TrimSpace(k), ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '"' && p[len(p)-1] == '"' || p[0] == '\'' && p[len(p)-1] == '\'') {
			p = p[1 : len(p)-1]
		}
		parts[i] = p
	}
	return strings.Join(parts, ".")
}

// cutUnquoted splits s at the first sep outside quotes; a comment before
// it means there is none.
func cutUnquoted(s string, sep byte) (string, string, bool) {
	i := indexUnquoted(s, sep)
	if i < 0 || s[i] == '#' {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func stripComment(s string) string {
	if i := indexUnquoted(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

// indexUnquoted returns the index of the first sep or '#' (a comment)
// outside quotes in s, or -1.
func indexUnquoted(s string, sep byte) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' || c == sep:
			return i
		}
	}
	return -1
}

// tomlString reads one quoted string at the start of s and returns it and
// the rest of s.
func tomlString(s string) (string, string) {
	if s == "" {
		return "", ""
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == q {
			return b.String(), s[i+1:]
		}
		if c == '\\' && q == '"' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				// \" \\ and the rest: keep the character; \u escapes are
				// rare in the fields read here and stay as written.
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), ""
}

// scanArrayLine reads one line of an array: items are appended, depth
// carries the bracket nesting between lines, and done says the array
// closed. Strings do not span lines in TOML (multi-line ones are not read),
// so quotes and comments end with the line.
func scanArrayLine(line string, depth *int, items *[]string) (done bool) {
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case '#':
			return false
		case '"', '\'':
			s, rest := tomlString(line[i:])
			if len(*items) < maxTOMLEntries {
				*items = append(*items, s)
			}
			i = len(line) - len(rest) - 1
		case '[':
			*depth++
		case ']':
			*depth--
			if *depth <= 0 {
				return true
			}
		}
	}
	return false
}
