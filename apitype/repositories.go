package apitype

import "github.com/appstore-dev/appstore/catalog"

// Domain objects as the API sends them.
type (
	Repository     = catalog.Repository
	IngestionEvent = catalog.IngestionEvent
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
	// Context is the build context ("." the root), Port the port the app
	// serves, Profile its resource profile for launches that name none:
	// manual fields like the ones above.
	Context *string `json:"context,omitempty"`
	Port    *int    `json:"port,omitempty"`
	Profile *string `json:"profile,omitempty"`
	// Target is the stage of the Dockerfile builds stop at (FROM … AS
	// <target>), over a compose service's build.target.
	Target *string `json:"target,omitempty"`
	// Reset makes fields automatic again (name, description, homepage,
	// branch, dockerfile, context, target, port, profile): ingestion
	// decides them.
	// A reset or change of a field ingestion reads (all but port and
	// profile) queues a new ingestion.
	Reset []string `json:"reset,omitempty"`
	// OwnedBy hands the app over to another user (admins only).
	OwnedBy *string `json:"owned_by,omitempty"`
}

// Readme is the answer of GET /api/v1/repositories/{slug}/readme.
type Readme struct {
	Slug string `json:"slug"`
	// Markdown is the README as ingestion read it, front matter removed.
	Markdown string `json:"markdown"`
	// HTML is Markdown rendered, safe to show: raw HTML in the README is
	// left out, links of other schemes than http(s), mailto and relative
	// ones lose their target, and every link has rel="noopener noreferrer".
	HTML string `json:"html"`
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

// Timeline is the answer of GET /api/v1/repositories/{slug}/events: the
// steps of a repository's ingestions (queued, processing, ready, failed),
// oldest first.
type Timeline struct {
	Events []IngestionEvent `json:"events"`
}

// TimelineOptions select the steps of GET /api/v1/repositories/{slug}/events.
type TimelineOptions struct {
	// After returns only the steps with a greater id (the last one seen),
	// oldest first: what a poller asks for.
	After int64
	// Limit bounds the steps returned (1–1000; the daemon's default is
	// 100). Without After they are the newest ones.
	Limit int
}

// WebhookResult is the answer of POST /api/v1/webhooks/git.
type WebhookResult struct {
	// Status is "queued" when at least one repository is re-ingested,
	// "ignored" when none is (Reason says why), "ok" for a ping.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Repositories are the slugs queued for re-ingestion.
	Repositories []string `json:"repositories,omitempty"`
	// Ignored lists matching repositories left alone, with the reason
	// (another branch).
	Ignored []WebhookIgnored `json:"ignored,omitempty"`
}

// WebhookIgnored is a repository a push matched but did not re-ingest.
type WebhookIgnored struct {
	Slug   string `json:"slug"`
	Reason string `json:"reason"`
}
