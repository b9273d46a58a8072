// Package respond is how appstored answers over HTTP: JSON bodies, and
// errors as {"error":{"code":…,"message":…}} with the status their kind
// calls for. Domain errors (catalog.ErrNotFound, *catalog.InvalidError…)
// become 404, 400 and so on here, in one place.
//
// It is a package of its own, beside daemon/api rather than inside it, so
// that the event stream (daemon/events), whose handlers the route table
// mounts, answers errors the same way without importing daemon/api and,
// through it, the Docker client and the queue.
package respond

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// StatusClientClosed is logged for requests whose client went away before
// the answer (nginx's 499); nobody reads it.
const StatusClientClosed = 499

// Error is an error with its HTTP status and API error body.
type Error struct {
	Status int
	Detail apitype.ErrorDetail
	// Header is set on the answer (Retry-After, WWW-Authenticate).
	Header http.Header
}

func (e *Error) Error() string { return e.Detail.Message }

// Errorf returns an *Error with status, code (apitype.Code…) and message.
func Errorf(status int, code, format string, args ...any) error {
	return &Error{Status: status, Detail: apitype.ErrorDetail{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// InvalidField returns a 400 naming the input field that was wrong.
func InvalidField(field, format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Detail: apitype.ErrorDetail{Code: apitype.CodeInvalid, Field: field,
		Message: field + ": " + fmt.Sprintf(format, args...)}}
}

// JSON writes v with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteError answers err: an *Error as it is, domain errors with their
// status (invalid 400, not found 404, conflict 409), a body over its limit
// 413, an unreachable database 503, anything else 500.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(r, err)
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	JSON(w, e.Status, apitype.ErrorBody{Error: e.Detail})
}

func toError(r *http.Request, err error) *Error {
	var he *Error
	var inv *catalog.InvalidError
	var conflict *catalog.ConflictError
	var missing *catalog.MissingConfigError
	var maxBytes *http.MaxBytesError
	detail := func(status int, code, msg string) *Error {
		return &Error{Status: status, Detail: apitype.ErrorDetail{Code: code, Message: msg}}
	}
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &maxBytes):
		return detail(http.StatusRequestEntityTooLarge, apitype.CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxBytes.Limit))
	case errors.As(err, &inv):
		e := detail(http.StatusBadRequest, apitype.CodeInvalid, inv.Error())
		e.Detail.Field = inv.Field
		return e
	case errors.As(err, &missing):
		e := detail(http.StatusConflict, apitype.CodeConfigMissing, missing.Error())
		e.Detail.Slug = missing.Slug
		return e
	case errors.As(err, &conflict):
		e := detail(http.StatusConflict, apitype.CodeConflict, conflict.Message)
		e.Detail.Slug = conflict.Slug
		return e
	case errors.Is(err, catalog.ErrNotFound):
		return detail(http.StatusNotFound, apitype.CodeNotFound, notFoundMessage(err))
	case errors.Is(err, catalog.ErrConflict):
		return detail(http.StatusConflict, apitype.CodeConflict, err.Error())
	case errors.Is(err, catalog.ErrInvalid):
		return detail(http.StatusBadRequest, apitype.CodeInvalid, err.Error())
	case store.IsUnavailable(err):
		// Not the request's fault: PostgreSQL is away (restarting, say);
		// the pool reconnects by itself once it is back.
		return detail(http.StatusServiceUnavailable, apitype.CodeUnavailable,
			"the catalog database is not reachable right now ("+err.Error()+"); appstored reconnects by itself: try again shortly, and see /readyz")
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		return detail(StatusClientClosed, apitype.CodeCancelled, "request cancelled")
	}
	return detail(http.StatusInternalServerError, apitype.CodeInternal, "internal error: "+err.Error())
}

func notFoundMessage(err error) string {
	var nf *catalog.NotFoundError
	if errors.As(err, &nf) {
		return nf.Error()
	}
	return err.Error()
}

// DecodeJSON decodes a JSON body of at most limit bytes into v, refusing
// unknown fields and trailing data, with messages that name the problem.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Errorf(http.StatusUnsupportedMediaType, apitype.CodeInvalid, "Content-Type %q: send application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxBytes *http.MaxBytesError
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		var he *Error
		switch {
		case errors.As(err, &maxBytes), errors.As(err, &he):
			return err
		case errors.Is(err, io.EOF):
			return Errorf(http.StatusBadRequest, apitype.CodeInvalid, "request body is empty: send a JSON object")
		case errors.As(err, &syntax):
			return Errorf(http.StatusBadRequest, apitype.CodeInvalid, "request body is not valid JSON at byte %d: %v", syntax.Offset, err)
		case errors.As(err, &typeErr) && typeErr.Field == "":
			// The body as a whole: a list or a string where an object
			// belongs. Go's type name would mean nothing to the sender.
			return Errorf(http.StatusBadRequest, apitype.CodeInvalid, "request body is a JSON %s: send a JSON object (see docs/api.md)", typeErr.Value)
		case errors.As(err, &typeErr):
			return InvalidField(typeErr.Field, "want %s, got JSON %s", typeErr.Type, typeErr.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return Errorf(http.StatusBadRequest, apitype.CodeInvalid, "request body ends in the middle of the JSON: send a whole JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return InvalidField(field, "unknown field")
		}
		return Errorf(http.StatusBadRequest, apitype.CodeInvalid, "request body: %v", err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, apitype.CodeInvalid, "request body has data after the JSON object")
	}
	return nil
}
