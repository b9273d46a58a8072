package catalog

import (
	"errors"
	"fmt"
)

// Domain errors. Stores map database errors to these; the API maps these to
// HTTP statuses; the client maps statuses back, so errors.Is works end to end.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid input")
)

// InvalidError says which field of the input was wrong and why.
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns an *InvalidError for field.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictError names the existing object that the input collides with.
type ConflictError struct {
	Message string
	// Slug of the existing object, when there is one.
	Slug string
}

func (e *ConflictError) Error() string { return e.Message }

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// NotFoundError names what was looked for.
type NotFoundError struct {
	Kind string // "repository", "build", ...
	Key  string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Key) }

func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
