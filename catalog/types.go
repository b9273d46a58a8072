package catalog

import (
	"encoding/json"
	"time"
)

// IngestStatus is where a repository stands in ingestion.
type IngestStatus string

const (
	IngestQueued     IngestStatus = "queued"
	IngestProcessing IngestStatus = "processing"
	IngestReady      IngestStatus = "ready"
	IngestFailed     IngestStatus = "failed"
)

// Valid reports whether s is one of the known statuses.
func (s IngestStatus) Valid() bool {
	switch s {
	case IngestQueued, IngestProcessing, IngestReady, IngestFailed:
		return true
	}
	return false
}

// Repository is a registered Git repository: one app of the store.
type Repository struct {
	ID     int64  `json:"id"`
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	GitURL string `json:"git_url"`
	// Branch is the branch the user asked for; empty means the remote's HEAD.
	Branch        string `json:"branch,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`
	Description   string `json:"description"`
	// Emoji is the app's emoji (tags.yaml, or the Hugging Face front
	// matter), shown beside its name; "" when it has none.
	Emoji    string `json:"emoji,omitempty"`
	Homepage string `json:"homepage,omitempty"`
	// Owner is the namespace of the Git URL ("acme" of
	// github.com/acme/dash), not a user of the daemon: OwnedBy is.
	Owner string `json:"owner,omitempty"`
	// OwnedBy is the user (catalog.User name) who owns the app: who
	// registered it, until an admin hands it over. RegisteredBy never
	// changes. Both are "" for apps registered before accounts existed.
	OwnedBy      string `json:"owned_by,omitempty"`
	RegisteredBy string `json:"registered_by,omitempty"`
	// RequestedDockerfile is the Dockerfile path the user declared, if any.
	RequestedDockerfile string `json:"requested_dockerfile,omitempty"`
	// DockerfilePath and ContextPath are what ingestion resolved and builds use.
	DockerfilePath string `json:"dockerfile_path,omitempty"`
	ContextPath    string `json:"context_path,omitempty"`
	AppPort        int    `json:"app_port,omitempty"`
	// PortSource says where AppPort came from: one of the PortFrom
	// constants (tags.yaml, readme, expose, compose, cmd, env, docker-run,
	// code, framework, hf-default).
	PortSource string `json:"port_source,omitempty"`
	// Metadata is what ingestion read besides the fields above; its
	// card keys are described by RepositoryMetadata.
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	IngestStatus   IngestStatus    `json:"ingest_status"`
	IngestError    string          `json:"ingest_error,omitempty"`
	IngestAttempts int             `json:"ingest_attempts"`
	LastIngestedAt *time.Time      `json:"last_ingested_at,omitempty"`
	LastCommitSHA  string          `json:"last_commit_sha,omitempty"`
	LaunchCount    int64           `json:"launch_count"`
	// StarCount is how many people starred the app.
	StarCount int64 `json:"star_count"`
	// Redeploy says whether a newer succeeded build replaces the app's
	// running launch by itself (true unless turned off).
	Redeploy bool  `json:"redeploy"`
	Tags     []Tag `json:"tags"`
	// ManualFields are the EditableFields the user set by hand (PATCH,
	// appstore edit): ingestion leaves them alone until they are reset.
	ManualFields []string `json:"manual_fields,omitempty"`
	// Profile is the app's resource profile for launches that ask for
	// none: the user's (appstore edit --profile), else tags.yaml's
	// resources:; "" means the daemon's default.
	Profile string `json:"profile,omitempty"`
	// LatestBuild is the newest build, when the query asked for it.
	LatestBuild *BuildSummary `json:"latest_build,omitempty"`
	// ThumbnailURL is the path of the app's screenshot
	// (ThumbnailPath), "" while it has none.
	ThumbnailURL string    `json:"thumbnail_url,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// IngestionEvent is one step of a repository's ingestion timeline.
type IngestionEvent struct {
	ID           int64        `json:"id"`
	RepositoryID int64        `json:"repository_id"`
	Status       IngestStatus `json:"status"`
	Message      string       `json:"message,omitempty"`
	Attempt      int          `json:"attempt"`
	CommitSHA    string       `json:"commit_sha,omitempty"`
	DurationMS   *int64       `json:"duration_ms,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
	// Actor is who caused the step, as Event.Actor.
	Actor string `json:"actor,omitempty"`
}

// TimelineWarning is the status of a timeline step that is not a state of
// the repository but something that went wrong beside ingestion, for the
// person who reads the timeline (a screenshot that could not be taken).
const TimelineWarning IngestStatus = "warning"

// BuildStatus is where a build stands.
type BuildStatus string

const (
	BuildQueued    BuildStatus = "queued"
	BuildRunning   BuildStatus = "running"
	BuildSucceeded BuildStatus = "succeeded"
	BuildFailed    BuildStatus = "failed"
	BuildCancelled BuildStatus = "cancelled"
)

// Terminal reports whether no further transition will happen.
func (s BuildStatus) Terminal() bool {
	return s == BuildSucceeded || s == BuildFailed || s == BuildCancelled
}

// Build is one image build of a repository at a commit.
type Build struct {
	ID             int64       `json:"id"`
	RepositoryID   int64       `json:"repository_id"`
	Repository     string      `json:"repository"` // slug
	CommitSHA      string      `json:"commit_sha"`
	Status         BuildStatus `json:"status"`
	DockerfilePath string      `json:"dockerfile_path"`
	ContextPath    string      `json:"context_path"`
	NoCache        bool        `json:"no_cache"`
	Cached         bool        `json:"cached"`
	CacheKey       string      `json:"cache_key,omitempty"`
	ImageTag       string      `json:"image_tag,omitempty"`
	ImageID        string      `json:"image_id,omitempty"`
	ErrorMessage   string      `json:"error_message,omitempty"`
	Attempts       int         `json:"attempts"`
	LogBytes       int64       `json:"log_bytes"`
	LogTruncated   bool        `json:"log_truncated"`
	CreatedAt      time.Time   `json:"created_at"`
	StartedAt      *time.Time  `json:"started_at,omitempty"`
	CompletedAt    *time.Time  `json:"completed_at,omitempty"`
	DurationMS     *int64      `json:"duration_ms,omitempty"`
	// Builder is which builder made the image: "buildkit" or "classic"
	// ("" for a build served from the cache or that never started one).
	Builder string `json:"builder,omitempty"`
	// RegistryImage is the reference the image was pushed as
	// (HOST[/PREFIX]/appstore/<slug>:<commit>) and ImageDigest the digest
	// the registry answered, when appstored pushes to a registry.
	RegistryImage string `json:"registry_image,omitempty"`
	ImageDigest   string `json:"image_digest,omitempty"`
	// Target is the stage built ("" for the final one) and BuildArgs the
	// build arguments (nil for none), as ingestion chose them with the
	// Dockerfile and context (a compose service's build.target and
	// build.args).
	Target    string            `json:"target,omitempty"`
	BuildArgs map[string]string `json:"build_args,omitempty"`

	// CancelRequested is set while a running build is being stopped.
	CancelRequested bool `json:"cancel_requested,omitempty"`
}

// BuildSummary is the part of a build shown next to a repository.
type BuildSummary struct {
	ID          int64       `json:"id"`
	Status      BuildStatus `json:"status"`
	CommitSHA   string      `json:"commit_sha"`
	ImageTag    string      `json:"image_tag,omitempty"`
	Cached      bool        `json:"cached"`
	Builder     string      `json:"builder,omitempty"`
	CompletedAt *time.Time  `json:"completed_at,omitempty"`
}

// LogLine is one line of a build's output.
type LogLine struct {
	ID      int64     `json:"id"`
	BuildID int64     `json:"build_id"`
	Line    string    `json:"line"`
	Time    time.Time `json:"time"`
}

// LaunchStatus is where a launch stands.
type LaunchStatus string

const (
	LaunchStarting LaunchStatus = "starting"
	LaunchRunning  LaunchStatus = "running"
	LaunchStopping LaunchStatus = "stopping"
	LaunchStopped  LaunchStatus = "stopped"
	LaunchFailed   LaunchStatus = "failed"
	LaunchExpired  LaunchStatus = "expired"
)

// Terminal reports whether no further transition will happen.
func (s LaunchStatus) Terminal() bool {
	return s == LaunchStopped || s == LaunchFailed || s == LaunchExpired
}

// Launch is a running (or once running) container of a repository's image.
type Launch struct {
	ID              int64        `json:"id"`
	RepositoryID    int64        `json:"repository_id"`
	Repository      string       `json:"repository"` // slug
	BuildID         *int64       `json:"build_id,omitempty"`
	ContainerID     string       `json:"container_id,omitempty"`
	ContainerName   string       `json:"container_name,omitempty"`
	HostPort        int          `json:"host_port,omitempty"`
	AppPort         int          `json:"app_port,omitempty"`
	InstanceURL     string       `json:"instance_url,omitempty"`
	PreviewURL      string       `json:"preview_url,omitempty"`
	Status          LaunchStatus `json:"status"`
	ResourceProfile string       `json:"resource_profile"`
	Warm            bool         `json:"warm,omitempty"`
	Runner          string       `json:"runner,omitempty"`
	ErrorMessage    string       `json:"error_message,omitempty"`
	ExitCode        *int         `json:"exit_code,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
	StartedAt       *time.Time   `json:"started_at,omitempty"`
	StoppedAt       *time.Time   `json:"stopped_at,omitempty"`
	ExpiresAt       *time.Time   `json:"expires_at,omitempty"`
	LastRequestAt   *time.Time   `json:"last_request_at,omitempty"`
	// StopReason says why an ended launch stopped: user (on request),
	// idle (asleep: the next preview request wakes it), ttl, replaced,
	// shutdown, removed (its app was removed), warm-pool; empty otherwise.
	StopReason string `json:"stop_reason,omitempty"`
	// LaunchedBy names the user who started the launch (or attached it
	// from the warm pool); empty for the daemon's own launches (a wake by
	// a preview request, the warm pool, a redeploy) and once the account
	// is removed. LaunchedByID is its users row: a viewer may stop the
	// launches it started.
	LaunchedBy   string `json:"launched_by,omitempty"`
	LaunchedByID int64  `json:"launched_by_id,omitempty"`
	// LatestBuildID is the app's newest succeeded build; Outdated says the
	// launch runs an older one.
	LatestBuildID *int64 `json:"latest_build_id,omitempty"`
	Outdated      bool   `json:"outdated,omitempty"`
	// ConfigChanged says that the app's variables or secrets changed
	// since this active launch started: it runs with the old ones until
	// `appstore launch --restart` replaces it.
	ConfigChanged bool `json:"config_changed,omitempty"`
	// Origin says how a launch request was answered: created (a new
	// container), reused (the launch already running), attached (a
	// warm-pool container). Replaces names the launch that this one
	// replaces once it runs (another build or profile of the app). Both
	// are set only in the answer to a launch request.
	Origin   string `json:"origin,omitempty"`
	Replaces *int64 `json:"replaces,omitempty"`
}

// ServiceStatus is the health of an auxiliary service.
type ServiceStatus string

const (
	ServiceUnknown   ServiceStatus = "unknown"
	ServiceHealthy   ServiceStatus = "healthy"
	ServiceUnhealthy ServiceStatus = "unhealthy"
)

// Service is an auxiliary service of the registry, polled for health.
type Service struct {
	ID               int64           `json:"id"`
	Slug             string          `json:"slug"`
	Name             string          `json:"name"`
	Kind             string          `json:"kind,omitempty"`
	BaseURL          string          `json:"base_url"`
	HealthURL        string          `json:"health_url"`
	Capabilities     []string        `json:"capabilities"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	HealthIntervalMS *int64          `json:"health_interval_ms,omitempty"`
	Status           ServiceStatus   `json:"status"`
	LastCheckedAt    *time.Time      `json:"last_checked_at,omitempty"`
	LastError        string          `json:"last_error,omitempty"`
	LastLatencyMS    *float64        `json:"last_latency_ms,omitempty"`
	Source           string          `json:"source"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`

	// ConsecutiveFailures counts the failed checks in a row; the poller
	// backs off with it. NextCheckAt is when the next check is due.
	ConsecutiveFailures int        `json:"consecutive_failures"`
	NextCheckAt         *time.Time `json:"next_check_at,omitempty"`
}

// Event is one entry of the durable event log.
type Event struct {
	ID      int64           `json:"id"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
	Time    time.Time       `json:"time"`
	// Actor is the user whose request caused the event, or for what the
	// daemon does by itself "appstored:<cause>" (DaemonActorName: an
	// ingestion run, a build, an idle sleep, an expiry…); "" only for
	// events written before actors were recorded.
	Actor string `json:"actor,omitempty"`
}

// Topic is the part of the type before the first dot: "build" for
// "build.succeeded".
func (e Event) Topic() string { return EventTopic(e.Type) }

// ValidTopic reports whether s is shaped like a topic (lower-case letters,
// digits, '_' and '-', at most 64): what the event stream accepts in
// ?topics=, and what the CLI checks before it asks.
func ValidTopic(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// EventTopic returns the topic of an event type.
func EventTopic(typ string) string {
	for i := 0; i < len(typ); i++ {
		if typ[i] == '.' {
			return typ[:i]
		}
	}
	return typ
}
