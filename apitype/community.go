package apitype

import "github.com/appstore-dev/appstore/catalog"

// Usage statistics, stars and comments as the API sends them.
type (
	// UsageStats is the answer of GET /api/v1/repositories/{slug}/stats.
	UsageStats = catalog.UsageStats
	UsageDay   = catalog.UsageDay
	// StarState is the answer of GET, POST and DELETE
	// /api/v1/repositories/{slug}/star.
	StarState = catalog.StarState
	Comment   = catalog.Comment
)

// StatsOptions are the query of GET /api/v1/repositories/{slug}/stats.
type StatsOptions struct {
	// Days is how many days, today included (default 30, at most 400).
	Days int
}

// AddCommentRequest is the body of POST /api/v1/repositories/{slug}/comments.
type AddCommentRequest struct {
	// Body is plain text, at most 2000 characters (catalog.MaxCommentLen).
	Body string `json:"body"`
}

// CommentList is the answer of GET /api/v1/repositories/{slug}/comments:
// the newest comments, newest last.
type CommentList struct {
	Comments []Comment `json:"comments"`
}
