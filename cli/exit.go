package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Exit codes of appstore, documented in docs/cli.md. Scripts rely on them:
// keep them stable.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // any other failure
	ExitUsage       = 2   // bad flags or arguments, or input the daemon refused as invalid
	ExitNotFound    = 3   // the repository (or other object) does not exist
	ExitUnreachable = 4   // appstored could not be reached
	ExitConflict    = 5   // already exists (e.g. the repository is already registered)
	ExitQuota       = 6   // a launch refused: as many apps run as the daemon allows
	ExitInterrupted = 130 // interrupted (Ctrl-C), as shells report SIGINT
)

// UsageError is a mistake in how the command was called: a bad flag, a
// missing argument, a malformed tag. It exits with ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// reportedError means the command has already printed its failures (one
// per item of a batch) and only the exit code is left to give.
type reportedError struct{ code int }

func (e *reportedError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// notFoundError is something the CLI itself found missing (an app with no
// build yet): it exits with ExitNotFound, and its message is all it says.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == catalog.ErrNotFound }

func notFoundf(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}

// errCancelled is returned when the user answers no to a confirmation.
var errCancelled = errors.New("cancelled: nothing was changed")

// ExitCode maps an error of a command to the process's exit code. It is the
// one place that decides exit codes.
func ExitCode(err error) int {
	var rep *reportedError
	var usage *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &rep):
		return rep.code
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &usage), client.IsInvalid(err), client.IsConfigMissing(err):
		return ExitUsage
	case client.IsUnreachable(err):
		return ExitUnreachable
	case client.IsNotFound(err):
		return ExitNotFound
	case client.IsConflict(err):
		return ExitConflict
	case client.IsQuota(err):
		return ExitQuota
	}
	return ExitError
}

// batchExitCode is the exit code of a command that handled several items:
// the items' common code when all failures agree (so a script can still
// tell "all already registered" from a real failure), else ExitError.
func batchExitCode(codes []int) int {
	if len(codes) == 0 {
		return ExitOK
	}
	for _, c := range codes[1:] {
		if c != codes[0] {
			return ExitError
		}
	}
	return codes[0]
}

// ErrorMessage is the text printed after "error: " for err: the daemon's
// message, completed with what to do where the daemon cannot know it.
func ErrorMessage(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	msg := err.Error()
	switch {
	case ae.Code == client.CodeConflict && ae.Slug != "" && !strings.Contains(msg, ae.Slug):
		msg += fmt.Sprintf(" (already registered as %q: see `appstore show %s`)", ae.Slug, ae.Slug)
	case ae.Code == client.CodeInvalid && ae.Field != "" && !strings.Contains(msg, ae.Field):
		msg = ae.Field + ": " + msg
	case ae.Code == client.CodeUnauthorized && !strings.Contains(msg, "APPSTORE_TOKEN"):
		msg += " (set APPSTORE_TOKEN or pass --token with the daemon's token)"
	}
	return msg
}
