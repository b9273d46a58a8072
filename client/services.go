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

	"github.com/appstore-dev/appstore/apitype"
)

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
		var eb apitype.ManifestErrorBody
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
