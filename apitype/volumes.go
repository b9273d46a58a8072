package apitype

import "time"

// Volume is an app's persistent data volume (tags.yaml storage:), as
// GET /api/v1/volumes sends it.
type Volume struct {
	// Name is the Docker volume's name.
	Name string `json:"name"`
	// Repository is the slug of the app the volume belongs to.
	Repository string `json:"repository"`
	// Path is the directory of the app's container it is mounted at.
	Path string `json:"path"`
	// SizeLimitBytes is the size the app declares it needs now (0 if
	// none). The engine does not enforce it; appstored refuses a launch
	// or wake of an app whose volume holds more (docs/operations.md).
	SizeLimitBytes int64 `json:"size_limit_bytes,omitempty"`
	// UsedBytes is what its files take on the engine; -1 when the engine
	// did not say.
	UsedBytes int64 `json:"used_bytes"`
	// CreatedAt is when the engine made it.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// LastUsedAt is when a launch of its app last ran (now while one
	// runs); nil when none is known.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// InUse says that a container of the app has it mounted now.
	InUse bool `json:"in_use"`
	// Orphaned says that its app was removed (appstore rm without
	// --purge): it is kept until `appstore volume rm`, and the same
	// repository added again gets it back.
	Orphaned bool `json:"orphaned,omitempty"`
}

// VolumeList is the answer of GET /api/v1/volumes.
type VolumeList struct {
	Volumes []Volume `json:"volumes"`
}
