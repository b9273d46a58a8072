package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// followTask follows a launch whose Swarm task died while Swarm starts it
// again: after a crash (the restart policy), or on another node when its
// node was drained or went down. Once the new task runs, the launch's
// address and route move to it; when Swarm gives up or cannot place it
// within the startup timeout, the launch fails with the reason. The
// caller holds the launch.
func (r *Runner) followTask(ctx context.Context, l *catalog.Launch, cid string) {
	r.logger.Info("the launch's task ended; Swarm starts another", "launch", l.ID, "slug", l.Repository)
	deadline := time.Now().Add(r.cfg.StartupTimeout)
	for ctx.Err() == nil {
		ins, err := r.eng.inspect(ctx, cid)
		switch {
		case err != nil:
			// Gone, or the manager is not answering: the reconciler
			// settles it.
			r.logger.Warn("follow the launch's task", "launch", l.ID, "err", err)
			return
		case stateOf(ins) != nil && ins.State.Running:
			host, port, err := r.eng.endpoint(ctx, ins, l.AppPort)
			if err != nil {
				break // the port is not reported yet
			}
			addr := instanceURL(host, port)
			if addr != l.InstanceURL {
				if _, err := r.st.RecordLaunchAddress(ctx, l.ID, port, addr); err != nil {
					r.logger.Warn("record the launch's new address", "launch", l.ID, "err", err)
				}
				r.routes.remove(l.ID)
				l.HostPort, l.InstanceURL = port, addr
				if l.Status == catalog.LaunchRunning && !l.Warm {
					r.addRoute(l)
				}
			}
			r.logger.Info("the launch follows its new task", "launch", l.ID, "slug", l.Repository, "address", addr)
			r.notify()
			return
		case stateOf(ins) != nil && !ins.State.Restarting:
			var code *int
			if ins.State.Error == "" {
				c := ins.State.ExitCode
				code = &c
			}
			msg := deathMessage(ins, r.eng.tail(ctx, cid, 20), "while running")
			if err := r.eng.remove(ctx, cid, r.cfg.StopGrace); err != nil {
				r.logger.Warn("remove the failed service", "launch", l.ID, "err", err)
			}
			r.failLaunch(l.ID, cid, msg, code)
			return
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("Swarm did not run the app's task again within %v", r.cfg.StartupTimeout)
			if ins.State != nil && ins.State.Error != "" {
				msg += ": " + ins.State.Error
			}
			_ = r.eng.remove(ctx, cid, r.cfg.StopGrace)
			r.failLaunch(l.ID, cid, msg, nil)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// foreignRouteTTL is how long a route to another runner's launch is used
// before the Swarm API is asked again where its task is.
const foreignRouteTTL = 5 * time.Second

// foreignRoute routes a preview request to the running launch of another
// runner on the same Swarm: its task's node address and port come from
// the Swarm API, so that every runner process serves every preview
// without sticky routing. Nil when there is none (the request then wakes
// the app as usual).
func (r *Runner) foreignRoute(ctx context.Context, slug string) *route {
	if r.cfg.Runtime != RuntimeSwarm {
		return nil
	}
	warm := false
	ls, err := r.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Active: true, Warm: &warm, Limit: 5})
	if err != nil {
		return nil
	}
	for i := range ls {
		l := &ls[i]
		if l.Status != catalog.LaunchRunning || l.Runner == r.id || l.ContainerID == "" {
			continue
		}
		ins, err := r.eng.inspect(ctx, l.ContainerID)
		if err != nil || stateOf(ins) == nil || !ins.State.Running {
			continue
		}
		host, port, err := r.eng.endpoint(ctx, ins, l.AppPort)
		if err != nil {
			continue
		}
		l.HostPort, l.InstanceURL = port, instanceURL(host, port)
		r.addRoute(l)
		rt := r.routes.get(slug)
		if rt != nil && rt.launchID == l.ID {
			rt.foreignUntil.Store(time.Now().Add(foreignRouteTTL).UnixNano())
			return rt
		}
	}
	return nil
}
