package catalog

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Limits of repository fields.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
	MaxSlugLen        = 63
	MaxPathLen        = 1024
	MaxURLLen         = 2048
)

// ValidateName checks a display name given by a user.
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return Invalid("name", "is empty")
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return Invalid("name", "is longer than %d characters", MaxNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return Invalid("name", "contains a control character (%U)", r)
		}
	}
	return nil
}

// Slugify derives a slug from a name: lower-case letters, digits and single
// dashes, at most MaxSlugLen characters. It returns "app" when nothing is left,
// and puts "app-" in front of a slug of digits only: the CLI reads a number as a
// build or launch id (`appstore logs 12`, `appstore stop 12`), so a repository
// named 2048 would otherwise be unreachable by its slug there.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	// Accents come off rather than splitting the word: "Café Über" is
	// cafe-uber, not caf-ber. NFKD also spells out ligatures and
	// full-width letters.
	name, _, _ = transform.String(transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn))), name)
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		default:
			if b.Len() > 0 && !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	s := strings.Trim(b.String(), "-")
	switch {
	case s == "":
		return "app"
	case strings.Trim(s, "0123456789") == "":
		s = "app-" + s
	}
	if len(s) > MaxSlugLen-4 { // room for a collision suffix
		s = strings.Trim(s[:MaxSlugLen-4], "-")
	}
	return s
}

// ValidSlug reports whether s has the form Slugify produces.
func ValidSlug(s string) bool {
	if s == "" || len(s) > MaxSlugLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateRelPath checks a path inside a repository given by a user
// (Dockerfile, build context): relative, slash-separated, no "..", no NUL.
func ValidateRelPath(field, p string) error {
	if p == "" {
		return nil
	}
	if len(p) > MaxPathLen {
		return Invalid(field, "is longer than %d characters", MaxPathLen)
	}
	if strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return Invalid(field, "contains a NUL or a backslash")
	}
	if strings.HasPrefix(p, "/") {
		return Invalid(field, "%q is absolute; give a path relative to the repository root", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return Invalid(field, "%q leaves the repository (\"..\" is not allowed)", p)
		}
	}
	return nil
}

// ValidateDescription checks a description given by a user.
func ValidateDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		return Invalid("description", "is longer than %d characters", MaxDescriptionLen)
	}
	return nil
}

// MaxBranchLen bounds a branch name.
const MaxBranchLen = 255

// ValidateBranch follows git check-ref-format loosely, and refuses what
// could be read as an option. "" (the remote's default branch) is valid.
func ValidateBranch(b string) error {
	if b == "" {
		return nil
	}
	if len(b) > MaxBranchLen {
		return Invalid("branch", "is longer than %d characters", MaxBranchLen)
	}
	if strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.Contains(b, "@{") || strings.Contains(b, "//") {
		return Invalid("branch", "%q is not a valid branch name", b)
	}
	for _, c := range b {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune("~^:?*[\\", c) {
			return Invalid("branch", "%q contains %q, not allowed in a branch name", b, c)
		}
	}
	return nil
}

// CleanDockerfilePath checks the Dockerfile path a user gives
// (ValidateRelPath) and returns it without a leading "./".
func CleanDockerfilePath(p string) (string, error) {
	if err := ValidateRelPath("dockerfile", p); err != nil {
		return "", err
	}
	return strings.TrimPrefix(p, "./"), nil
}
