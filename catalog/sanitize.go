package catalog

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// The sanitisers of free text and URLs that describe an app. Every path
// that writes them goes through these: ingestion (tags.yaml, the README,
// package manifests), the API (POST and PATCH of a repository) and the
// store, which applies them again to what it is given, so that what
// reaches a terminal, a page or the search index is the same whoever
// wrote it.

// CleanText turns free text into a one-line value: terminal escape
// sequences and control characters removed (textutil.StripTerminal),
// runs of white space and other unprintable characters folded to one
// space, trimmed, at most max characters (runes). Ingestion uses it on
// what authors declare: too long is cut, not refused.
func CleanText(s string, max int) string {
	s = textutil.StripTerminal(s)
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = b.Len() > 0
			continue
		}
		if n >= max {
			break
		}
		if space {
			if n+1 >= max {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// CleanDescription is the description a user gives, cleaned as CleanText
// does; one longer than MaxDescriptionLen is refused (an *InvalidError
// naming description) rather than cut, so that nothing the user wrote is
// lost without a word.
func CleanDescription(d string) (string, error) {
	if err := ValidateDescription(d); err != nil {
		return "", err
	}
	return CleanText(d, MaxDescriptionLen), nil
}

// CleanHomepage checks a homepage URL and returns it trimmed: "" clears
// it; otherwise an absolute http:// or https:// URL with a host, without
// credentials, white space or control characters, at most MaxURLLen bytes.
// Anything else (javascript:, data:, a relative path) is an *InvalidError
// naming homepage: the web view and terminals turn it into a link.
func CleanHomepage(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxURLLen {
		return "", Invalid("homepage", "is longer than %d characters", MaxURLLen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 || !utf8.ValidString(s) {
		return "", Invalid("homepage", "%q contains a space or a control character", textutil.Truncate(textutil.StripTerminal(s), 200))
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", Invalid("homepage", "%q is not a URL: %v", textutil.Truncate(s, 200), unwrapURLErr(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", Invalid("homepage", "%q: only http:// and https:// URLs are accepted", textutil.Truncate(s, 200))
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", Invalid("homepage", "%q has no host, want e.g. https://dash.example.org", textutil.Truncate(s, 200))
	}
	if u.User != nil {
		return "", Invalid("homepage", "carries credentials; leave them out, the catalog is readable by anyone who can reach appstored")
	}
	return s, nil
}
