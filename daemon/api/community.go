package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// CommunityStore is what the usage statistics, stars and comments need of
// the catalog (*store.Store).
type CommunityStore interface {
	UsageStats(ctx context.Context, slug string, days int, now time.Time) (*catalog.UsageStats, error)
	SetStar(ctx context.Context, slug string, userID int64, on bool) (*catalog.StarState, error)
	StarState(ctx context.Context, slug string, userID int64) (*catalog.StarState, error)
	Stargazers(ctx context.Context, slug string, limit int) (*catalog.Stargazers, error)
	AddComment(ctx context.Context, slug string, author catalog.User, body string) (*catalog.Comment, error)
	Comment(ctx context.Context, id int64) (*catalog.Comment, error)
	Comments(ctx context.Context, slug string, limit int) ([]catalog.Comment, error)
	DeleteComment(ctx context.Context, id int64) error
}

// Community serves what people do with apps besides running them: their
// usage statistics, stars and comments.
type Community struct {
	Store CommunityStore
	// Now is the clock of the statistics (default time.Now).
	Now func() time.Time
}

func (h *Community) defaults(s *Server) {
	if h.Store == nil && s.Store != nil {
		h.Store = s.Store
	}
	if h.Now == nil {
		h.Now = time.Now
	}
}

// stats is GET /api/v1/repositories/{slug}/stats?days=N (default 30).
func (h *Community) stats(w http.ResponseWriter, r *http.Request) {
	days, err := intParam(r.URL.Query().Get("days"), "days", 1, catalog.MaxStatsDays)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if days == 0 {
		days = catalog.DefaultStatsDays
	}
	st, err := h.Store.UsageStats(r.Context(), r.PathValue("slug"), days, h.Now())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, st)
}

// starState is GET /api/v1/repositories/{slug}/star: whether the asking
// user starred the app (false for anonymous readers), and its count.
func (h *Community) starState(w http.ResponseWriter, r *http.Request) {
	actor, err := catalog.ActorFrom(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	st, err := h.Store.StarState(r.Context(), r.PathValue("slug"), actor.ID)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, st)
}

// star is POST /api/v1/repositories/{slug}/star; unstar is DELETE. Both
// are idempotent.
func (h *Community) star(w http.ResponseWriter, r *http.Request)   { h.setStar(w, r, true) }
func (h *Community) unstar(w http.ResponseWriter, r *http.Request) { h.setStar(w, r, false) }

func (h *Community) setStar(w http.ResponseWriter, r *http.Request, on bool) {
	actor, err := catalog.ActorFrom(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if actor.ID == 0 {
		respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"%s cannot star apps: stars belong to a user; send a personal token (`appstore users add` gives one)", actorLabel(actor)))
		return
	}
	st, err := h.Store.SetStar(r.Context(), r.PathValue("slug"), actor.ID, on)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, st)
}

func actorLabel(u catalog.User) string {
	if u.Anonymous() {
		return "an anonymous client"
	}
	return strconv.Quote(u.Name)
}

// comments is GET /api/v1/repositories/{slug}/comments?limit=N: the
// newest N (default 100), newest last.
func (h *Community) comments(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r.URL.Query().Get("limit"), "limit", 1, catalog.MaxCommentsLimit)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	list, err := h.Store.Comments(r.Context(), r.PathValue("slug"), limit)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, apitype.CommentList{Comments: list})
}

// addComment is POST /api/v1/repositories/{slug}/comments.
func (h *Community) addComment(w http.ResponseWriter, r *http.Request) {
	var req apitype.AddCommentRequest
	if err := respond.DecodeJSON(w, r, 64<<10, &req); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	actor, err := catalog.ActorFrom(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	c, err := h.Store.AddComment(r.Context(), r.PathValue("slug"), actor, req.Body)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusCreated, c)
}

// deleteComment is DELETE /api/v1/comments/{id}: its author or an admin.
func (h *Community) deleteComment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		respond.WriteError(w, r, catalog.Invalid("id", "%q is not a comment id: `appstore comments <app>` lists them", r.PathValue("id")))
		return
	}
	actor, err := catalog.ActorFrom(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	c, err := h.Store.Comment(r.Context(), id)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if !c.WrittenBy(actor) && !actor.Can(catalog.RoleAdmin) {
		respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"comment %d is %s's: only its author or an admin may remove it", id, c.AuthorLabel()))
		return
	}
	if err := h.Store.DeleteComment(r.Context(), id); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
