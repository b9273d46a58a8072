package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// LogLine is one line of an app's output.
type LogLine struct {
	Stream string // stdout or stderr
	Line   string
	Time   time.Time // when the engine received it
}

// Logs sends the output of the launch's container to emit: the last tail
// lines (0 = all) and, with follow, what comes until the container ends or
// ctx is done. A launch whose container is gone (it failed or was stopped)
// is a not-found error that quotes why it ended.
func (r *Runner) Logs(ctx context.Context, id int64, follow bool, tail int, emit func(LogLine) error) error {
	l, err := r.st.Launch(ctx, id)
	if err != nil {
		return err
	}
	if l.Runner != r.id && r.cfg.Runtime != RuntimeSwarm { // a service's logs come from any manager
		return &unavailableError{fmt.Sprintf("launch %d runs on runner %s, not on this appstored: ask that one for its output", id, l.Runner)}
	}
	gone := func() error {
		msg := fmt.Sprintf("launch %d of %s is %s and its container is removed", id, l.Repository, l.Status)
		if l.ErrorMessage != "" {
			msg += ": " + l.ErrorMessage
		}
		return fmt.Errorf("%w: %s", catalog.ErrNotFound, msg)
	}
	if l.ContainerID == "" {
		if l.Status == catalog.LaunchStarting {
			return fmt.Errorf("%w: launch %d of %s has no container yet; retry in a moment", catalog.ErrConflict, id, l.Repository)
		}
		return gone()
	}
	rc, err := r.eng.logs(ctx, l.ContainerID, follow, tail)
	if errdefs.IsNotFound(err) {
		return gone()
	}
	if err != nil {
		return &unavailableError{fmt.Sprintf("read the output of launch %d: %v", id, err)}
	}
	defer rc.Close()
	redact := r.cfg.AppConfig.Redactor(ctx, l.Repository)
	err = demux(rc, func(stream string, line []byte) error {
		ll := LogLine{Stream: stream}
		// With timestamps each line starts with RFC 3339 and a space.
		if i := bytes.IndexByte(line, ' '); i > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(line[:i])); err == nil {
				ll.Time, line = t, line[i+1:]
			}
		}
		// As build logs are: a terminal that prints the app's output
		// must not obey it (titles, clipboard writes, disguised links).
		// The app's secrets never leave in its output.
		ll.Line = textutil.CleanLine(redact.Fragment(string(line)))
		return emit(ll)
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}
