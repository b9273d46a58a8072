package apitype

// Error codes of ErrorDetail.Code. Each goes with one HTTP status (the
// daemon's mapping is daemon/api/respond; the client's is client.APIError).
const (
	CodeInvalid      = "invalid"      // 400 (413 too_large, 408 body too slow, 415 content type)
	CodeNotFound     = "not_found"    // 404
	CodeConflict     = "conflict"     // 409
	CodeUnauthorized = "unauthorized" // 401
	CodeForbidden    = "forbidden"    // 403
	CodeTooLarge     = "too_large"    // 413
	CodeUnavailable  = "unavailable"  // 503
	CodeInternal     = "internal"     // 500
	// CodeCancelled is logged, never read: the client went away (499).
	CodeCancelled = "cancelled"
	// CodeTooManyRequests (429): the client presented too many wrong
	// tokens or signatures; it waits the Retry-After header's seconds.
	CodeTooManyRequests = "too_many_requests"
	// CodeQuota (429): a launch would pass the runner's caps
	// (--max-running, --max-running-memory); the message names what runs.
	CodeQuota = "quota"
	// CodeConfigMissing (409): a launch was refused because a required
	// variable or secret of the app is not set; the message says what to
	// run.
	CodeConfigMissing = "config_missing"
)

// ErrorBody is the body of every error answer: {"error":{...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes what went wrong.
type ErrorDetail struct {
	// Code is one of invalid, not_found, conflict, unauthorized, forbidden,
	// too_large, too_many_requests, quota, unavailable, internal.
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the input field that was wrong (code invalid).
	Field string `json:"field,omitempty"`
	// Slug names the existing object (code conflict).
	Slug string `json:"slug,omitempty"`
	// Position is the byte offset in the search query where a search or
	// autocomplete query could not be parsed (field q).
	Position *int `json:"position,omitempty"`
}
