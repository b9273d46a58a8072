package apitype

import "github.com/appstore-dev/appstore/catalog"

// Domain objects as the API sends them.
type (
	Build        = catalog.Build
	BuildSummary = catalog.BuildSummary
	LogLine      = catalog.LogLine
)

// CreateBuildRequest is the body of POST /api/v1/repositories/{slug}/builds.
type CreateBuildRequest struct {
	// NoCache builds from scratch: no reuse of an earlier build's image
	// and no layer cache of the engine.
	NoCache bool `json:"no_cache,omitempty"`
}

// BuildList is the answer of GET /api/v1/repositories/{slug}/builds.
type BuildList struct {
	Builds []Build `json:"builds"`
	// NextCursor is set when there are more; pass it as cursor to continue.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListBuildsOptions page GET /api/v1/repositories/{slug}/builds.
type ListBuildsOptions struct {
	Limit  int
	Cursor string
}

// BuildLogOptions select what GET /api/v1/builds/{id}/logs returns.
type BuildLogOptions struct {
	// Follow keeps the stream open until the build ends, yielding lines
	// as the worker stores them.
	Follow bool
	// Since skips the lines up to this line id (the last one received),
	// to resume a stream.
	Since int64
}
