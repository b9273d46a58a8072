package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
	"github.com/appstore-dev/appstore/daemon/runner"
)

// VolumeManager lists and removes the apps' data volumes: the runner of
// this process.
type VolumeManager interface {
	Volumes(ctx context.Context, slug string) ([]runner.Volume, error)
	RemoveVolume(ctx context.Context, slug string) error
}

// Volumes serves the apps' data volumes (tags.yaml storage:); the runner
// does the work. Nil Runner (a process without the runner role) answers
// 503.
type Volumes struct {
	Runner VolumeManager
}

func (h *Volumes) defaults(*Server) {}

func (h *Volumes) runner(w http.ResponseWriter, r *http.Request) (VolumeManager, bool) {
	if h.Runner == nil {
		respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable,
			"this appstored has no runner role: volumes live on the Docker engine of a process started with --roles including runner"))
		return nil, false
	}
	return h.Runner, true
}

// list is GET /api/v1/volumes[?repository=slug].
func (h *Volumes) list(w http.ResponseWriter, r *http.Request) {
	rn, ok := h.runner(w, r)
	if !ok {
		return
	}
	slug := r.URL.Query().Get("repository")
	if slug != "" && !catalog.ValidSlug(slug) {
		respond.WriteError(w, r, respond.InvalidField("repository", "%q is not a slug (see `appstore list`)", slug))
		return
	}
	vols, err := rn.Volumes(r.Context(), slug)
	if err != nil {
		launchError(w, r, err)
		return
	}
	out := apitype.VolumeList{Volumes: []apitype.Volume{}}
	for _, v := range vols {
		out.Volumes = append(out.Volumes, apitype.Volume{
			Name: v.Name, Repository: v.Repository, Path: v.Path, SizeLimitBytes: v.SizeLimitBytes,
			UsedBytes: v.UsedBytes, CreatedAt: v.CreatedAt, LastUsedAt: v.LastUsedAt, InUse: v.InUse, Orphaned: v.Orphaned,
		})
	}
	respond.JSON(w, http.StatusOK, out)
}

// remove is DELETE /api/v1/repositories/{slug}/volume: 204, 404 without a
// volume, 409 while the app runs.
func (h *Volumes) remove(w http.ResponseWriter, r *http.Request) {
	rn, ok := h.runner(w, r)
	if !ok {
		return
	}
	if err := rn.RemoveVolume(r.Context(), r.PathValue("slug")); err != nil {
		launchError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// purgeVolume removes the app's volume before the app itself (rm
// --purge); an app without one is fine.
func purgeVolume(ctx context.Context, v VolumeManager, slug string) error {
	if v == nil {
		return respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable,
			"%s was not removed: --purge needs this appstored's runner role, which holds the app's data volume", slug)
	}
	if err := v.RemoveVolume(ctx, slug); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	return nil
}
