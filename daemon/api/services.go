package api

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
)

// Body limits of the service routes.
const (
	maxServiceBody  = 64 << 10
	maxManifestBody = 4 << 20
)

// ServiceRoutes serve the service registry under /api/v1/services. Reading
// is open; registering, changing, removing and importing need the shared
// service token, which is separate from the daemon token: services register
// themselves with it, so it must not grant anything else. The Guard exempts
// these routes from the daemon token but still checks Host and Origin.
type ServiceRoutes struct {
	Store  *store.Store
	Logger *slog.Logger
	// Token is the service token (--service-token). Empty disables the
	// mutating routes.
	Token string
	// Changed is called after services were registered or changed, so
	// that a local poller checks them at once; nil does nothing.
	Changed func()
}

// Register adds the routes to mux.
func (sr *ServiceRoutes) Register(mux *http.ServeMux) {
	if sr.Logger == nil {
		sr.Logger = slog.New(slog.DiscardHandler)
	}
	mux.HandleFunc("GET /api/v1/services", sr.list)
	mux.HandleFunc("GET /api/v1/services/{slug}", sr.get)
	mux.HandleFunc("POST /api/v1/services", sr.guard(sr.create))
	mux.HandleFunc("PATCH /api/v1/services/{slug}", sr.guard(sr.update))
	mux.HandleFunc("DELETE /api/v1/services/{slug}", sr.guard(sr.delete))
	mux.HandleFunc("POST /api/v1/services/import", sr.guard(sr.importManifest))
}

// guard lets only holders of the service token through.
func (sr *ServiceRoutes) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sr.Token == "" {
			writeError(w, r, errorf(http.StatusForbidden, "forbidden",
				"service registration is disabled on this daemon: start appstored with --service-token <secret> (or APPSTORE_SERVICE_TOKEN=<secret>), then send it as Authorization: Bearer <secret> (the CLI reads APPSTORE_SERVICE_TOKEN or --service-token)"))
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(got) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="appstored services"`)
			writeError(w, r, errorf(http.StatusUnauthorized, "unauthorized",
				"this call needs the service token: send Authorization: Bearer <service token> (the CLI reads APPSTORE_SERVICE_TOKEN or --service-token; the daemon's APPSTORE_TOKEN is not accepted here)"))
			return
		}
		// Hashing first makes the comparison constant-time in the length
		// of the token too.
		want, have := sha256.Sum256([]byte(sr.Token)), sha256.Sum256([]byte(strings.TrimSpace(got)))
		if subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="appstored services", error="invalid_token"`)
			writeError(w, r, errorf(http.StatusUnauthorized, "unauthorized",
				"the service token is wrong: send the value appstored was started with (--service-token / APPSTORE_SERVICE_TOKEN; the CLI reads APPSTORE_SERVICE_TOKEN or --service-token, not APPSTORE_TOKEN)"))
			return
		}
		next(w, r)
	}
}

func (sr *ServiceRoutes) changed() {
	if sr.Changed != nil {
		sr.Changed()
	}
}

func (sr *ServiceRoutes) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list, err := sr.Store.Services(r.Context(), store.ServiceFilter{
		Status: catalog.ServiceStatus(q.Get("status")), Kind: q.Get("kind"), Capability: q.Get("capability"),
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := client.ServiceList{Services: make([]client.Service, len(list))}
	for i, s := range list {
		out.Services[i] = *s
	}
	writeJSON(w, http.StatusOK, out)
}

func (sr *ServiceRoutes) get(w http.ResponseWriter, r *http.Request) {
	svc, err := sr.Store.Service(r.Context(), r.PathValue("slug"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, svc)
}

// parseInterval reads a health_interval: a Go duration; "" means none.
func parseInterval(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, catalog.Invalid("health_interval", "%q is not a duration: give e.g. \"30s\" or \"5m\"", s)
	}
	if d == 0 {
		return 0, catalog.Invalid("health_interval", "is zero; leave it out to use the daemon's --health-interval")
	}
	return d, nil
}

func specFromWire(in client.ServiceSpec) (store.ServiceSpec, error) {
	iv, err := parseInterval(in.HealthInterval)
	if err != nil {
		return store.ServiceSpec{}, err
	}
	return store.ServiceSpec{Slug: in.Slug, Name: in.Name, Kind: in.Kind, BaseURL: in.BaseURL, HealthURL: in.HealthURL,
		Capabilities: in.Capabilities, Metadata: in.Metadata, HealthInterval: iv}, nil
}

func (sr *ServiceRoutes) create(w http.ResponseWriter, r *http.Request) {
	var in client.ServiceSpec
	if err := decodeJSON(w, r, maxServiceBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	spec, err := specFromWire(in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	svc, created, err := sr.Store.CreateService(r.Context(), spec)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/services/"+svc.Slug)
	if !created {
		writeJSON(w, http.StatusOK, svc)
		return
	}
	sr.Logger.Info("service registered", "service", svc.Slug, "health_url", svc.HealthURL)
	sr.changed()
	writeJSON(w, http.StatusCreated, svc)
}

func (sr *ServiceRoutes) update(w http.ResponseWriter, r *http.Request) {
	var in client.UpdateServiceRequest
	if err := decodeJSON(w, r, maxServiceBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	p := store.ServicePatch{Name: in.Name, Kind: in.Kind, BaseURL: in.BaseURL, HealthURL: in.HealthURL,
		Capabilities: in.Capabilities, Metadata: in.Metadata}
	if in.HealthInterval != nil {
		iv, err := parseInterval(*in.HealthInterval)
		if err != nil {
			writeError(w, r, err)
			return
		}
		p.HealthInterval = &iv
	}
	slug := r.PathValue("slug")
	svc, changed, err := sr.Store.UpdateService(r.Context(), slug, p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(changed) > 0 {
		sr.Logger.Info("service changed", "service", slug, "changed", changed)
		sr.changed()
	}
	writeJSON(w, http.StatusOK, svc)
}

func (sr *ServiceRoutes) delete(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if err := sr.Store.DeleteService(r.Context(), slug); err != nil {
		writeError(w, r, err)
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
func (sr *ServiceRoutes) importManifest(w http.ResponseWriter, r *http.Request) {
	var opts store.ImportOptions
	switch p := r.URL.Query().Get("prune"); p {
	case "", "0", "false":
	case "1", "true":
		opts.Prune = true
	default:
		writeError(w, r, invalidField("prune", "%q: want true or false", p))
		return
	}
	var body struct {
		Services []json.RawMessage `json:"services"`
	}
	if err := decodeJSON(w, r, maxManifestBody, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Services == nil {
		writeError(w, r, invalidField("services", `is missing: a manifest is {"services":[{"slug":…,"base_url":…},…]}`))
		return
	}
	specs := make([]*store.ServiceSpec, len(body.Services))
	var bad []client.ServiceEntryError
	for i, raw := range body.Services {
		spec, entryErr := decodeEntry(raw)
		if entryErr != nil {
			entryErr.Index = i
			bad = append(bad, *entryErr)
			continue
		}
		specs[i] = spec
	}
	valid, invalid := store.ValidateManifest(specs)
	for _, e := range invalid {
		bad = append(bad, client.ServiceEntryError{Index: e.Index, Slug: e.Slug, Field: e.Field, Message: e.Message})
	}
	if len(bad) > 0 {
		slices.SortStableFunc(bad, func(a, b client.ServiceEntryError) int { return a.Index - b.Index })
		writeManifestError(w, bad, len(body.Services))
		return
	}
	res, err := sr.Store.ImportServices(r.Context(), valid, opts)
	if err != nil {
		var me *store.ManifestError
		if errors.As(err, &me) {
			entries := make([]client.ServiceEntryError, len(me.Entries))
			for i, e := range me.Entries {
				entries[i] = client.ServiceEntryError{Index: e.Index, Slug: e.Slug, Field: e.Field, Message: e.Message}
			}
			writeManifestError(w, entries, len(body.Services))
			return
		}
		writeError(w, r, err)
		return
	}
	out := client.ServiceImportResult{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged,
		Deleted: res.Deleted, Services: make([]client.ServiceImportEntry, len(res.Entries))}
	for i, e := range res.Entries {
		out.Services[i] = client.ServiceImportEntry{Slug: e.Slug, Action: e.Action, Changed: e.Changed}
	}
	if res.Created+res.Updated+res.Deleted > 0 {
		sr.Logger.Info("service manifest imported", "created", res.Created, "updated", res.Updated,
			"unchanged", res.Unchanged, "deleted", res.Deleted, "prune", opts.Prune)
		sr.changed()
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeEntry decodes one manifest entry strictly.
func decodeEntry(raw json.RawMessage) (*store.ServiceSpec, *client.ServiceEntryError) {
	var in client.ServiceSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		e := &client.ServiceEntryError{Message: err.Error()}
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
	spec, err := specFromWire(in)
	if err != nil {
		e := &client.ServiceEntryError{Slug: in.Slug, Message: err.Error()}
		var inv *catalog.InvalidError
		if errors.As(err, &inv) {
			e.Field, e.Message = inv.Field, inv.Message
		}
		return nil, e
	}
	return &spec, nil
}

func writeManifestError(w http.ResponseWriter, entries []client.ServiceEntryError, total int) {
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
	writeJSON(w, http.StatusBadRequest, struct {
		Error client.ManifestErrorDetail `json:"error"`
	}{client.ManifestErrorDetail{
		ErrorDetail: client.ErrorDetail{Code: "invalid", Message: msg.String()},
		Entries:     entries,
	}})
}
