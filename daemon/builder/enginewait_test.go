package builder_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// outageEngine is the real engine whose Ping fails, as an unreachable
// engine's does, until back is closed: a dockerd restart as the worker
// sees it.
type outageEngine struct {
	builder.Engine
	back  chan struct{}
	pings atomic.Int64
}

func (o *outageEngine) Ping(ctx context.Context) (types.Ping, error) {
	o.pings.Add(1)
	select {
	case <-o.back:
		return o.Engine.Ping(ctx)
	default:
		return types.Ping{}, fmt.Errorf("dial unix /var/run/docker.sock: connect: no such file or directory: %w", cerrdefs.ErrUnavailable)
	}
}

// A build whose engine is away waits for it, queued, and starts at the
// worker's next ping after its return instead of at the queue's next
// backoff.
func TestBuildWaitsForTheEngineToReturn(t *testing.T) {
	t.Parallel()
	docker, err := builder.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	eng := &outageEngine{Engine: docker, back: make(chan struct{})}
	e := newEnv(t, builder.Options{Engine: eng, EngineWait: time.Minute})
	slug, _, _ := e.repo("waits", e.files(map[string]string{"Dockerfile": okDockerfile}))
	id := e.queueBuild(slug, false)

	done := make(chan error, 1)
	go func() {
		done <- e.w.Handle(e.ctx, queue.Job{Kind: queue.KindBuild, BuildID: id, Attempt: 1, MaxAttempts: 5})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for eng.pings.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the worker asked the engine %d times in 10 s", eng.pings.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b := e.get(id); b.Status != catalog.BuildQueued {
		t.Fatalf("build %s while waiting for the engine, want queued", b.Status)
	}
	close(eng.back)
	back := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the build did not end after the engine returned")
	}
	b := e.get(id)
	if b.Status != catalog.BuildSucceeded || b.StartedAt == nil {
		t.Fatalf("build after the engine returned: %s %q", b.Status, b.ErrorMessage)
	}
	// The worker asks every enginePoll (0.5 s) while EngineWait is a
	// minute: a start long after the return means it stopped asking. The
	// bound leaves a loaded machine its slowness and stays far from the
	// minute.
	if lag := b.StartedAt.Sub(back); lag > 15*time.Second {
		t.Errorf("the build started %s after the engine returned", lag)
	}
}
