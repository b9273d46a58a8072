package client

import "github.com/appstore-dev/appstore/apitype"

// Wire types. They are defined in package apitype, which the daemon's
// handlers encode and decode too, so the client and the server cannot
// drift apart; they are aliased here so that users of the client need one
// import.
type (
	// Domain objects (package catalog).
	Repository     = apitype.Repository
	IngestionEvent = apitype.IngestionEvent
	Build          = apitype.Build
	BuildSummary   = apitype.BuildSummary
	LogLine        = apitype.LogLine
	Launch         = apitype.Launch
	Service        = apitype.Service
	Event          = apitype.Event
	Tag            = apitype.Tag
	SearchPage     = apitype.SearchPage
	SearchResult   = apitype.SearchResult
	Suggestions    = apitype.Suggestions
	Suggestion     = apitype.Suggestion
	SuggestionKind = apitype.SuggestionKind

	// Repositories, tags, ingestion, webhooks.
	AddRepositoryRequest    = apitype.AddRepositoryRequest
	UpdateRepositoryRequest = apitype.UpdateRepositoryRequest
	RepositoryList          = apitype.RepositoryList
	ListRepositoriesOptions = apitype.ListRepositoriesOptions
	TagList                 = apitype.TagList
	ListTagsOptions         = apitype.ListTagsOptions
	Timeline                = apitype.Timeline
	TimelineOptions         = apitype.TimelineOptions
	WebhookResult           = apitype.WebhookResult
	WebhookIgnored          = apitype.WebhookIgnored

	// Builds.
	CreateBuildRequest = apitype.CreateBuildRequest
	BuildList          = apitype.BuildList
	ListBuildsOptions  = apitype.ListBuildsOptions
	BuildLogOptions    = apitype.BuildLogOptions

	// Launches.
	LaunchRequest       = apitype.LaunchRequest
	LaunchList          = apitype.LaunchList
	ListLaunchesOptions = apitype.ListLaunchesOptions
	LaunchLogLine       = apitype.LaunchLogLine
	LaunchLogsOptions   = apitype.LaunchLogsOptions

	// Thumbnails.
	ThumbnailRefresh = apitype.ThumbnailRefresh

	// Usage statistics, stars and comments.
	UsageStats        = apitype.UsageStats
	UsageDay          = apitype.UsageDay
	StatsOptions      = apitype.StatsOptions
	StarState         = apitype.StarState
	Comment           = apitype.Comment
	CommentList       = apitype.CommentList
	AddCommentRequest = apitype.AddCommentRequest

	// Search and autocomplete.
	SearchOptions       = apitype.SearchOptions
	AutocompleteOptions = apitype.AutocompleteOptions

	// The service registry.
	ServiceSpec           = apitype.ServiceSpec
	UpdateServiceRequest  = apitype.UpdateServiceRequest
	ServiceManifest       = apitype.ServiceManifest
	ServiceList           = apitype.ServiceList
	ListServicesOptions   = apitype.ListServicesOptions
	ImportServicesOptions = apitype.ImportServicesOptions
	ServiceImportResult   = apitype.ServiceImportResult
	ServiceImportEntry    = apitype.ServiceImportEntry
	ServiceEntryError     = apitype.ServiceEntryError
	ManifestErrorDetail   = apitype.ManifestErrorDetail

	// The event stream.
	StreamTruncated = apitype.StreamTruncated
	EventCursor     = apitype.EventCursor

	// Errors, health, version.
	ErrorBody   = apitype.ErrorBody
	ErrorDetail = apitype.ErrorDetail
	VersionInfo = apitype.VersionInfo
	Health      = apitype.Health
	HealthCheck = apitype.HealthCheck
)

// Message types and headers of the event stream.
const (
	// EventHeartbeat is sent every heartbeat interval; Events consumes
	// it (a client that hears nothing for three intervals reconnects).
	EventHeartbeat = apitype.EventHeartbeat
	// EventStreamTruncated says that events after the requested id were
	// pruned; its data is a StreamTruncated.
	EventStreamTruncated = apitype.EventStreamTruncated
	// HeartbeatHeader carries the stream's heartbeat interval.
	HeartbeatHeader = apitype.HeartbeatHeader
)
