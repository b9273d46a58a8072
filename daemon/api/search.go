package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/appstore-dev/appstore/catalog/query"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
)

// Search serves the search and autocomplete routes:
//
//	GET /api/v1/search?q=…&limit=&cursor=&exact_total=1
//	GET /api/v1/autocomplete?q=…&pos=&limit=
//
// A query that does not parse is a 400 whose error names the field q and
// the byte position.
type Search struct {
	Store *store.Store
}

// Register adds the routes to mux (Server.Extra).
func (s *Search) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/search", s.search)
	mux.HandleFunc("GET /api/v1/autocomplete", s.autocomplete)
}

func (s *Search) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.SearchOptions{Query: q.Get("q"), Cursor: q.Get("cursor")}
	var err error
	if opts.Limit, err = intParam(q.Get("limit"), "limit", 1, store.MaxSearchLimit); err != nil {
		writeError(w, r, err)
		return
	}
	if opts.ExactTotal, err = boolParam(q.Get("exact_total"), "exact_total"); err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.Store.Search(r.Context(), opts)
	if err != nil {
		writeSearchError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Search) autocomplete(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.SuggestOptions{Query: q.Get("q"), Pos: len(q.Get("q"))}
	var err error
	if p := q.Get("pos"); p != "" {
		if opts.Pos, err = intParam(p, "pos", 0, len(opts.Query)); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if opts.Limit, err = intParam(q.Get("limit"), "limit", 1, store.MaxSuggestLimit); err != nil {
		writeError(w, r, err)
		return
	}
	sg, err := s.Store.Suggest(r.Context(), opts)
	if err != nil {
		writeSearchError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sg)
}

// writeSearchError gives a query that does not parse its position; other
// errors go the usual way.
func writeSearchError(w http.ResponseWriter, r *http.Request, err error) {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		pos := se.Pos
		writeJSON(w, http.StatusBadRequest, client.ErrorBody{Error: client.ErrorDetail{
			Code: client.CodeInvalid, Field: "q", Message: se.Error(), Position: &pos}})
		return
	}
	writeError(w, r, err)
}

// intParam parses an optional integer query parameter in [lo, hi]; "" is 0.
func intParam(s, name string, lo, hi int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, invalidField(name, "%q: want a number from %d to %d", s, lo, hi)
	}
	return n, nil
}

func boolParam(s, name string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, invalidField(name, "%q: want 1 or 0 (true or false)", s)
	}
	return b, nil
}
