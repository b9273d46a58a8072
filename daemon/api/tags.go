package api

import (
	"net/http"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// listTags answers the tags of the catalog with their counts (?prefix=,
// ?key=, ?limit=).
func (h *Repositories) listTags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.TagListOptions{Prefix: q.Get("prefix"), Key: q.Get("key")}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	opts.Limit = limit
	tags, err := h.Store.ListTags(r.Context(), opts)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, apitype.TagList{Tags: tags})
}
