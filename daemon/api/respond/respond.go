package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
)

// httpError is an error with its HTTP status and API code.
type httpError struct {
	status int
	detail client.ErrorDetail
}

func (e *httpError) Error() string { return e.detail.Message }

func errorf(status int, code, format string, args ...any) error {
	return &httpError{status: status, detail: client.ErrorDetail{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func invalidField(field, format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, detail: client.ErrorDetail{Code: "invalid", Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}}
}

// HTTPError exposes errorf to sibling packages that register routes.
func HTTPError(status int, code, format string, args ...any) error {
	return errorf(status, code, format, args...)
}

// WriteError maps err to a status and the {"error":{…}} body.
func WriteError(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err) }

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// DecodeJSON decodes a bounded body strictly.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	return decodeJSON(w, r, limit, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var inv *catalog.InvalidError
	var conflict *catalog.ConflictError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &maxBytes):
		he = &httpError{status: http.StatusRequestEntityTooLarge, detail: client.ErrorDetail{Code: "too_large",
			Message: fmt.Sprintf("request body is larger than %d bytes", maxBytes.Limit)}}
	case errors.As(err, &inv):
		he = &httpError{status: http.StatusBadRequest, detail: client.ErrorDetail{Code: "invalid", Field: inv.Field, Message: inv.Error()}}
	case errors.As(err, &conflict):
		he = &httpError{status: http.StatusConflict, detail: client.ErrorDetail{Code: "conflict", Slug: conflict.Slug, Message: conflict.Message}}
	case errors.Is(err, catalog.ErrNotFound):
		he = &httpError{status: http.StatusNotFound, detail: client.ErrorDetail{Code: "not_found", Message: notFoundMessage(err)}}
	case errors.Is(err, catalog.ErrConflict):
		he = &httpError{status: http.StatusConflict, detail: client.ErrorDetail{Code: "conflict", Message: err.Error()}}
	case errors.Is(err, catalog.ErrInvalid):
		he = &httpError{status: http.StatusBadRequest, detail: client.ErrorDetail{Code: "invalid", Message: err.Error()}}
	case store.IsUnavailable(err):
		// Not the request's fault: PostgreSQL is away (restarting, say);
		// the pool reconnects by itself once it is back.
		he = &httpError{status: http.StatusServiceUnavailable, detail: client.ErrorDetail{Code: "unavailable",
			Message: "the catalog database is not reachable right now (" + err.Error() + "); appstored reconnects by itself: try again shortly, and see /readyz"}}
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		he = &httpError{status: 499, detail: client.ErrorDetail{Code: "cancelled", Message: "request cancelled"}}
	default:
		he = &httpError{status: http.StatusInternalServerError, detail: client.ErrorDetail{Code: "internal", Message: "internal error: " + err.Error()}}
	}
	writeJSON(w, he.status, client.ErrorBody{Error: he.detail})
}

func notFoundMessage(err error) string {
	var nf *catalog.NotFoundError
	if errors.As(err, &nf) {
		return nf.Error()
	}
	return err.Error()
}

// decodeJSON decodes a JSON body of at most limit bytes, refusing unknown
// fields and trailing data, with messages that name the problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "invalid", "Content-Type %q: send application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxBytes *http.MaxBytesError
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		var he *httpError
		switch {
		case errors.As(err, &maxBytes), errors.As(err, &he):
			return err
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "invalid", "request body is empty: send a JSON object")
		case errors.As(err, &syntax):
			return errorf(http.StatusBadRequest, "invalid", "request body is not valid JSON at byte %d: %v", syntax.Offset, err)
		case errors.As(err, &typeErr) && typeErr.Field == "":
			// The body as a whole: a list or a string where an object
			// belongs. Go's type name would mean nothing to the sender.
			return errorf(http.StatusBadRequest, "invalid", "request body is a JSON %s: send a JSON object (see docs/api.md)", typeErr.Value)
		case errors.As(err, &typeErr):
			return invalidField(typeErr.Field, "want %s, got JSON %s", typeErr.Type, typeErr.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "invalid", "request body ends in the middle of the JSON: send a whole JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalidField(field, "unknown field")
		}
		return errorf(http.StatusBadRequest, "invalid", "request body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid", "request body has data after the JSON object")
	}
	return nil
}
