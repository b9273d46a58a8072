package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// SearchStore is what search needs of the catalog (*store.Store).
type SearchStore interface {
	Search(ctx context.Context, o store.SearchOptions) (*catalog.SearchPage, error)
	Suggest(ctx context.Context, o store.SuggestOptions) (*catalog.Suggestions, error)
}

// Search serves search (?q=&limit=&cursor=&exact_total=1) and autocomplete
// (?q=&pos=&limit=). A query that does not parse is a 400 whose error
// names the field q and the byte position.
type Search struct {
	Store SearchStore
}

func (s *Search) defaults(srv *Server) {
	if s.Store == nil {
		s.Store = srv.Store
	}
}

func (s *Search) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.SearchOptions{Query: q.Get("q"), Cursor: q.Get("cursor")}
	var err error
	if opts.Limit, err = intParam(q.Get("limit"), "limit", 1, store.MaxSearchLimit); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if opts.ExactTotal, err = boolParam(q.Get("exact_total"), "exact_total"); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if opts.UserID, err = markUser(r, opts.Query); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	page, err := s.Store.Search(r.Context(), opts)
	if err != nil {
		writeSearchError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, page)
}

func (s *Search) autocomplete(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.SuggestOptions{Query: q.Get("q"), Pos: len(q.Get("q"))}
	var err error
	if p := q.Get("pos"); p != "" {
		if opts.Pos, err = intParam(p, "pos", 0, len(opts.Query)); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	if opts.Limit, err = intParam(q.Get("limit"), "limit", 1, store.MaxSuggestLimit); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	// A word that may become is: is completed only for someone.
	marks := opts.Query
	if tok := query.TokenAt(opts.Query, opts.Pos); tok.Kind == query.KindWord && tok.Prefix != "" &&
		strings.HasPrefix(catalog.IsKey, strings.ToLower(tok.Prefix)) {
		marks = catalog.IsKey + ":"
	}
	if opts.UserID, err = markUser(r, marks); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	sg, err := s.Store.Suggest(r.Context(), opts)
	if err != nil {
		writeSearchError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, sg)
}

// writeSearchError gives a query that does not parse its position; other
// errors go the usual way.
func writeSearchError(w http.ResponseWriter, r *http.Request, err error) {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		pos := se.Pos
		respond.JSON(w, http.StatusBadRequest, apitype.ErrorBody{Error: apitype.ErrorDetail{
			Code: apitype.CodeInvalid, Field: "q", Message: se.Error(), Position: &pos}})
		return
	}
	respond.WriteError(w, r, err)
}

// markUser is the users.id of the asking user when the query may hold
// is:starred (0 otherwise, or for no one): resolving a token costs a
// query, which a search without marks does not pay.
func markUser(r *http.Request, q string) (int64, error) {
	if !strings.Contains(strings.ToLower(q), catalog.IsKey+":") {
		return 0, nil
	}
	actor, err := catalog.ActorFrom(r.Context())
	return actor.ID, err
}
