package client

import (
	"github.com/appstore-dev/appstore/catalog"
)

// Wire types. The daemon's handlers decode and encode these same types, so the
// client and the server cannot drift apart. Domain objects are the catalog
// types, aliased here so that users of the client need one import.
type (
	Repository     = catalog.Repository
	IngestionEvent = catalog.IngestionEvent
	Build          = catalog.Build
	BuildSummary   = catalog.BuildSummary
	LogLine        = catalog.LogLine
	Launch         = catalog.Launch
	Service        = catalog.Service
	Event          = catalog.Event
	Tag            = catalog.Tag
)

// AddRepositoryRequest is the body of POST /api/v1/repositories.
type AddRepositoryRequest struct {
	GitURL     string   `json:"git_url"`
	Name       string   `json:"name,omitempty"`
	Branch     string   `json:"branch,omitempty"`
	Dockerfile string   `json:"dockerfile,omitempty"`
	Tags       []string `json:"tags,omitempty"` // "key:value", stored as manual tags
}

// UpdateRepositoryRequest is the body of PATCH /api/v1/repositories/{slug}.
// Nil fields are left alone. Fields set here are marked manual and are never
// overwritten by ingestion.
type UpdateRepositoryRequest struct {
	Name        *string  `json:"name,omitempty"`
	Description *string  `json:"description,omitempty"`
	Homepage    *string  `json:"homepage,omitempty"`
	Branch      *string  `json:"branch,omitempty"`
	Dockerfile  *string  `json:"dockerfile,omitempty"`
	AddTags     []string `json:"add_tags,omitempty"`    // manual tags to add
	RemoveTags  []string `json:"remove_tags,omitempty"` // manual tags to remove
	// Redeploy turns on or off the replacement of the app's running launch
	// when a newer build succeeds.
	Redeploy *bool `json:"redeploy,omitempty"`
}

// RepositoryList is the answer of GET /api/v1/repositories.
type RepositoryList struct {
	Repositories []Repository `json:"repositories"`
	// NextCursor is set when there are more; pass it as cursor to continue.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListRepositoriesOptions are the filters of GET /api/v1/repositories.
type ListRepositoriesOptions struct {
	Tags   []string // "key:value", all must match
	Status string   // ingest status
	Limit  int
	Cursor string
}

// TagList is the answer of GET /api/v1/tags.
type TagList struct {
	Tags []Tag `json:"tags"`
}

// ListTagsOptions are the filters of GET /api/v1/tags.
type ListTagsOptions struct {
	Prefix string // matches keys, and "key:value" pairs, starting with it
	Key    string // only this key's values
	Limit  int
}

// ErrorBody is the body of every error answer: {"error":{...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes what went wrong.
type ErrorDetail struct {
	// Code is one of invalid, not_found, conflict, unauthorized, forbidden,
	// too_large, unavailable, internal.
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the input field that was wrong (code invalid).
	Field string `json:"field,omitempty"`
	// Slug names the existing object (code conflict).
	Slug string `json:"slug,omitempty"`
	// Position is the byte offset in the search query where a search or
	// autocomplete query could not be parsed (field q).
	Position *int `json:"position,omitempty"`
}

// VersionInfo is the answer of GET /api/v1/version.
type VersionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	API     int    `json:"api"`
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	Status string                 `json:"status"` // ok, degraded, down
	Checks map[string]HealthCheck `json:"checks,omitempty"`
}

// HealthCheck is the state of one dependency.
type HealthCheck struct {
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	// Optional means the daemon works without it (degraded).
	Optional bool `json:"optional,omitempty"`
}
