package catalog

import (
	"net/url"
	"time"
)

// Thumbnail is a screenshot of an app's page, shown on its card: a WebP of
// Width×Height and one twice that size.
type Thumbnail struct {
	RepositoryID int64
	Repository   string // slug
	// BuildID is the build whose launch was captured; LaunchID the launch.
	BuildID     *int64
	LaunchID    int64
	ContentType string
	Image       []byte
	Image2x     []byte
	Width       int
	Height      int
	// ETag names the content (a hash of both images); it changes with
	// every new picture.
	ETag       string
	CapturedAt time.Time
}

// ThumbnailPath is the API path of a repository's thumbnail. The version
// (the thumbnail's ETag) makes a new picture a new URL, so that a URL can
// be cached for good.
func ThumbnailPath(slug, version string) string {
	p := "/api/v1/repositories/" + url.PathEscape(slug) + "/thumbnail"
	if version != "" {
		p += "?v=" + url.QueryEscape(version)
	}
	return p
}
