package builder

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/daemon/appconfig"
)

// Batching of log writes: lines are stored at most flushInterval after
// they arrive, or as soon as batchLines are waiting, in one transaction
// that also notifies followers.
const (
	flushInterval = 50 * time.Millisecond
	batchLines    = 100
)

// logStore is where a logSink writes (store.Store.AppendBuildLog).
type logStore interface {
	AppendBuildLog(ctx context.Context, id int64, lines []string, logBytes int64, truncated bool) error
}

// logSink stores the lines of one build's log in batches, up to limit
// bytes; past the limit it stores one truncation marker and drops the
// rest.
type logSink struct {
	store  logStore
	id     int64
	limit  int64
	logger *slog.Logger

	mu sync.Mutex
	// redact hides the app's secrets in every line.
	redact    *appconfig.Redactor
	pending   []string
	bytes     int64 // bytes of the lines accepted (stored or pending), newline included
	truncated bool
	failed    error // the last write error, for the final report

	wake chan struct{} // a full batch is waiting
	stop chan struct{}
	done chan struct{}
}

// newLogSink starts the sink's writer. ctx bounds the writes; it should
// outlive the build's own context, so that the lines telling why a build
// was cancelled or timed out are still stored.
func newLogSink(ctx context.Context, st logStore, id, limit int64, logger *slog.Logger) *logSink {
	s := &logSink{store: st, id: id, limit: limit, logger: logger,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run(ctx)
	return s
}

// setRedactor makes every later line go through r.
func (s *logSink) setRedactor(r *appconfig.Redactor) {
	s.mu.Lock()
	s.redact = r
	s.mu.Unlock()
}

// add accepts one line (without its newline).
func (s *logSink) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.truncated {
		return
	}
	line = s.redact.Fragment(line)
	size := int64(len(line)) + 1
	if s.limit > 0 && s.bytes+size > s.limit {
		s.truncated = true
		s.pending = append(s.pending, fmt.Sprintf("[log truncated at %s]", formatBytes(s.limit)))
	} else {
		s.bytes += size
		s.pending = append(s.pending, line)
	}
	if len(s.pending) >= batchLines {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// addf accepts a line of the worker's own (cache hits, errors).
func (s *logSink) addf(format string, args ...any) { s.add(fmt.Sprintf(format, args...)) }

func (s *logSink) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			// The last batch matters most (it says how the build
			// ended): try it a few times.
			for i := 1; s.flush(ctx) != nil && i < 4 && ctx.Err() == nil; i++ {
				time.Sleep(time.Duration(i) * 200 * time.Millisecond)
			}
			return
		case <-t.C:
		case <-s.wake:
		}
		_ = s.flush(ctx)
	}
}

// flush stores the pending lines; on failure they stay pending.
func (s *logSink) flush(ctx context.Context) error {
	s.mu.Lock()
	lines := s.pending
	s.pending = nil
	n, truncated := s.bytes, s.truncated
	s.mu.Unlock()
	if len(lines) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := s.store.AppendBuildLog(wctx, s.id, lines, n, truncated)
	if err == nil {
		return nil
	}
	s.logger.Warn("storing build log lines failed; retrying with the next batch", "build", s.id, "lines", len(lines), "err", err)
	s.mu.Lock()
	s.failed = err
	if ctx.Err() == nil {
		s.pending = append(lines, s.pending...)
	}
	s.mu.Unlock()
	return err
}

// close stores what is pending and stops the writer. Every line added
// before close is stored (or its failure logged) when close returns.
func (s *logSink) close() error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 {
		return fmt.Errorf("%d log lines of build %d were not stored: %w", len(s.pending), s.id, s.failed)
	}
	return nil
}

// formatBytes prints a byte count the way limits are spoken of: 2 MiB.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// redactedError is a build error whose message had an app secret in it:
// it says msg, and errors.As still finds what it wraps (a transient
// engine error is retried).
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
