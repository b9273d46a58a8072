package apitype

import (
	"encoding/json"

	"github.com/appstore-dev/appstore/catalog"
)

// Service registry (/api/v1/services).
type (
	// Service is a registered service and its health.
	Service = catalog.Service
	// ServiceSpec declares a service: the body of POST /api/v1/services
	// and one entry of a manifest. Its rules are catalog's.
	ServiceSpec = catalog.ServiceSpec
	// ServiceEntryError is what was wrong with one entry of a refused
	// manifest.
	ServiceEntryError = catalog.ManifestEntryError
)

// UpdateServiceRequest is the body of PATCH /api/v1/services/{slug}. Nil
// fields are left alone.
type UpdateServiceRequest struct {
	Name    *string `json:"name,omitempty"`
	Kind    *string `json:"kind,omitempty"`
	BaseURL *string `json:"base_url,omitempty"`
	// HealthURL "" goes back to BaseURL + "/healthz".
	HealthURL    *string   `json:"health_url,omitempty"`
	Capabilities *[]string `json:"capabilities,omitempty"`
	// Metadata replaces the whole object; JSON null clears it.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// HealthInterval "" goes back to the daemon's --health-interval.
	HealthInterval *string `json:"health_interval,omitempty"`
}

// ServiceManifest is the body of POST /api/v1/services/import.
type ServiceManifest struct {
	Services []ServiceSpec `json:"services"`
}

// ServiceList is the answer of GET /api/v1/services.
type ServiceList struct {
	Services []Service `json:"services"`
}

// ListServicesOptions are the filters of GET /api/v1/services.
type ListServicesOptions struct {
	Status     string // unknown, healthy, unhealthy
	Kind       string
	Capability string
}

// ImportServicesOptions change how a manifest is applied (?prune=).
type ImportServicesOptions struct {
	// Prune deletes the services that came from a manifest and are not in
	// this one. Services registered through the API are never pruned.
	Prune bool
}

// ServiceImportResult is the answer of POST /api/v1/services/import.
type ServiceImportResult struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
	// Services says what happened to each service: the manifest's in
	// its order, then the pruned ones.
	Services []ServiceImportEntry `json:"services"`
}

// ServiceImportEntry is what an import did to one service.
type ServiceImportEntry struct {
	Slug string `json:"slug"`
	// Action is created, updated, unchanged or deleted.
	Action string `json:"action"`
	// Changed names the fields an update changed.
	Changed []string `json:"changed,omitempty"`
}

// ManifestErrorDetail is the "error" object of a refused import: an
// ErrorDetail with one entry per invalid service.
type ManifestErrorDetail struct {
	ErrorDetail
	Entries []ServiceEntryError `json:"entries"`
}

// ManifestErrorBody is the body of a refused import.
type ManifestErrorBody struct {
	Error ManifestErrorDetail `json:"error"`
}
