package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// ThumbnailStore reads thumbnails (store.Store).
type ThumbnailStore interface {
	Thumbnail(ctx context.Context, slug string) (*catalog.Thumbnail, error)
}

// ThumbnailRefresher takes a new thumbnail of an app (thumbnail.Service of
// the runner role), launching it when it does not run.
type ThumbnailRefresher interface {
	Refresh(ctx context.Context, slug string) (*apitype.ThumbnailRefresh, error)
}

// Thumbnails serves the screenshots of the apps' pages.
type Thumbnails struct {
	Store ThumbnailStore
	// Refresher is nil in a process without the runner role, or with
	// thumbnails turned off: refreshes answer 503 there.
	Refresher ThumbnailRefresher
	// Off says why there is no Refresher, for the 503.
	Off string
}

func (h *Thumbnails) defaults(s *Server) {
	if h.Store == nil && s.Store != nil {
		h.Store = s.Store
	}
}

// get is GET /api/v1/repositories/{slug}/thumbnail (?size=2x): the image,
// with an ETag. A request naming the current version (?v=, as
// thumbnail_url does) may be cached for good; others are revalidated.
func (h *Thumbnails) get(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	size := r.URL.Query().Get("size")
	if size != "" && size != apitype.ThumbnailSize1x && size != apitype.ThumbnailSize2x {
		respond.WriteError(w, r, catalog.Invalid("size", "%q is not a size: use 1x (320×200, the default) or 2x (640×400)", size))
		return
	}
	t, err := h.Store.Thumbnail(r.Context(), slug)
	var nf *catalog.NotFoundError
	if errors.As(err, &nf) && nf.Kind == "thumbnail" {
		respond.WriteError(w, r, respond.Errorf(http.StatusNotFound, apitype.CodeNotFound,
			"%s has no thumbnail yet: one is taken when a launch of a new build first answers; `appstore thumbnail %s --refresh` takes one now", slug, slug))
		return
	}
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	img := t.Image
	if size == apitype.ThumbnailSize2x {
		img = t.Image2x
		size = "2x"
	} else {
		size = "1x"
	}
	etag := `"` + t.ETag + "-" + size + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Last-Modified", t.CapturedAt.UTC().Format(http.TimeFormat))
	if v := r.URL.Query().Get("v"); v != "" && v == t.ETag {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", t.ContentType)
	hdr.Set("Content-Length", strconv.Itoa(len(img)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(img)
	}
}

// etagMatches reports whether an If-None-Match header names etag (or *).
func etagMatches(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// refresh is POST /api/v1/repositories/{slug}/thumbnail: take a new one,
// launching the app when it does not run. 202: the outcome is an event.
func (h *Thumbnails) refresh(w http.ResponseWriter, r *http.Request) {
	if h.Refresher == nil {
		msg := h.Off
		if msg == "" {
			msg = "this appstored takes no thumbnails: they are taken by a process with the runner role (and Chromium)"
		}
		respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable, "%s", msg))
		return
	}
	res, err := h.Refresher.Refresh(r.Context(), r.PathValue("slug"))
	if err != nil {
		launchError(w, r, fmt.Errorf("refresh the thumbnail: %w", err))
		return
	}
	respond.JSON(w, http.StatusAccepted, res)
}
