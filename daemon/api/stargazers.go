package api

import (
	"net/http"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// stargazers is GET /api/v1/repositories/{slug}/stargazers?limit=N: who
// starred the app, newest star first.
func (h *Community) stargazers(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r.URL.Query().Get("limit"), "limit", 1, catalog.MaxStargazersLimit)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	sg, err := h.Store.Stargazers(r.Context(), r.PathValue("slug"), limit)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, sg)
}
