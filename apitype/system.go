package apitype

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

// Health statuses.
const (
	HealthOK       = "ok"
	HealthDegraded = "degraded"
	HealthDown     = "down"
)

// HealthCheck is the state of one dependency.
type HealthCheck struct {
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	// Optional means the daemon works without it (degraded).
	Optional bool `json:"optional,omitempty"`
}
