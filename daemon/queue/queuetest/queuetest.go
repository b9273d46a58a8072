// Package queuetest holds test helpers of package queue.
package queuetest

import (
	"context"
	"slices"
	"sync"

	"github.com/appstore-dev/appstore/daemon/queue"
)

// Recorder is a queue.Enqueuer that records the jobs it is given instead
// of running them, for tests that call the handlers themselves or only
// check what was enqueued. It is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	jobs []queue.Job
}

// Enqueue records j.
func (r *Recorder) Enqueue(_ context.Context, j queue.Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, j)
	return nil
}

// Jobs returns the jobs recorded so far, in order.
func (r *Recorder) Jobs() []queue.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.jobs)
}

// Len is the number of jobs recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}

// Take returns the recorded jobs of kind, in order, and forgets them.
func (r *Recorder) Take(kind queue.Kind) []queue.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out, rest []queue.Job
	for _, j := range r.jobs {
		if j.Kind == kind {
			out = append(out, j)
		} else {
			rest = append(rest, j)
		}
	}
	r.jobs = rest
	return out
}
