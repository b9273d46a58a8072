package runner

import (
	"context"

	"github.com/docker/docker/api/types/container"
)

// TreatSwarmTasksAsRemote makes r's Swarm runtime ignore its node's die
// events and watch every task as if it ran on another node (a single-node
// test swarm has no other node). Call it before Run.
func TreatSwarmTasksAsRemote(r *Runner) {
	if s, ok := r.eng.(*swarmRuntime); ok {
		s.allRemote.Store(true)
	}
}

// InspectInstance is the runtime's view of a launch's instance: its
// container, or on Swarm its service's current task.
func InspectInstance(ctx context.Context, r *Runner, id string) (container.InspectResponse, error) {
	return r.eng.inspect(ctx, id)
}

// PrepareRuntime does what Init does first: the runtime checks its engine
// and makes what launches need (on Swarm, the apps' network).
func PrepareRuntime(ctx context.Context, r *Runner) error { return r.eng.prepare(ctx) }
