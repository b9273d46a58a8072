package metadata

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrPermanent marks failures caused by the repository's content. Retrying the
// ingestion of the same commit gives the same answer, so queues should not.
var ErrPermanent = errors.New("permanent")

// Error is a problem with a file of the repository. File is relative to the
// repository root (slash-separated); Line is 1-based, 0 when unknown.
// Every *Error is permanent.
type Error struct {
	File string
	Line int
	Msg  string
	Err  error // the underlying cause, if any
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	case e.File != "":
		return e.File + ": " + e.Msg
	default:
		return e.Msg
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPermanent) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether err is a failure of the repository's content
// (not worth retrying) rather than of the machine or a cancelled context.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

func fileError(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// humanSize prints a byte count the way people read limits: "64 KiB", "5.2 MiB".
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[exp]
	if n%div == 0 {
		return strconv.FormatInt(n/div, 10) + " " + suffix
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + suffix
}
