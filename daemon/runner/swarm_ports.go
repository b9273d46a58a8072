package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"

	"github.com/docker/docker/api/types/swarm"
)

// The host ports Swarm tasks are published on. They lie below the
// kernel's ephemeral range (32768–60999), from which the engine hands out
// the ports of containers published on 127.0.0.1:0 (the docker runtime,
// other tools on the node). Left to the engine, a task's port comes from
// the same range through a separate allocator for 0.0.0.0, which can give
// the very port a loopback-published container holds: loopback traffic
// then reaches that container, not the app.
const (
	swarmPortLow  = 20000
	swarmPortHigh = 29999
)

// publishedPort picks a host port for a new service's task: one no other
// service publishes and that nothing on this node listens on. Another
// node that has it taken fails the task there, and Swarm places it again.
// The caller holds s.portMu until the service exists.
func (s *swarmRuntime) publishedPort(ctx context.Context) (uint32, error) {
	svcs, err := s.cli.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list Swarm services for a free port: %w", err)
	}
	used := map[uint32]bool{}
	for _, svc := range svcs {
		if es := svc.Spec.EndpointSpec; es != nil {
			for _, p := range es.Ports {
				used[p.PublishedPort] = true
			}
		}
		for _, p := range svc.Endpoint.Ports {
			used[p.PublishedPort] = true
		}
	}
	for range 500 {
		p := uint32(swarmPortLow + rand.IntN(swarmPortHigh-swarmPortLow+1))
		if used[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p, nil
	}
	return 0, errors.New("no free host port for a Swarm task between 20000 and 29999: stop some launches")
}
