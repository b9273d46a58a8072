package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Wire types of the service registry (/api/v1/services).

// ServiceSpec declares a service: the body of POST /api/v1/services and one
// entry of a manifest.
type ServiceSpec struct {
	Slug string `json:"slug"`
	// Name defaults to the slug.
	Name string `json:"name,omitempty"`
	Kind string `json:"kind,omitempty"`
	// BaseURL is the service's root URL (http or https).
	BaseURL string `json:"base_url"`
	// HealthURL defaults to BaseURL + "/healthz".
	HealthURL    string          `json:"health_url,omitempty"`
	Capabilities []string        `json:"capabilities,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"` // a JSON object
	// HealthInterval overrides the daemon's --health-interval for this
	// service: a duration such as "10s" or "2m".
	HealthInterval string `json:"health_interval,omitempty"`
}

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

// ImportServicesOptions change how a manifest is applied.
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

// ServiceEntryError is what was wrong with one entry of a refused
// manifest.
type ServiceEntryError struct {
	// Index is the entry's position in the services array, from 0.
	Index   int    `json:"index"`
	Slug    string `json:"slug,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e ServiceEntryError) String() string {
	s := fmt.Sprintf("services[%d]", e.Index)
	if e.Slug != "" {
		s += " (" + e.Slug + ")"
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Message
}

// ManifestErrorDetail is the "error" object of a refused import: an
// ErrorDetail with one entry per invalid service.
type ManifestErrorDetail struct {
	ErrorDetail
	Entries []ServiceEntryError `json:"entries"`
}

// ManifestError is returned by ImportServices when the daemon refused the
// manifest because of invalid entries; nothing was applied. It unwraps to
// the *APIError (so IsInvalid holds).
type ManifestError struct {
	Err     *APIError
	Entries []ServiceEntryError
}

func (e *ManifestError) Error() string { return e.Err.Error() }
func (e *ManifestError) Unwrap() error { return e.Err }

// WithToken returns a copy of c that sends token instead of c.Token. The
// mutating service routes want the service token (APPSTORE_SERVICE_TOKEN),
// not the daemon's:
//
//	reg := c.WithToken(os.Getenv("APPSTORE_SERVICE_TOKEN"))
//	svc, _, err := reg.CreateService(ctx, client.ServiceSpec{Slug: "llm", BaseURL: "http://10.0.0.5:8080"})
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

// Services lists the registered services by slug.
func (c *Client) Services(ctx context.Context, opts ListServicesOptions) ([]Service, error) {
	q := url.Values{}
	if opts.Status != "" {
		q.Set("status", opts.Status)
	}
	if opts.Kind != "" {
		q.Set("kind", opts.Kind)
	}
	if opts.Capability != "" {
		q.Set("capability", opts.Capability)
	}
	list, err := doJSON[ServiceList](ctx, c, http.MethodGet, apiPath("services"), q, nil)
	if err != nil {
		return nil, err
	}
	if list.Services == nil {
		list.Services = []Service{}
	}
	return list.Services, nil
}

// Service returns the service with this slug and its health.
func (c *Client) Service(ctx context.Context, slug string) (*Service, error) {
	return doJSON[Service](ctx, c, http.MethodGet, apiPath("services", slug), nil, nil)
}

// CreateService registers a service (needs the service token, see
// WithToken). Registering the same declaration again is not an error:
// created is false and nothing changes. A different declaration under a
// taken slug is a conflict: change it with UpdateService.
func (c *Client) CreateService(ctx context.Context, spec ServiceSpec) (_ *Service, created bool, _ error) {
	req, err := c.NewRequest(ctx, http.MethodPost, apiPath("services"), nil, spec)
	if err != nil {
		return nil, false, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	var svc Service
	if err := json.NewDecoder(resp.Body).Decode(&svc); err != nil {
		return nil, false, fmt.Errorf("POST %s: decode answer of %s: %w", req.URL.Path, c.URL(), err)
	}
	return &svc, resp.StatusCode == http.StatusCreated, nil
}

// UpdateService changes the fields set in req (needs the service token).
func (c *Client) UpdateService(ctx context.Context, slug string, req UpdateServiceRequest) (*Service, error) {
	return doJSON[Service](ctx, c, http.MethodPatch, apiPath("services", slug), nil, req)
}

// DeleteService removes a service from the registry (needs the service
// token).
func (c *Client) DeleteService(ctx context.Context, slug string) error {
	_, err := doJSON[struct{}](ctx, c, http.MethodDelete, apiPath("services", slug), nil, nil)
	return err
}

// ImportServices applies a manifest in one transaction (needs the service
// token). When entries are invalid nothing is applied and the error is a
// *ManifestError listing each of them.
func (c *Client) ImportServices(ctx context.Context, m ServiceManifest, opts ImportServicesOptions) (*ServiceImportResult, error) {
	if m.Services == nil {
		m.Services = []ServiceSpec{}
	}
	return c.importServices(ctx, m, opts)
}

// ImportServicesJSON sends a manifest as read from a file, unchanged, so
// that the daemon reports problems (an unknown field, a wrong type) per
// entry; see ImportServices.
func (c *Client) ImportServicesJSON(ctx context.Context, manifest []byte, opts ImportServicesOptions) (*ServiceImportResult, error) {
	if !json.Valid(manifest) {
		var v any
		err := json.Unmarshal(manifest, &v)
		return nil, fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	return c.importServices(ctx, json.RawMessage(manifest), opts)
}

func (c *Client) importServices(ctx context.Context, body any, opts ImportServicesOptions) (*ServiceImportResult, error) {
	q := url.Values{}
	if opts.Prune {
		q.Set("prune", "true")
	}
	res, err := doJSON[ServiceImportResult](ctx, c, http.MethodPost, apiPath("services", "import"), q, body)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == CodeInvalid {
		var eb struct {
			Error ManifestErrorDetail `json:"error"`
		}
		if json.Unmarshal(ae.body, &eb) == nil && len(eb.Error.Entries) > 0 {
			return nil, &ManifestError{Err: ae, Entries: eb.Error.Entries}
		}
	}
	return res, err
}

// ReadManifest reads a manifest for ImportServicesJSON, refusing what is
// not JSON with the line and column of the mistake.
func ReadManifest(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineCol(data, syn.Offset)
			return nil, fmt.Errorf("%s:%d:%d: not valid JSON: %v", name, line, col, err)
		}
		return nil, fmt.Errorf("%s: not valid JSON: %w", name, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf(`%s: a manifest is a JSON object {"services":[…]}`, name)
	}
	return data, nil
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := string(data[:offset])
	line = strings.Count(before, "\n") + 1
	col = len(before) - strings.LastIndex(before, "\n")
	return line, col
}
