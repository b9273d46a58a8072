package catalog

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// StarState is whether the asking user starred an app, and how many did.
type StarState struct {
	Repository string `json:"repository"`
	Starred    bool   `json:"starred"`
	StarCount  int64  `json:"star_count"`
}

// Comment is what a user said about an app: plain text, shown as text.
// The author is the account that wrote it (AuthorID); Author keeps its
// name for display. Once that account is removed the comment stays, with
// AuthorRemoved set: a new account given the same name is someone else,
// and neither writes nor may remove it.
type Comment struct {
	ID            int64     `json:"id"`
	Repository    string    `json:"repository"`
	Author        string    `json:"author"`
	AuthorID      int64     `json:"author_id,omitempty"`
	AuthorRemoved bool      `json:"author_removed,omitempty"`
	Body          string    `json:"body"`
	CreatedAt     time.Time `json:"created_at"`
}

// AuthorLabel is how the author is shown: the name, and "(removed user)"
// after it once the account is gone.
func (c Comment) AuthorLabel() string {
	if c.AuthorRemoved {
		return c.Author + " (removed user)"
	}
	return c.Author
}

// WrittenBy reports whether u wrote c: the same account, not merely the
// same name.
func (c Comment) WrittenBy(u User) bool {
	return !c.AuthorRemoved && c.AuthorID != 0 && c.AuthorID == u.ID
}

// MaxCommentLen is the longest comment, in characters.
const MaxCommentLen = 2000

// Limits of a page of comments.
const (
	DefaultCommentsLimit = 100
	MaxCommentsLimit     = 500
)

// The search language's key for the asking user's marks: is:starred.
const (
	IsKey     = "is"
	IsStarred = "starred"
)

// CleanComment returns a comment's text as stored: terminal escapes and
// control characters but newline and tab removed (textutil.StripTerminal),
// carriage returns gone, trailing spaces of each line and blank lines at
// either end trimmed. An empty comment, or one longer than MaxCommentLen
// characters, is an *InvalidError naming body: too long is refused, not
// cut, so that nothing is lost without a word.
func CleanComment(body string) (string, error) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	body = textutil.StripTerminal(body)
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	body = strings.Trim(strings.Join(lines, "\n"), "\n")
	if strings.TrimSpace(body) == "" {
		return "", Invalid("body", "the comment is empty: write some text (or - to read it from standard input)")
	}
	if n := utf8.RuneCountInString(body); n > MaxCommentLen {
		return "", Invalid("body", "the comment is %d characters long: at most %d are kept; shorten it", n, MaxCommentLen)
	}
	return body, nil
}
