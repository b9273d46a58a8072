// Package queue delivers jobs to handlers. PostgreSQL stays the source of
// truth: a job only says "look at repository 7 now"; handlers read the state
// from the store, and reconcilers re-enqueue whatever a lost job left behind.
//
// Two implementations share this interface and the same retry policy: asynq on
// Redis (several appstored processes share the work) and an in-process queue
// (the embedded default, no Redis).
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind names a kind of job.
type Kind string

const (
	KindIngest  Kind = "ingest"  // clone + metadata of RepositoryID
	KindBuild   Kind = "build"   // image build BuildID (runner role: the image must land on the runner's engine)
	KindSync    Kind = "sync"    // compare the remote head of RepositoryID with the last ingested commit
	KindCleanup Kind = "cleanup" // prune the database: old events, old ingestion timeline steps (periodic, see Job.Period)
)

// Kinds lists every kind of job, in a stable order.
var Kinds = []Kind{KindIngest, KindBuild, KindSync, KindCleanup}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, known := range Kinds {
		if k == known {
			return true
		}
	}
	return false
}

// ErrStopped is returned by Enqueue after Stop.
var ErrStopped = errors.New("queue: stopped (appstored is shutting down)")

// Backlogger is implemented by both queues: the number of jobs per kind that
// are not finished (waiting, running or waiting to retry). The inline queue
// counts this process; asynq counts every process on the Redis.
type Backlogger interface {
	Backlog(ctx context.Context) (map[Kind]int, error)
}

// Job is one unit of work.
type Job struct {
	Kind         Kind  `json:"kind"`
	RepositoryID int64 `json:"repository_id,omitempty"`
	BuildID      int64 `json:"build_id,omitempty"`
	// Period makes a periodic job run once per period: it names the
	// period ("2026-11-26T09:00:00Z" for an hourly job) and is part of
	// the key. Unlike other jobs, one enqueued while its key runs is
	// dropped rather than run again, and so is one whose key already
	// finished (succeeded or failed for good) within PeriodMemory: several
	// appstored processes ticking in the same period enqueue it once.
	Period string `json:"period,omitempty"`
	// Attempt is set by the queue on delivery: 1 for the first try.
	Attempt int `json:"-"`
	// MaxAttempts is set by the queue on delivery, so handlers can tell the
	// last attempt (and record a final failure).
	MaxAttempts int `json:"-"`
}

// Key identifies the job for de-duplication: at most one job with a key is
// pending or running at a time.
func (j Job) Key() string {
	switch {
	case j.BuildID != 0:
		return fmt.Sprintf("%s:build:%d", j.Kind, j.BuildID)
	case j.RepositoryID != 0:
		return fmt.Sprintf("%s:repo:%d", j.Kind, j.RepositoryID)
	case j.Period != "":
		return fmt.Sprintf("%s:period:%s", j.Kind, j.Period)
	}
	return string(j.Kind)
}

// Periodic reports whether the job runs once per period (Job.Period).
func (j Job) Periodic() bool { return j.Period != "" }

// PeriodMemory is how long a queue remembers that a periodic job's key
// finished, and so refuses it again. It only needs to outlast the period
// plus the clock skew between processes; periods are named by time, so a
// period's name never comes back once it is over.
const PeriodMemory = 24 * time.Hour

// LastAttempt reports whether a failure now is final.
func (j Job) LastAttempt() bool { return j.MaxAttempts > 0 && j.Attempt >= j.MaxAttempts }

// Handler does a job. A returned error is retried with backoff unless it is
// permanent (see Permanent) or the attempts are used up.
type Handler func(ctx context.Context, job Job) error

// Enqueuer accepts jobs. Enqueueing a job whose key is already pending is not
// an error: the pending one will do.
type Enqueuer interface {
	Enqueue(ctx context.Context, job Job) error
}

// Queue is an Enqueuer that also runs handlers.
type Queue interface {
	Enqueuer
	// Handle registers the handler of a kind; call before Start. A process
	// only registers the kinds of its roles and only processes those.
	Handle(kind Kind, h Handler)
	// Start begins processing until Stop. ctx only bounds starting:
	// handlers keep running after it is cancelled, until Stop.
	Start(ctx context.Context) error
	// Stop waits for running handlers (their context is cancelled when ctx
	// expires) and stops.
	Stop(ctx context.Context) error
	// Ping reports whether the queue's backend is reachable (for /readyz).
	Ping(ctx context.Context) error
}

// RetryPolicy is shared by both implementations.
type RetryPolicy struct {
	MaxAttempts int           // including the first; default 5
	BaseDelay   time.Duration // delay after the first failure; default 2s
	MaxDelay    time.Duration // cap; default 5m
}

// DefaultRetryPolicy is used when a field is zero.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, BaseDelay: 2 * time.Second, MaxDelay: 5 * time.Minute}

// Delay returns the backoff before attempt n+1 after n failed attempts:
// exponential from BaseDelay, capped at MaxDelay.
func (p RetryPolicy) Delay(n int) time.Duration {
	p = p.withDefaults()
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetryPolicy.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetryPolicy.MaxDelay
	}
	return p
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a missing repository, a
// Dockerfile syntax error). Nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
