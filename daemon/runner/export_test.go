package runner

// TreatSwarmTasksAsRemote makes r's Swarm runtime ignore its node's die
// events and watch every task as if it ran on another node (a single-node
// test swarm has no other node). Call it before Run.
func TreatSwarmTasksAsRemote(r *Runner) {
	if s, ok := r.eng.(*swarmRuntime); ok {
		s.allRemote.Store(true)
	}
}
