package runner

import (
	"context"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/appstore-dev/appstore/catalog/store"
)

// Runtimes (Config.Runtime).
const (
	RuntimeDocker = "docker" // a container on the runner's Docker engine
	RuntimeSwarm  = "swarm"  // a one-replica service on the Swarm the engine manages
)

// runtime is where a launch's instance runs: a container on this host's
// engine (engine) or a Swarm service (swarmRuntime). The runner speaks the
// engine's vocabulary to both: an instance has an id, labels and a
// container-like state; a Swarm runtime reports its service's current task
// in those terms (state, exit code, error, the node's address and port).
type runtime interface {
	ping(ctx context.Context) error
	// prepare makes what launches need (the apps' network; for Swarm, a
	// check that this engine manages a swarm).
	prepare(ctx context.Context) error
	// imageRef is what the launch of build b runs and its image's exposed
	// TCP ports (nil when not known here).
	imageRef(ctx context.Context, b *store.LaunchBuild) (ref string, ports []int, err error)
	create(ctx context.Context, s containerSpec) (string, error)
	start(ctx context.Context, id string) error
	inspect(ctx context.Context, id string) (container.InspectResponse, error)
	// endpoint is where the app answers: a host (IP) and port.
	endpoint(ctx context.Context, ins container.InspectResponse, appPort int) (string, int, error)
	remove(ctx context.Context, id string, grace time.Duration) error
	list(ctx context.Context, runner string) ([]container.Summary, error)
	// events are the deaths of the runner's instances (Actor.ID is the
	// instance's id, Attributes carry the labels).
	events(ctx context.Context, runner string) (<-chan events.Message, <-chan error)
	tail(ctx context.Context, id string, n int) string
	logs(ctx context.Context, id string, follow bool, tail int) (io.ReadCloser, error)
	close() error
}

var _ runtime = (*engine)(nil)

// sleeper is a runtime whose idle launches sleep instead of being removed:
// a Swarm service scaled to zero, which the next launch of the same build
// and profile scales back to one.
type sleeper interface {
	sleep(ctx context.Context, id string) error
}

// LabelSleeping marks a service scaled to zero by an idle stop.
const LabelSleeping = "appstore.sleeping"
