package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
	"github.com/appstore-dev/appstore/daemon/appconfig"
)

// AppConfigStore is what the configuration routes need of the catalog
// (*store.Store); secrets are sealed and stored by appconfig.Service.
type AppConfigStore interface {
	AppConfig(ctx context.Context, slug string) (*store.AppConfig, error)
	SetEnv(ctx context.Context, slug string, vars []catalog.EnvVar) (*store.AppConfig, error)
	UnsetEnv(ctx context.Context, slug string, names []string) (removed, missing []string, err error)
	DeleteSecret(ctx context.Context, slug, name string) error
}

// AppConfig serves an app's variables and secrets. Variables are read by
// anyone who reads the catalog; no route ever answers a secret's value.
// Changes go through the mutating guard (the daemon token when one is set).
type AppConfig struct {
	Store AppConfigStore
	// Service seals secrets; nil (no secrets key) refuses to set them.
	Service *appconfig.Service
}

func (h *AppConfig) defaults(s *Server) {
	if h.Store == nil && s.Store != nil {
		h.Store = s.Store
	}
}

// configAnswer is the API's view of the stored configuration.
func configAnswer(c *store.AppConfig) apitype.AppConfig {
	st := c.State()
	out := apitype.AppConfig{Slug: c.Slug, Variables: c.Variables, Secrets: []apitype.SecretInfo{},
		Declared: []apitype.DeclaredConfig{}, Missing: []string{}, ConfigVersion: c.Version}
	if out.Variables == nil {
		out.Variables = []apitype.EnvVar{}
	}
	for _, s := range c.Secrets {
		out.Secrets = append(out.Secrets, apitype.SecretInfo{Name: s.Name, UpdatedAt: s.UpdatedAt})
	}
	for _, d := range c.Declared {
		dc := apitype.DeclaredConfig{DeclaredEnv: d}
		switch {
		case slices.Contains(st.Secrets, d.Name):
			dc.SetBy = apitype.SetBySecret
		case slices.Contains(st.Variables, d.Name):
			dc.SetBy = apitype.SetByVariable
		case d.Default != "" && !d.Secret:
			dc.SetBy = apitype.SetByDefault
		}
		out.Declared = append(out.Declared, dc)
	}
	for _, m := range st.Missing() {
		out.Missing = append(out.Missing, m.Name)
	}
	return out
}

func (h *AppConfig) answer(w http.ResponseWriter, r *http.Request, ctx context.Context, slug string, notSet []string) {
	c, err := h.Store.AppConfig(ctx, slug)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	a := configAnswer(c)
	a.NotSet = notSet
	respond.JSON(w, http.StatusOK, a)
}

// getEnv is GET /api/v1/repositories/{slug}/env.
func (h *AppConfig) getEnv(w http.ResponseWriter, r *http.Request) {
	h.answer(w, r, r.Context(), r.PathValue("slug"), nil)
}

// changeEnv is PATCH /api/v1/repositories/{slug}/env: {"set": {...}} or
// {"unset": [...]}. The change applies from the app's next launch.
func (h *AppConfig) changeEnv(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	var req apitype.EnvChange
	if err := respond.DecodeJSON(w, r, catalog.MaxEnvBytesPerApp+64<<10, &req); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	switch {
	case len(req.Set) > 0 && len(req.Unset) > 0:
		respond.WriteError(w, r, catalog.Invalid("unset", "send set or unset, not both in one request"))
		return
	case len(req.Set) == 0 && len(req.Unset) == 0:
		respond.WriteError(w, r, catalog.Invalid("set", "nothing to change: give set {\"NAME\": \"value\"} or unset [\"NAME\"]"))
		return
	case len(req.Set) > catalog.MaxEnvPerApp || len(req.Unset) > catalog.MaxEnvPerApp:
		respond.WriteError(w, r, catalog.Invalid("set", "at most %d variables per request", catalog.MaxEnvPerApp))
		return
	}
	if len(req.Unset) > 0 {
		for _, n := range req.Unset {
			if err := catalog.ValidateEnvName(n); err != nil {
				respond.WriteError(w, r, err)
				return
			}
		}
		_, missing, err := h.Store.UnsetEnv(r.Context(), slug, req.Unset)
		if err != nil {
			respond.WriteError(w, r, err)
			return
		}
		h.answer(w, r, r.Context(), slug, missing)
		return
	}
	vars := make([]catalog.EnvVar, 0, len(req.Set))
	for n, v := range req.Set {
		if err := catalog.ValidateEnvName(n); err != nil {
			respond.WriteError(w, r, err)
			return
		}
		if err := catalog.ValidateEnvValue(n, v); err != nil {
			respond.WriteError(w, r, err)
			return
		}
		vars = append(vars, catalog.EnvVar{Name: n, Value: v})
	}
	slices.SortFunc(vars, func(a, b catalog.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	c, err := h.Store.SetEnv(r.Context(), slug, vars)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, configAnswer(c))
}

// listSecrets is GET /api/v1/repositories/{slug}/secrets: names and update
// times.
func (h *AppConfig) listSecrets(w http.ResponseWriter, r *http.Request) {
	c, err := h.Store.AppConfig(r.Context(), r.PathValue("slug"))
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, apitype.SecretList{Secrets: configAnswer(c).Secrets})
}

// putSecret is PUT /api/v1/repositories/{slug}/secrets/{name}. It answers
// the secret's name and update time, never its value.
func (h *AppConfig) putSecret(w http.ResponseWriter, r *http.Request) {
	slug, name := r.PathValue("slug"), r.PathValue("name")
	if err := catalog.ValidateEnvName(name); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if h.Service == nil || h.Service.Keys == nil {
		respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable,
			"this appstored has no secrets key, so it cannot store secrets (see docs/operations.md, \"Secrets\")"))
		return
	}
	var req apitype.SecretValue
	if err := respond.DecodeJSON(w, r, catalog.MaxSecretLen*2+4<<10, &req); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if err := catalog.ValidateSecretValue(name, []byte(req.Value)); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if err := h.Service.SetSecret(r.Context(), slug, name, []byte(req.Value)); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	c, err := h.Store.AppConfig(r.Context(), slug)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	for _, s := range configAnswer(c).Secrets {
		if s.Name == name {
			respond.JSON(w, http.StatusOK, s)
			return
		}
	}
	respond.WriteError(w, r, &catalog.NotFoundError{Kind: "secret", Key: slug + " " + name})
}

// deleteSecret is DELETE /api/v1/repositories/{slug}/secrets/{name}.
func (h *AppConfig) deleteSecret(w http.ResponseWriter, r *http.Request) {
	slug, name := r.PathValue("slug"), r.PathValue("name")
	if err := catalog.ValidateEnvName(name); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if err := h.Store.DeleteSecret(r.Context(), slug, name); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
