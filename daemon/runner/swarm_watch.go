package runner

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// swarmTaskPoll is how often watchTasks reads the runner's tasks. A task
// that dies on another node comes in no event stream the runner can
// follow: the engine's events are its own node's, and Swarm's own events
// (services, nodes) carry no task states. Two list calls per poll, for
// every service of the runner at once.
const swarmTaskPoll = 2 * time.Second

// taskEnded are the states of a task that no longer runs.
var taskEnded = map[swarm.TaskState]bool{
	swarm.TaskStateComplete: true, swarm.TaskStateFailed: true, swarm.TaskStateRejected: true,
	swarm.TaskStateShutdown: true, swarm.TaskStateOrphaned: true, swarm.TaskStateRemove: true,
}

// watchTasks reports the end of the runner's tasks on other nodes as a die
// event of their service, within about swarmTaskPoll: a task of a
// service's current launch that failed, was shut down (its node drained)
// or orphaned (its node lost). The runner then follows the service's new
// task or fails the launch (containerDied), as for a death on this node,
// instead of waiting for the reconciliation. Tasks that had ended before
// the first poll are the reconciliation's (Init runs one).
func (s *swarmRuntime) watchTasks(ctx context.Context, runner string, out chan<- events.Message) {
	tick := time.NewTicker(swarmTaskPoll)
	defer tick.Stop()
	reported := map[string]bool{} // ended tasks already reported (or there at the first poll)
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		svcs, ended, err := s.endedTasks(ctx, runner)
		if err != nil {
			s.logger.Debug("poll the Swarm tasks", "err", err)
			continue
		}
		died := map[string]bool{}
		listed := make(map[string]bool, len(ended))
		for _, t := range ended {
			listed[t.ID] = true
			if reported[t.ID] {
				continue
			}
			reported[t.ID] = true
			if !first {
				died[t.ServiceID] = true
			}
		}
		for id := range reported {
			if !listed[id] {
				delete(reported, id) // out of Swarm's task history
			}
		}
		for svc := range died {
			m := events.Message{
				Type: events.ContainerEventType, Action: events.ActionDie,
				Actor: events.Actor{ID: svc, Attributes: svcs[svc].Labels},
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
	}
}

// endedTasks returns the runner's services and the ended tasks of their
// current launches on other nodes (services scaled to zero left out: their
// tasks were ended on purpose).
func (s *swarmRuntime) endedTasks(ctx context.Context, runner string) (map[string]swarm.ServiceSpec, []swarm.Task, error) {
	list, err := s.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelRunner+"="+runner), filters.Arg("label", LabelManaged+"=true"))})
	if err != nil {
		return nil, nil, err
	}
	svcs := map[string]swarm.ServiceSpec{}
	f := filters.NewArgs()
	for _, svc := range list {
		if r := svc.Spec.Mode.Replicated; r == nil || r.Replicas == nil || *r.Replicas == 0 {
			continue
		}
		svcs[svc.ID] = svc.Spec
		f.Add("service", svc.ID)
	}
	if len(svcs) == 0 {
		return svcs, nil, nil
	}
	ts, err := s.cli.TaskList(ctx, swarm.TaskListOptions{Filters: f})
	if err != nil {
		return nil, nil, err
	}
	local, allRemote := s.localNode(), s.allRemote.Load()
	var ended []swarm.Task
	for _, t := range ts {
		spec, ok := svcs[t.ServiceID]
		if !ok || !taskEnded[t.Status.State] || (t.NodeID == local && !allRemote) {
			continue
		}
		if cs := t.Spec.ContainerSpec; cs == nil || cs.Labels[LabelLaunch] != spec.Labels[LabelLaunch] {
			continue
		}
		ended = append(ended, t)
	}
	return svcs, ended, nil
}
