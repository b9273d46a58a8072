// Package textutil holds the small string helpers that the client, the
// CLI, the domain and the daemon share: shortening text for a message and
// the short form of a commit or image id. Standard library only, so that
// every binary may import it.
package textutil

import (
	"strings"
	"unicode/utf8"
)

// Ellipsis marks text that Truncate shortened.
const Ellipsis = "…"

// Truncate returns s when it has at most n bytes, else its longest prefix
// of at most n bytes that ends on a rune boundary, followed by Ellipsis. It
// never splits a UTF-8 sequence, so the result is valid UTF-8 whenever s is.
// The result has at most n+len(Ellipsis) bytes.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}

// ShortSHALen is the length of a short commit or image id, as git log
// --abbrev and docker ps print them.
const ShortSHALen = 12

// ShortSHA returns the first 12 characters of a commit or an image or
// container id (without a "sha256:" prefix), as git and docker print them.
func ShortSHA(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > ShortSHALen {
		return id[:ShortSHALen]
	}
	return id
}

// FirstLine returns the first line of s ("\n" or "\r" ends it) with the
// space around it removed, for a message that quotes multi-line text
// such as an engine's error. Leading blank lines are skipped.
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}
