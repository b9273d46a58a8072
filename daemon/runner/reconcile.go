package runner

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// watchEvents follows the engine's die events of this runner's containers
// and records the deaths. When the stream breaks it reconnects and
// reconciles, since events may have been missed meanwhile.
func (r *Runner) watchEvents(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for first := true; ctx.Err() == nil; first = false {
		sub, cancel := context.WithCancel(ctx)
		msgs, errs := r.eng.events(sub, r.id)
		if !first {
			if err := r.reconcile(ctx); err != nil {
				r.logger.Warn("reconcile after the event stream broke", "err", err)
			}
		}
		func() {
			defer cancel()
			for {
				select {
				case <-ctx.Done():
					return
				case err := <-errs:
					if ctx.Err() == nil {
						r.logger.Warn("Docker event stream broke; reconnecting", "err", err, "retry_in", backoff)
					}
					return
				case m := <-msgs:
					backoff = 500 * time.Millisecond
					id, err := strconv.ParseInt(m.Actor.Attributes[LabelLaunch], 10, 64)
					if err != nil {
						continue
					}
					cid := m.Actor.ID
					r.goWork(func(ctx context.Context) { r.containerDied(ctx, id, cid) })
				}
			}
		}()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxEngineBackoff)
	}
}

// containerDied records the death of a launch's container that nobody is
// stopping: the launch fails with the exit code, the reason (out of memory
// included) and the last lines of output; the container is removed.
func (r *Runner) containerDied(ctx context.Context, id int64, cid string) {
	if r.isBusy(id) {
		return // a start or a stop in flight handles its own container
	}
	defer r.hold(id)()
	l, err := r.st.Launch(ctx, id)
	if err != nil || (l.Status != catalog.LaunchRunning && l.Status != catalog.LaunchStarting) || l.Runner != r.id {
		return
	}
	ins, err := r.eng.inspect(ctx, cid)
	if err != nil {
		if errdefs.IsNotFound(err) {
			r.failLaunch(id, cid, "the container disappeared (removed outside appstore?)", nil)
		}
		return
	}
	if stateOf(ins) != nil && ins.State.Restarting {
		// Swarm restarts the task or moves it to another node.
		r.followTask(ctx, l, cid)
		return
	}
	if stateOf(ins) != nil && ins.State.Running {
		return // restarted by someone; the reconciler looks again later
	}
	ins = r.finalState(ctx, cid, ins)
	output := r.eng.tail(ctx, cid, 20)
	if err := r.eng.remove(ctx, cid, r.cfg.StopGrace); err != nil {
		r.logger.Warn("remove dead container", "launch", id, "err", err)
	}
	var code *int
	if st := stateOf(ins); st != nil {
		c := st.ExitCode
		code = &c
	}
	r.failLaunch(id, cid, deathMessage(ins, output, "while running"), code)
}

// reconcileLoop compares containers and rows now and then, in case an
// engine event was lost.
func (r *Runner) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.reconcile(ctx); err != nil && ctx.Err() == nil {
				r.logger.Warn("reconcile", "err", err)
			}
		}
	}
}

// reconcile makes the rows of this runner's active launches and its
// containers agree:
//   - a running container of a running launch is adopted (routed again);
//     of a starting launch, its readiness is awaited again;
//   - an exited container of an active launch fails the launch with its
//     exit code and output;
//   - an active launch without a container fails (or, stopping, stops);
//   - a container of no active launch is removed.
//
// Launches that a start, stop or death of this process is handling are left
// to it.
func (r *Runner) reconcile(ctx context.Context) error {
	ctx = catalog.WithCause(ctx, catalog.CauseReconcile)
	cs, err := r.eng.list(ctx, r.id)
	if err != nil {
		return err
	}
	ls, err := r.st.ListLaunches(ctx, store.LaunchFilter{Runner: r.id, Active: true, Limit: 1000})
	if err != nil {
		return err
	}
	byLaunch := map[int64][]container.Summary{}
	var unlabelled []container.Summary
	for _, c := range cs {
		id, err := strconv.ParseInt(c.Labels[LabelLaunch], 10, 64)
		if err != nil {
			unlabelled = append(unlabelled, c)
			continue
		}
		byLaunch[id] = append(byLaunch[id], c)
	}
	live := map[int64]bool{}
	for _, l := range ls {
		mine := byLaunch[l.ID]
		delete(byLaunch, l.ID)
		live[l.ID] = true
		if r.isBusy(l.ID) {
			continue
		}
		r.settle(ctx, &l, mine)
	}
	// What is left belongs to no active launch: orphans of a crash, of a
	// deleted repository, or of a launch that ended while we were down;
	// or a sleeping service, kept while its launch is its app's last and
	// ended idle.
	for id, cs := range byLaunch {
		if r.isBusy(id) {
			continue
		}
		for _, c := range cs {
			if c.Labels[LabelSleeping] == "true" && r.keepSleeping(ctx, id, c.Labels[LabelRepository]) {
				continue
			}
			r.logger.Info("removing a container of no active launch", "container", textutil.ShortSHA(c.ID), "launch", id, "state", c.State)
			if err := r.eng.remove(ctx, c.ID, r.cfg.StopGrace); err != nil {
				r.logger.Warn("remove orphan container", "container", textutil.ShortSHA(c.ID), "err", err)
			}
		}
	}
	for _, c := range unlabelled {
		r.logger.Info("removing a managed container without a launch label", "container", textutil.ShortSHA(c.ID))
		if err := r.eng.remove(ctx, c.ID, r.cfg.StopGrace); err != nil {
			r.logger.Warn("remove orphan container", "container", textutil.ShortSHA(c.ID), "err", err)
		}
	}
	r.routes.retain(live)
	return nil
}

// settle reconciles one active launch with its containers.
func (r *Runner) settle(ctx context.Context, l *catalog.Launch, cs []container.Summary) {
	var running *container.Summary
	for i := range cs {
		if cs[i].State == container.StateRunning && running == nil && (l.ContainerID == "" || cs[i].ID == l.ContainerID) {
			running = &cs[i]
		}
	}
	if running == nil {
		for i := range cs {
			if cs[i].State == container.StateRunning && running == nil {
				running = &cs[i]
			}
		}
	}
	// Extra containers of one launch (a retry after a crash) go.
	for _, c := range cs {
		if running != nil && c.ID == running.ID {
			continue
		}
		if l.Status == catalog.LaunchStopping || running != nil {
			_ = r.eng.remove(ctx, c.ID, r.cfg.StopGrace)
		}
	}
	switch {
	case l.Status == catalog.LaunchStopping:
		if running != nil {
			_ = r.eng.remove(ctx, running.ID, r.cfg.StopGrace)
		}
		// The stop was interrupted by a crash; finish it. An expiry is
		// recognised by its passed TTL.
		final := catalog.LaunchStopped
		if l.ExpiresAt != nil && !l.ExpiresAt.After(time.Now()) {
			final = catalog.LaunchExpired
		}
		if _, _, err := r.st.TransitionLaunch(ctx, l.ID, store.LaunchChange{To: final, From: []catalog.LaunchStatus{catalog.LaunchStopping}, Event: map[string]any{"reason": "reconciled"}}); err != nil {
			r.logger.Warn("finish interrupted stop", "launch", l.ID, "err", err)
		}
		r.notify()
	case running != nil:
		r.adopt(ctx, l, running.ID)
	case len(cs) > 0:
		// Exited while nobody watched.
		r.containerDied(ctx, l.ID, cs[0].ID)
		for _, c := range cs[1:] {
			_ = r.eng.remove(ctx, c.ID, r.cfg.StopGrace)
		}
	case l.ContainerID == "" && l.Status == catalog.LaunchStarting:
		r.failLaunch(l.ID, "", "appstored stopped before the container was created; launch again", nil)
	default:
		r.failLaunch(l.ID, l.ContainerID, fmt.Sprintf("the container %s disappeared while appstored was not watching (removed outside appstore, or the engine restarted)", textutil.ShortSHA(l.ContainerID)), nil)
	}
}

// adopt takes over a running container of an active launch.
func (r *Runner) adopt(ctx context.Context, l *catalog.Launch, cid string) {
	ins, err := r.eng.inspect(ctx, cid)
	if err != nil {
		r.logger.Warn("inspect adopted container", "launch", l.ID, "err", err)
		return
	}
	host, port, err := r.eng.endpoint(ctx, ins, l.AppPort)
	if err != nil {
		r.failLaunch(l.ID, cid, fmt.Sprintf("adopt container: %v", err), nil)
		_ = r.eng.remove(ctx, cid, r.cfg.StopGrace)
		return
	}
	if l.Status == catalog.LaunchRunning {
		if l.HostPort != port || l.ContainerID != cid || l.InstanceURL != instanceURL(host, port) {
			// The row missed the container's record, or Swarm moved the
			// task to another node or port.
			moved := l.ContainerID == cid
			l.HostPort, l.ContainerID, l.InstanceURL = port, cid, instanceURL(host, port)
			if moved {
				if _, err := r.st.RecordLaunchAddress(ctx, l.ID, port, l.InstanceURL); err != nil {
					r.logger.Warn("record the launch's new address", "launch", l.ID, "err", err)
				}
				r.logger.Info("the launch's task moved", "launch", l.ID, "slug", l.Repository, "address", l.InstanceURL)
				r.routes.remove(l.ID)
			}
		}
		if !l.Warm {
			r.addRoute(l)
		}
		r.logger.Info("adopted running container", "launch", l.ID, "slug", l.Repository, "container", textutil.ShortSHA(cid))
		return
	}
	// Starting when appstored stopped: record the container if it was not,
	// then wait for readiness again, on a fresh deadline.
	name := ""
	if ins.ContainerJSONBase != nil {
		name = trimSlash(ins.Name)
	}
	if l.ContainerID == "" {
		if ok, err := r.st.RecordLaunchContainer(ctx, l.ID, cid, name, port, instanceURL(host, port)); err != nil || !ok {
			return
		}
	}
	r.logger.Info("adopted starting container; waiting for it again", "launch", l.ID, "slug", l.Repository, "container", textutil.ShortSHA(cid))
	id, appPort, slug := l.ID, l.AppPort, l.Repository
	r.goStart(id, func(opCtx context.Context) {
		cleanup := func() {
			rmCtx, c := context.WithTimeout(context.Background(), 30*time.Second)
			defer c()
			_ = r.eng.remove(rmCtx, cid, r.cfg.StopGrace)
		}
		r.awaitReady(opCtx, id, cid, host, port, appPort, slug, time.Now().Add(r.cfg.StartupTimeout), cleanup)
	})
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// keepSleeping reports whether the sleeping service of launch id is still
// what a request to its app would wake: the launch is the app's newest and
// ended idle.
func (r *Runner) keepSleeping(ctx context.Context, id int64, slug string) bool {
	warm := false
	ls, err := r.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Warm: &warm, Limit: 1})
	return err == nil && len(ls) == 1 && ls[0].ID == id && ls[0].StopReason == "idle"
}
