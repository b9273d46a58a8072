package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// Body limits of the service routes.
const (
	maxServiceBody  = 64 << 10
	maxManifestBody = 4 << 20
)

// ServiceStore is what the service registry's handlers need of the
// catalog (*store.Store).
type ServiceStore interface {
	Services(ctx context.Context, f store.ServiceFilter) ([]*catalog.Service, error)
	Service(ctx context.Context, slug string) (*catalog.Service, error)
	CreateService(ctx context.Context, spec catalog.ServiceSpec) (*catalog.Service, bool, error)
	UpdateService(ctx context.Context, slug string, p store.ServicePatch) (*catalog.Service, []string, error)
	DeleteService(ctx context.Context, slug string) error
	ImportServices(ctx context.Context, specs []catalog.ServiceSpec, opts store.ImportOptions) (*store.ImportResult, error)
}

// Services serve the service registry. Reading is open; registering,
// changing, removing and importing need the service token (the route
// table's serviceToken guard, Guard.ServiceToken), which is separate from
// the daemon token: services register themselves with it, so it must not
// grant anything else.
type Services struct {
	Store  ServiceStore
	Logger *slog.Logger
	// Changed is called after services were registered or changed, so
	// that a local poller checks them at once; nil does nothing.
	Changed func()
}

func (sr *Services) defaults(s *Server) {
	if sr.Store == nil {
		sr.Store = s.Store
	}
	if sr.Logger == nil {
		sr.Logger = s.Logger
	}
}

func (sr *Services) changed() {
	if sr.Changed != nil {
		sr.Changed()
	}
}

func (sr *Services) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list, err := sr.Store.Services(r.Context(), store.ServiceFilter{
		Status: catalog.ServiceStatus(q.Get("status")), Kind: q.Get("kind"), Capability: q.Get("capability"),
	})
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	out := apitype.ServiceList{Services: make([]apitype.Service, len(list))}
	for i, s := range list {
		out.Services[i] = *s
	}
	respond.JSON(w, http.StatusOK, out)
}

func (sr *Services) get(w http.ResponseWriter, r *http.Request) {
	svc, err := sr.Store.Service(r.Context(), r.PathValue("slug"))
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, svc)
}

func (sr *Services) create(w http.ResponseWriter, r *http.Request) {
	var spec apitype.ServiceSpec
	if err := respond.DecodeJSON(w, r, maxServiceBody, &spec); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	svc, created, err := sr.Store.CreateService(r.Context(), spec)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/services/"+svc.Slug)
	if !created {
		respond.JSON(w, http.StatusOK, svc)
		return
	}
	sr.Logger.Info("service registered", "service", svc.Slug, "health_url", svc.HealthURL)
	sr.changed()
	respond.JSON(w, http.StatusCreated, svc)
}

func (sr *Services) update(w http.ResponseWriter, r *http.Request) {
	var in apitype.UpdateServiceRequest
	if err := respond.DecodeJSON(w, r, maxServiceBody, &in); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	p := store.ServicePatch{Name: in.Name, Kind: in.Kind, BaseURL: in.BaseURL, HealthURL: in.HealthURL,
		Capabilities: in.Capabilities, Metadata: in.Metadata}
	if in.HealthInterval != nil {
		// Checked before the service is looked up, as the body's other
		// fields are (by decoding).
		if _, err := catalog.ParseHealthInterval(*in.HealthInterval); err != nil {
			respond.WriteError(w, r, err)
			return
		}
		p.HealthInterval = in.HealthInterval
	}
	slug := r.PathValue("slug")
	svc, changed, err := sr.Store.UpdateService(r.Context(), slug, p)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if len(changed) > 0 {
		sr.Logger.Info("service changed", "service", slug, "changed", changed)
		sr.changed()
	}
	respond.JSON(w, http.StatusOK, svc)
}

func (sr *Services) delete(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if err := sr.Store.DeleteService(r.Context(), slug); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	sr.Logger.Info("service removed", "service", slug)
	w.WriteHeader(http.StatusNoContent)
}

// serviceFields are the fields of a manifest entry, for messages.
const serviceFields = "slug, name, kind, base_url, health_url, capabilities, metadata, health_interval"

// importManifest applies {"services":[…]} in one transaction. Entries are
// decoded one by one so that every problem is reported with its index
// (an unknown field, a wrong type, an invalid value, a slug declared
// twice) and nothing is applied while any remains.
func (sr *Services) importManifest(w http.ResponseWriter, r *http.Request) {
	var opts store.ImportOptions
	switch p := r.URL.Query().Get("prune"); p {
	case "", "0", "false":
	case "1", "true":
		opts.Prune = true
	default:
		respond.WriteError(w, r, respond.InvalidField("prune", "%q: want true or false", p))
		return
	}
	var body struct {
		Services []json.RawMessage `json:"services"`
	}
	if err := respond.DecodeJSON(w, r, maxManifestBody, &body); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if body.Services == nil {
		respond.WriteError(w, r, respond.InvalidField("services", `is missing: a manifest is {"services":[{"slug":…,"base_url":…},…]}`))
		return
	}
	specs := make([]*catalog.ServiceSpec, len(body.Services))
	var bad []apitype.ServiceEntryError
	for i, raw := range body.Services {
		spec, entryErr := decodeEntry(raw)
		if entryErr != nil {
			entryErr.Index = i
			bad = append(bad, *entryErr)
			continue
		}
		specs[i] = spec
	}
	valid, invalid := catalog.ValidateManifest(specs)
	bad = append(bad, invalid...)
	if len(bad) > 0 {
		slices.SortStableFunc(bad, func(a, b apitype.ServiceEntryError) int { return a.Index - b.Index })
		writeManifestError(w, bad, len(body.Services))
		return
	}
	res, err := sr.Store.ImportServices(r.Context(), valid, opts)
	if err != nil {
		var me *catalog.ManifestError
		if errors.As(err, &me) {
			writeManifestError(w, me.Entries, len(body.Services))
			return
		}
		respond.WriteError(w, r, err)
		return
	}
	out := apitype.ServiceImportResult{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged,
		Deleted: res.Deleted, Services: make([]apitype.ServiceImportEntry, len(res.Entries))}
	for i, e := range res.Entries {
		out.Services[i] = apitype.ServiceImportEntry{Slug: e.Slug, Action: e.Action, Changed: e.Changed}
	}
	if res.Created+res.Updated+res.Deleted > 0 {
		sr.Logger.Info("service manifest imported", "created", res.Created, "updated", res.Updated,
			"unchanged", res.Unchanged, "deleted", res.Deleted, "prune", opts.Prune)
		sr.changed()
	}
	respond.JSON(w, http.StatusOK, out)
}

// decodeEntry decodes one manifest entry strictly. A health interval that
// does not parse is reported here, as a field that does not decode is;
// the other rules are checked by catalog.ValidateManifest.
func decodeEntry(raw json.RawMessage) (*catalog.ServiceSpec, *apitype.ServiceEntryError) {
	var in apitype.ServiceSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		e := &apitype.ServiceEntryError{Message: err.Error()}
		// Name the entry by its slug when it has a readable one.
		var named struct {
			Slug any `json:"slug"`
		}
		if json.Unmarshal(raw, &named) == nil {
			if s, ok := named.Slug.(string); ok {
				e.Slug = s
			}
		}
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field == "":
			e.Message = fmt.Sprintf("want a JSON object with %s; got JSON %s", serviceFields, typeErr.Value)
		case errors.As(err, &typeErr):
			e.Field, e.Message = typeErr.Field, fmt.Sprintf("want %s, got JSON %s", typeErr.Type, typeErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			e.Field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			e.Message = "unknown field; the fields of a service are " + serviceFields
		}
		return nil, e
	}
	if _, err := catalog.ParseHealthInterval(in.HealthInterval); err != nil {
		e := &apitype.ServiceEntryError{Slug: in.Slug, Message: err.Error()}
		var inv *catalog.InvalidError
		if errors.As(err, &inv) {
			e.Field, e.Message = inv.Field, inv.Message
		}
		return nil, e
	}
	return &in, nil
}

func writeManifestError(w http.ResponseWriter, entries []apitype.ServiceEntryError, total int) {
	var msg strings.Builder
	noun := "entries are"
	if len(entries) == 1 {
		noun = "entry is"
	}
	fmt.Fprintf(&msg, "%d of %d manifest %s invalid; nothing was applied", len(entries), total, noun)
	for i, e := range entries {
		if i == 3 {
			fmt.Fprintf(&msg, "; and %d more (see entries)", len(entries)-3)
			break
		}
		msg.WriteString("; " + e.String())
	}
	respond.JSON(w, http.StatusBadRequest, apitype.ManifestErrorBody{Error: apitype.ManifestErrorDetail{
		ErrorDetail: apitype.ErrorDetail{Code: apitype.CodeInvalid, Message: msg.String()},
		Entries:     entries,
	}})
}
