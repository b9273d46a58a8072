package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Error codes of ErrorDetail.Code (package apitype defines them).
const (
	CodeInvalid      = apitype.CodeInvalid
	CodeNotFound     = apitype.CodeNotFound
	CodeConflict     = apitype.CodeConflict
	CodeUnauthorized = apitype.CodeUnauthorized
	CodeForbidden    = apitype.CodeForbidden
	CodeTooLarge     = apitype.CodeTooLarge
	CodeUnavailable  = apitype.CodeUnavailable
	CodeInternal     = apitype.CodeInternal
	// CodeTooManyRequests: too many wrong tokens from this address; wait
	// for Retry-After.
	CodeTooManyRequests = apitype.CodeTooManyRequests
	// CodeQuota: a launch would pass the runner's caps on running apps.
	CodeQuota = apitype.CodeQuota
)

// APIError is an answer of the daemon with a status other than 2xx.
type APIError struct {
	StatusCode int
	// Code is one of the Code* constants. When the body was not an
	// ErrorBody (a proxy in between, say) it is derived from the status.
	Code    string
	Message string
	// Field names the input field that was wrong (Code invalid).
	Field string
	// Slug names the existing repository (Code conflict).
	Slug string
	// Position is the byte offset of the problem in a search query, -1
	// when the error is not about one.
	Position int

	// body is the raw answer, for endpoints whose error answers carry more
	// than an ErrorBody (/readyz sends a Health with its 503).
	body []byte
}

// Error returns the daemon's message, which says what was wrong.
func (e *APIError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("appstored answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Is maps the error to the catalog's domain errors, so that
// errors.Is(err, catalog.ErrNotFound) holds for a 404 as it does in the
// daemon for the store's error.
func (e *APIError) Is(target error) bool {
	switch target {
	case catalog.ErrNotFound:
		return e.Code == CodeNotFound
	case catalog.ErrConflict:
		return e.Code == CodeConflict
	case catalog.ErrInvalid:
		return e.Code == CodeInvalid
	}
	return false
}

// codeForStatus is the error code the daemon uses with status.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return CodeInvalid
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusTooManyRequests:
		return CodeTooManyRequests
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return CodeUnavailable
	}
	return CodeInternal
}

// newAPIError decodes an error answer. A body that is not an ErrorBody still
// gives a useful error: its first line becomes the message.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status, body: body, Position: -1}
	var eb ErrorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Message, e.Field, e.Slug = eb.Error.Code, eb.Error.Message, eb.Error.Field, eb.Error.Slug
		if eb.Error.Position != nil {
			e.Position = *eb.Error.Position
		}
	}
	if e.Code == "" {
		e.Code = codeForStatus(status)
	}
	if e.Message == "" && strings.Contains(string(body), "Client sent an HTTP request to an HTTPS server") {
		e.Message = "the daemon answers HTTPS on this address, not plain HTTP: use an https:// URL in APPSTORE_URL / --server"
	}
	if e.Message == "" {
		if line := firstLine(body); line != "" {
			e.Message = fmt.Sprintf("appstored answered %d %s: %s", status, http.StatusText(status), line)
		}
	}
	return e
}

func firstLine(body []byte) string {
	if !utf8.Valid(body) {
		return ""
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	s = strings.TrimSpace(s)
	return textutil.Truncate(s, 200)
}

// UnreachableError means no answer came from the daemon: nothing listens at
// URL, the name does not resolve, or the connection timed out.
type UnreachableError struct {
	URL string
	Err error
	// Hint replaces the advice to start the daemon when something did
	// answer, but not as the URL said (plain HTTP for https://).
	Hint string
}

func (e *UnreachableError) Error() string {
	if e.Hint != "" {
		return e.Hint
	}
	msg := fmt.Sprintf("appstored is not reachable at %s: start it with `appstored` (or `make demo`), or set APPSTORE_URL / --server", e.URL)
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, catalog.ErrNotFound) }

// IsConflict reports whether err means the object already exists (the
// *APIError's Slug names it).
func IsConflict(err error) bool { return errors.Is(err, catalog.ErrConflict) }

// IsQuota reports whether a launch was refused because as many apps run
// as the daemon allows (429, code quota).
func IsQuota(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == CodeQuota
}

// IsInvalid reports whether the daemon refused the input.
func IsInvalid(err error) bool { return errors.Is(err, catalog.ErrInvalid) }

// IsUnauthorized reports whether the daemon wants a (different) token.
func IsUnauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Code == CodeUnauthorized || ae.Code == CodeForbidden)
}

// IsUnreachable reports whether the daemon could not be reached at all.
func IsUnreachable(err error) bool {
	var ue *UnreachableError
	return errors.As(err, &ue)
}
