package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// DefaultAppPort is the port of an app whose repository names none.
const DefaultAppPort = 8080

// LaunchOptions are what a launch request may choose.
type LaunchOptions struct {
	// TTL is how long the launch lives (0 = the daemon's default).
	TTL time.Duration
	// Profile is a resource profile name ("" = the repository's, else small).
	Profile string
	// Restart starts a new launch even when one of the same build and
	// profile runs (to apply changed variables or secrets); the running
	// one is replaced once the new one answers.
	Restart bool
}

// launchEnv is a launch's configuration: its environment and the
// configuration version it was read at; fresh skips reuse (a restart).
type launchEnv struct {
	env     []string
	version int64
	fresh   bool
}

// appEnv reads the app's configuration for a launch; a required variable
// or secret that is not set refuses it (*catalog.MissingConfigError)
// before anything is recorded or started.
func (r *Runner) appEnv(ctx context.Context, slug string) (launchEnv, error) {
	if r.cfg.AppConfig == nil {
		return launchEnv{}, nil
	}
	c, err := r.cfg.AppConfig.LaunchConfig(ctx, slug)
	if err != nil {
		return launchEnv{}, err
	}
	return launchEnv{env: c.Env, version: c.Version}, nil
}

// Launch starts the latest succeeded build of the repository slug, or
// returns the active launch that already runs it (same build and profile;
// its expiry is extended), or attaches a warm-pool container. A new launch
// is returned in status starting: its container starts in the background,
// and Wait follows it to running or failed.
func (r *Runner) Launch(ctx context.Context, slug string, opts LaunchOptions) (*catalog.Launch, store.LaunchOrigin, error) {
	// An explicit launch retries at once an app whose wake failed.
	r.forgetWakeFailure(slug)
	return r.launch(ctx, slug, opts)
}

func (r *Runner) launch(ctx context.Context, slug string, opts LaunchOptions) (*catalog.Launch, store.LaunchOrigin, error) {
	if r.cfg.PreviewOnly {
		return nil, 0, &unavailableError{fmt.Sprintf("this appstored serves previews without the runner role: it does not start apps; start %s with `appstore launch %s` (or through an appstored with the runner role)", slug, slug)}
	}
	if err := r.available(ctx); err != nil {
		return nil, 0, err
	}
	ttl, exact := opts.TTL, opts.TTL != 0
	switch {
	case ttl == 0:
		ttl = r.cfg.DefaultTTL
	case ttl < time.Second:
		return nil, 0, catalog.Invalid("ttl", "%v is too short: give at least 1s, e.g. 30m", ttl)
	case ttl > r.cfg.MaxTTL:
		return nil, 0, catalog.Invalid("ttl", "%v is longer than this daemon allows (%v)", ttl, r.cfg.MaxTTL)
	}
	t, err := r.st.LaunchTarget(ctx, slug)
	if err != nil {
		return nil, 0, err
	}
	if t.Build == nil {
		return nil, 0, noBuildError(t)
	}
	prof, err := r.cfg.Limits.resolveProfile(opts.Profile, t.Profile)
	if err != nil {
		return nil, 0, err
	}
	env, err := r.appEnv(ctx, slug)
	if err != nil {
		return nil, 0, err
	}
	env.fresh = opts.Restart
	ref, port, err := r.imageAndPort(ctx, t)
	if err != nil {
		return nil, 0, err
	}
	return r.admitted(ctx, t, ref, port, prof, ttl, exact, env)
}

// begin records the launch of target's latest succeeded build (BeginLaunch)
// and starts its container, or routes the launch it reused or attached.
func (r *Runner) begin(ctx context.Context, t *store.LaunchTarget, ref string, port int, prof Profile, ttl time.Duration, exact bool, redeploys int64, env launchEnv, quota *store.LaunchQuota) (*catalog.Launch, store.LaunchOrigin, error) {
	slug := t.Slug
	vol, err := r.volumeFor(ctx, t)
	if err != nil {
		return nil, 0, err
	}
	if err := r.refuseOverSize(ctx, t, vol); err != nil {
		return nil, 0, err
	}
	// An attached warm container replaces the older launches in
	// BeginLaunch's transaction: hold them first, so that the reconciler
	// leaves their stops to us.
	release := r.holdOlder(ctx, slug)
	defer release()
	l, origin, replaced, err := r.st.BeginLaunchReplacing(ctx, store.NewLaunch{
		RepositoryID: t.RepositoryID, BuildID: t.Build.ID, AppPort: port, Profile: prof.Name,
		Runner: r.id, TTL: ttl, ExactTTL: exact, Redeploys: redeploys,
		ConfigVersion: env.version, Fresh: env.fresh, Memory: prof.Memory, Quota: quota,
	})
	if err != nil {
		return nil, 0, err
	}
	l.Origin = origin.String()
	if origin != store.LaunchReused {
		// The launch of the app that this one replaces once it runs.
		warm := false
		if older, err := r.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Runner: r.id, Active: true, Warm: &warm, Limit: 10}); err == nil {
			for _, o := range older {
				if o.ID < l.ID && o.Status != catalog.LaunchStopping {
					id := o.ID
					l.Replaces = &id
					break
				}
			}
		}
	}
	switch origin {
	case store.LaunchCreated:
		r.logger.Info("launch starting", "launch", l.ID, "slug", slug, "build", t.Build.ID, "profile", prof.Name, "port", port)
		r.spawn(l, containerSpec{Image: ref, LocalImage: cmp.Or(t.Build.ImageID, t.Build.ImageTag), LaunchID: l.ID, BuildID: t.Build.ID, Slug: slug, Runner: r.id, AppPort: port, Profile: prof, Env: env.env, Volume: vol})
	case store.LaunchAttached:
		r.logger.Info("launch attached to a warm container", "launch", l.ID, "slug", slug)
		r.addRoute(l)
		r.notify()
		r.kickWarm()
		if len(replaced) > 0 {
			l.Replaces = &replaced[len(replaced)-1].ID
		}
		r.stopReplaced(replaced)
	case store.LaunchReused:
		if l.Status == catalog.LaunchRunning {
			r.addRoute(l)
		}
	}
	return r.Decorate(l), origin, nil
}

// noBuildError explains why a repository cannot be launched yet.
func noBuildError(t *store.LaunchTarget) error {
	msg := fmt.Sprintf("no succeeded build of %s yet: run `appstore build %s`", t.Slug, t.Slug)
	switch t.IngestStatus {
	case catalog.IngestFailed:
		// A build needs what ingestion found (the Dockerfile): building
		// cannot work before a refresh succeeds.
		msg = fmt.Sprintf("no build of %s: its ingestion failed (see `appstore show %s`); fix the repository, then `appstore refresh %s`", t.Slug, t.Slug, t.Slug)
	case catalog.IngestQueued, catalog.IngestProcessing:
		msg = fmt.Sprintf("no build of %s yet: it is still being ingested, and its build starts after that (`appstore show %s`)", t.Slug, t.Slug)
	}
	if b := t.LatestBuild; b != nil {
		switch b.Status {
		case catalog.BuildQueued, catalog.BuildRunning:
			msg = fmt.Sprintf("no succeeded build of %s yet: build #%d is %s; wait for it with `appstore logs %s -f`", t.Slug, b.ID, b.Status, t.Slug)
		case catalog.BuildFailed:
			msg = fmt.Sprintf("no succeeded build of %s yet: build #%d failed (see `appstore logs %s`); fix it and run `appstore build %s`", t.Slug, b.ID, t.Slug, t.Slug)
		}
	}
	return &catalog.ConflictError{Message: msg, Slug: t.Slug}
}

// imageAndPort checks that the build's image is on this engine and picks the
// app's port: the repository's (tags.yaml, README app_port, EXPOSE found by
// ingestion), else the image's single exposed TCP port, else 8080.
func (r *Runner) imageAndPort(ctx context.Context, t *store.LaunchTarget) (string, int, error) {
	if t.Build.ImageID == "" && t.Build.ImageTag == "" {
		return "", 0, &catalog.ConflictError{Slug: t.Slug, Message: fmt.Sprintf("build #%d of %s recorded no image: rebuild with `appstore build %s`", t.Build.ID, t.Slug, t.Slug)}
	}
	ref, ports, err := r.eng.imageRef(ctx, t.Build)
	if errdefs.IsNotFound(err) {
		return "", 0, &catalog.ConflictError{Slug: t.Slug, Message: fmt.Sprintf("the image of build #%d of %s (%s) is not on this runner's Docker engine (removed?): rebuild with `appstore build %s`", t.Build.ID, t.Slug, cmp.Or(t.Build.ImageTag, ref), t.Slug)}
	}
	var conflict *catalog.ConflictError
	if errors.As(err, &conflict) {
		conflict.Slug = t.Slug
		return "", 0, conflict
	}
	if err != nil {
		return "", 0, &unavailableError{fmt.Sprintf("inspect image %s: %v", ref, err)}
	}
	port := t.AppPort
	if port == 0 && len(ports) > 0 {
		slices.Sort(ports)
		port = ports[0]
	}
	if port == 0 {
		port = DefaultAppPort
	}
	return ref, port, nil
}

// spawn starts the launch's container in the background.
func (r *Runner) spawn(l *catalog.Launch, spec containerSpec) {
	r.goStart(l.ID, func(ctx context.Context) { r.start(ctx, l, spec) })
}

// goStart runs start, the start of launch id, in the background with the
// launch held and registered in r.starts, whose cancel (a stop, shutdown)
// cancels start's ctx and waits for it to return.
func (r *Runner) goStart(id int64, start func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(r.ctx)
	op := &startOp{cancel: cancel, done: make(chan struct{})}
	release := r.hold(id)
	r.mu.Lock()
	r.starts[id] = op
	r.mu.Unlock()
	r.goWork(func(context.Context) {
		defer func() {
			r.mu.Lock()
			delete(r.starts, id)
			r.mu.Unlock()
			cancel()
			release()
			close(op.done)
		}()
		start(ctx)
	})
}

// start creates and starts the container, waits until the app answers and
// records the outcome. When ctx is cancelled (a stop, shutdown) it removes
// what it created and leaves the row to whoever cancelled it.
func (r *Runner) start(ctx context.Context, l *catalog.Launch, spec containerSpec) {
	// Launch ids are unique per catalog only; several catalogs' runners
	// may share an engine.
	spec.Name = fmt.Sprintf("appstore-%s-%d-%s", spec.Slug, spec.LaunchID, spec.Runner)
	// A create abandoned half-way may still make the container: let it
	// finish, and remove what it made if the start was cancelled meanwhile.
	createCtx, cancelCreate := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	cid, err := r.eng.create(createCtx, spec)
	cancelCreate()
	if err != nil {
		if ctx.Err() == nil {
			r.failLaunch(l.ID, "", err.Error(), nil)
		}
		return
	}
	cleanup := func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := r.eng.remove(rmCtx, cid, r.cfg.StopGrace); err != nil {
			r.logger.Warn("remove container", "launch", l.ID, "err", err)
		}
	}
	if ctx.Err() != nil {
		cleanup()
		return
	}
	if err := r.eng.start(ctx, cid); err != nil {
		if ctx.Err() == nil {
			r.failLaunch(l.ID, cid, err.Error(), nil)
		}
		cleanup()
		return
	}
	// The startup timeout is the app's time: it counts from the start of
	// its container, not from the request (a busy engine may take seconds
	// to create the container, and that is not the app being slow).
	began := time.Now()
	ins, err := r.eng.inspect(ctx, cid)
	// A Swarm task is scheduled, its image pulled and its container
	// started after the service exists: wait for it (a container runs at
	// once).
	for err == nil && stateOf(ins) != nil && ins.State.Restarting && ctx.Err() == nil {
		if time.Since(began) > r.cfg.StartupTimeout {
			msg := fmt.Sprintf("the app's task did not start within %v", r.cfg.StartupTimeout)
			if ins.State.Error != "" {
				msg += ": " + ins.State.Error
			}
			r.failLaunch(l.ID, cid, msg, nil)
			cleanup()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(25 * time.Millisecond):
		}
		ins, err = r.eng.inspect(ctx, cid)
	}
	if ctx.Err() != nil {
		cleanup()
		return
	}
	if err == nil && stateOf(ins) != nil && !ins.State.Running {
		// Ended at once: a stopped container has no published port.
		r.exited(ctx, l.ID, cid, r.finalState(ctx, cid, ins), cleanup)
		return
	}
	var (
		host string
		port int
	)
	if err == nil {
		host, port, err = r.eng.endpoint(ctx, ins, spec.AppPort)
	}
	if err != nil {
		if ctx.Err() == nil {
			r.failLaunch(l.ID, cid, fmt.Sprintf("find the published port: %v", err), nil)
		}
		cleanup()
		return
	}
	ok, err := r.st.RecordLaunchContainer(ctx, l.ID, cid, spec.Name, port, instanceURL(host, port))
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			r.failLaunch(l.ID, cid, err.Error(), nil)
		}
		cleanup()
		return
	}
	r.awaitReady(ctx, l.ID, cid, host, port, spec.AppPort, spec.Slug, began.Add(r.cfg.StartupTimeout), cleanup)
}

// awaitReady probes the app until it answers, dies or the deadline passes,
// and records the outcome.
func (r *Runner) awaitReady(ctx context.Context, id int64, cid, host string, port, appPort int, slug string, deadline time.Time, cleanup func()) {
	res, ins := r.waitReady(ctx, cid, host, port, slug, deadline)
	switch res {
	case readyCancelled:
		cleanup()
		return
	case readyOK:
		// Running and the older launches stopping in one transaction
		// (RunLaunch): hold those first, so that the reconciler leaves
		// their stops to us.
		release := r.holdOlder(ctx, slug)
		defer release()
		l, changed, replaced, err := r.st.RunLaunch(context.WithoutCancel(ctx), id)
		if err != nil {
			r.logger.Error("record launch running", "launch", id, "err", err)
			cleanup()
			r.failLaunch(id, cid, fmt.Sprintf("record running: %v", err), nil)
			return
		}
		if !changed {
			// Stopped meanwhile by someone who could not cancel us.
			cleanup()
			return
		}
		r.logger.Info("launch running", "launch", id, "slug", slug, "host_port", port, "warm", l.Warm)
		if !l.Warm {
			r.addRoute(l)
			r.stopReplaced(replaced)
		}
		r.notify()
		if r.cfg.OnRunning != nil {
			r.cfg.OnRunning(r.Decorate(l))
		}
	case readyExited:
		r.exited(ctx, id, cid, ins, cleanup)
	case readyTimeout:
		out := r.eng.tail(context.WithoutCancel(ctx), cid, 20)
		msg := fmt.Sprintf("the app did not answer on port %d within %v (it must listen on 0.0.0.0:$PORT, PORT=%d)", appPort, r.cfg.StartupTimeout, appPort)
		if out != "" {
			msg += "; last output:\n" + out
		} else {
			msg += "; it printed nothing"
		}
		cleanup()
		r.failLaunch(id, cid, msg, nil)
	}
}

// exited fails a launch whose container ended before it was ready.
func (r *Runner) exited(ctx context.Context, id int64, cid string, ins container.InspectResponse, cleanup func()) {
	var code *int
	if st := stateOf(ins); st != nil && st.Error == "" {
		c := st.ExitCode
		code = &c
	}
	msg := deathMessage(ins, r.eng.tail(context.WithoutCancel(ctx), cid, 20), "before it was ready")
	cleanup()
	r.failLaunch(id, cid, msg, code)
}

func instanceURL(host string, port int) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// deathMessage describes why a container ended, with its last output.
func deathMessage(ins container.InspectResponse, output, when string) string {
	var msg string
	st := stateOf(ins)
	switch {
	case st == nil:
		msg = "the container ended"
	case st.OOMKilled:
		limit := int64(0)
		if ins.ContainerJSONBase != nil && ins.HostConfig != nil {
			limit = ins.HostConfig.Memory
		}
		msg = fmt.Sprintf("killed for using more than its memory limit of %s (out of memory, exit code %d) %s", catalog.FormatSize(limit), st.ExitCode, when)
	case st.Error != "":
		msg = fmt.Sprintf("the container failed %s: %s", when, st.Error)
	default:
		msg = fmt.Sprintf("exited with code %d %s", st.ExitCode, when)
	}
	if output != "" {
		msg += "; last output:\n" + output
	}
	return msg
}

// failLaunch records a failed launch (from starting or running). The
// route goes first: the container is gone or going, so requests must not
// reach it even if recording the failure fails (the reconciler records it
// later). The message quotes the app's output, cleaned of terminal escapes
// and control characters as build logs are (textutil.CleanLines), so that
// it stores and prints safely.
func (r *Runner) failLaunch(id int64, cid, msg string, exitCode *int) {
	r.routes.remove(id)
	ctx, cancel := context.WithTimeout(catalog.WithCause(context.Background(), catalog.CauseLaunch), 30*time.Second)
	defer cancel()
	if r.cfg.AppConfig != nil {
		// The app's output may print its secrets: the message goes into
		// the launch, its event and the API's answers.
		if l, err := r.st.Launch(ctx, id); err == nil {
			msg = r.cfg.AppConfig.Redactor(ctx, l.Repository).Fragment(msg)
		}
	}
	msg = textutil.CleanLines(msg)
	l, changed, err := r.st.TransitionLaunch(ctx, id, store.LaunchChange{
		To: catalog.LaunchFailed, From: []catalog.LaunchStatus{catalog.LaunchStarting, catalog.LaunchRunning},
		Message: &msg, ExitCode: exitCode,
	})
	if err != nil {
		r.logger.Error("record launch failure", "launch", id, "err", err)
		r.notify()
		return
	}
	if changed {
		r.logger.Warn("launch failed", "launch", id, "slug", l.Repository, "container", textutil.ShortSHA(cid), "reason", textutil.FirstLine(msg))
		if l.Warm && l.BuildID != nil {
			r.mu.Lock()
			r.warmFailures[*l.BuildID] = time.Now()
			r.mu.Unlock()
			r.kickWarm()
		}
	}
	r.notify()
}

type readyResult int

const (
	readyOK readyResult = iota
	readyExited
	readyTimeout
	readyCancelled
)

// waitReady polls the app's port, with short intervals at first so that a
// fast app is seen at once, and checks that the container still runs.
func (r *Runner) waitReady(ctx context.Context, cid, hostAddr string, port int, slug string, deadline time.Time) (readyResult, container.InspectResponse) {
	addr := net.JoinHostPort(hostAddr, strconv.Itoa(port))
	host := slug + "." + r.preview.host
	// Most apps answer within a few seconds: look every 10 ms meanwhile
	// (a refused connection costs microseconds), then less often.
	const fastFor = 3 * time.Second
	interval := 10 * time.Millisecond
	began := time.Now()
	lastInspect := time.Now()
	for {
		if ctx.Err() != nil {
			return readyCancelled, container.InspectResponse{}
		}
		switch probe(ctx, addr, host) {
		case probeAnswered:
			return readyOK, container.InspectResponse{}
		case probeHeld:
			// A held connection is also what Docker's port proxy does
			// while it dials a container that is gone (a Swarm task that
			// crashed and waits for its restart): ready only when the
			// engine says the app runs.
			if ins, err := r.eng.inspect(ctx, cid); err == nil && stateOf(ins) != nil && ins.State.Running && !ins.State.Restarting {
				return readyOK, container.InspectResponse{}
			}
		}
		if time.Since(lastInspect) > 200*time.Millisecond {
			lastInspect = time.Now()
			ins, err := r.eng.inspect(ctx, cid)
			switch {
			case err == nil && stateOf(ins) != nil && !ins.State.Running && !ins.State.Restarting:
				// Wait for the engine to finish the exit (exit code, OOM flag).
				return readyExited, r.finalState(ctx, cid, ins)
			case errdefs.IsNotFound(err):
				return readyExited, container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{State: &container.State{Error: "the container was removed"}}}
			}
		}
		if time.Now().After(deadline) {
			return readyTimeout, container.InspectResponse{}
		}
		select {
		case <-ctx.Done():
			return readyCancelled, container.InspectResponse{}
		case <-time.After(interval):
		}
		if time.Since(began) > fastFor {
			interval = min(interval*3/2, 100*time.Millisecond)
		}
	}
}

// stateOf is the container's state, nil when the engine sent none.
func stateOf(ins container.InspectResponse) *container.State {
	if ins.ContainerJSONBase == nil {
		return nil
	}
	return ins.State
}

// finalState waits until the engine reports the container's exit complete.
func (r *Runner) finalState(ctx context.Context, cid string, ins container.InspectResponse) container.InspectResponse {
	for i := 0; i < 20 && stateOf(ins) != nil && (ins.State.Status == container.StateRunning || ins.State.Status == container.StateRestarting); i++ {
		time.Sleep(50 * time.Millisecond)
		if next, err := r.eng.inspect(ctx, cid); err == nil {
			ins = next
		}
	}
	return ins
}

// probeResult is what a readiness probe saw on the app's port.
type probeResult int

const (
	probeNone     probeResult = iota // refused, or closed without a byte
	probeAnswered                    // bytes came back: an HTTP answer or another protocol
	probeHeld                        // the connection stayed open without an answer
)

// probe says whether something serves on addr: an HTTP answer of any
// status or any bytes of another protocol (answered), or a connection held
// open without an answer (held: a TCP server that waits for its client to
// speak, or a port proxy still dialling). A connection closed without a
// byte is neither: that is what Docker's port proxy does while nothing
// listens in the container.
func probe(ctx context.Context, addr, host string) probeResult {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return probeNone
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: appstore-runner-probe\r\nConnection: close\r\n\r\n")); err != nil {
		return probeNone
	}
	var b [1]byte
	n, err := conn.Read(b[:])
	if n > 0 {
		return probeAnswered
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return probeHeld
	}
	return probeNone
}

// Stop stops a launch at a user's request: stopping, then stopped, its
// container removed. A launch that already ended is returned as it is.
func (r *Runner) Stop(ctx context.Context, id int64) (*catalog.Launch, error) {
	l, err := r.st.Launch(ctx, id)
	if err != nil {
		return nil, err
	}
	if l.Status.Terminal() {
		return r.Decorate(l), nil
	}
	if l.Runner != r.id {
		return nil, &unavailableError{fmt.Sprintf("launch %d runs on runner %s, not on this appstored (%s): stop it through that one", id, l.Runner, r.id)}
	}
	l, err = r.stop(ctx, id, catalog.LaunchStopped, "stopped on request: it stays stopped until launched again", "user")
	return r.Decorate(l), err
}

// stop takes a launch from starting or running through stopping to final
// (stopped or expired): it cancels a start in flight, removes the
// container and records why.
func (r *Runner) stop(ctx context.Context, id int64, final catalog.LaunchStatus, message, reason string) (*catalog.Launch, error) {
	defer r.hold(id)()
	// The stop goes on when the caller gives up: a half-stopped launch
	// would wait for the reconciler. Without a request behind it, its
	// events name the reason as the daemon's cause (appstored:idle).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(catalog.WithCause(ctx, reason)), r.cfg.StopGrace+30*time.Second)
	defer cancel()
	ev := map[string]any{"reason": reason}
	l, changed, err := r.st.TransitionLaunch(ctx, id, store.LaunchChange{
		To: catalog.LaunchStopping, From: []catalog.LaunchStatus{catalog.LaunchStarting, catalog.LaunchRunning},
		Message: &message, Event: ev, StopReason: reason,
	})
	if err != nil {
		return nil, err
	}
	if !changed {
		if l.Status == catalog.LaunchStopping {
			// Another stop (a TTL, an idle sweep) is under way: its
			// outcome is the answer.
			return r.awaitEnd(ctx, id)
		}
		return l, nil // ended meanwhile
	}
	return r.finishStop(ctx, l, final, reason)
}

// finishStop ends launch l, which this caller moved to stopping: its route
// goes (drained first when it was replaced), a start in progress is
// cancelled, its container is removed (or, idle on Swarm, scaled to zero),
// and the launch ends final. The caller holds the launch.
func (r *Runner) finishStop(ctx context.Context, l *catalog.Launch, final catalog.LaunchStatus, reason string) (*catalog.Launch, error) {
	id := l.ID
	ev := map[string]any{"reason": reason}
	rt := r.routes.remove(id)
	if rt != nil && reason == "replaced" {
		// The preview already serves the new launch: let the requests
		// still on their way to this one finish first.
		rt.drain(ctx, drainMax)
	}
	r.mu.Lock()
	op := r.starts[id]
	r.mu.Unlock()
	if op != nil {
		op.cancel()
		<-op.done
	}
	if sl, ok := r.eng.(sleeper); ok && reason == "idle" && l.ContainerID != "" && !l.Warm {
		// Scale to zero: the service stays, and the next request wakes
		// it by scaling it back to one.
		if err := sl.sleep(ctx, l.ContainerID); err != nil {
			r.logger.Warn("scale the idle launch's service to zero; removing it", "launch", id, "err", err)
			if err := r.removeContainers(ctx, l); err != nil {
				return l, err
			}
		}
	} else if err := r.removeContainers(ctx, l); err != nil {
		return l, err
	}
	l, _, err := r.st.TransitionLaunch(ctx, id, store.LaunchChange{
		To: final, From: []catalog.LaunchStatus{catalog.LaunchStopping}, Event: ev,
	})
	if err != nil {
		return nil, err
	}
	r.logger.Info("launch ended", "launch", id, "slug", l.Repository, "status", l.Status, "reason", reason)
	if l.Warm {
		r.kickWarm()
	}
	r.notify()
	return l, nil
}

// awaitEnd waits until the launch leaves stopping.
func (r *Runner) awaitEnd(ctx context.Context, id int64) (*catalog.Launch, error) {
	for {
		ch := r.changes()
		l, err := r.st.Launch(ctx, id)
		if err != nil || l.Status != catalog.LaunchStopping {
			return l, err
		}
		select {
		case <-ch:
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return l, nil
		}
	}
}

// removeContainers removes the launch's container, and any other container
// labelled with the launch (one made before a crash could record it).
func (r *Runner) removeContainers(ctx context.Context, l *catalog.Launch) error {
	var errs []error
	ids := map[string]bool{}
	if l.ContainerID != "" {
		ids[l.ContainerID] = true
	}
	if cs, err := r.eng.list(ctx, r.id); err == nil {
		for _, c := range cs {
			if c.Labels[LabelLaunch] == strconv.FormatInt(l.ID, 10) {
				ids[c.ID] = true
			}
		}
	} else {
		errs = append(errs, err)
	}
	for cid := range ids {
		if err := r.eng.remove(ctx, cid, r.cfg.StopGrace); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// holdOlder holds this runner's active launches of the app slug (not warm)
// until the returned func is called: the launches that a transaction about
// to mark a newer one running may move to stopping (RunLaunch,
// BeginLaunchReplacing), so that the reconciler does not settle them
// meanwhile from what it read before.
func (r *Runner) holdOlder(ctx context.Context, slug string) func() {
	warm := false
	older, err := r.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Runner: r.id, Active: true, Warm: &warm})
	if err != nil {
		return func() {}
	}
	releases := make([]func(), 0, len(older))
	for _, o := range older {
		releases = append(releases, r.hold(o.ID))
	}
	return func() {
		for _, rel := range releases {
			rel()
		}
	}
}

// stopReplaced ends, in the background, the launches that a newer one
// replaced: the store moved them to stopping (reason replaced) in the
// transaction that marked the newer one running.
func (r *Runner) stopReplaced(replaced []catalog.Launch) {
	for _, o := range replaced {
		release := r.hold(o.ID)
		r.goWork(func(ctx context.Context) {
			defer release()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StopGrace+30*time.Second)
			defer cancel()
			if _, err := r.finishStop(ctx, &o, catalog.LaunchStopped, "replaced"); err != nil {
				r.logger.Warn("stop replaced launch", "launch", o.ID, "err", err)
			}
		})
	}
}

// Wait returns the launch once it is no longer starting, or as it is when
// max passes or ctx ends.
func (r *Runner) Wait(ctx context.Context, id int64, max time.Duration) (*catalog.Launch, error) {
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	for {
		ch := r.changes()
		l, err := r.st.Launch(ctx, id)
		if err != nil {
			return nil, err
		}
		if l.Status != catalog.LaunchStarting {
			return r.Decorate(l), nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return r.Decorate(l), nil
		case <-ctx.Done():
			return r.Decorate(l), nil
		case <-time.After(250 * time.Millisecond):
			// Another process may run the launch: look again.
		}
	}
}

// StopRepository stops every active launch of the app slug on this runner,
// warm-pool containers included, before the app is removed: no container of
// a removed app outlives the removal. Launches of other runners are left to
// them (their reconciler removes containers whose launch is gone).
func (r *Runner) StopRepository(ctx context.Context, slug string) ([]catalog.Launch, error) {
	ls, err := r.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Runner: r.id, Active: true, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		stopped []catalog.Launch
		errs    []error
	)
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := r.stop(ctx, l.ID, catalog.LaunchStopped, "its app was removed", "removed")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("stop launch %d: %w", l.ID, err))
				return
			}
			if s != nil && !l.Warm {
				stopped = append(stopped, *r.Decorate(s))
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(stopped, func(a, b catalog.Launch) int { return cmp.Compare(b.ID, a.ID) })
	return stopped, errors.Join(errs...)
}

// redeployFailed remembers the builds whose redeploy failed, so that a
// broken build does not replace, and is not retried every sweep.
func (r *Runner) redeployFailed(build int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.redeployFailures[build]
	return ok
}

// redeploy replaces running launches of an older build by launches of their
// app's newest succeeded build (apps whose redeploy setting is on): the new
// launch starts next to the old one, takes the preview route once it
// answers, and the old one is stopped after the requests it still serves
// (replaceOlder, drain). The new launch keeps the old one's profile and what
// was left of its time to live.
func (r *Runner) redeploy(ctx context.Context) {
	ctx = catalog.WithCause(ctx, catalog.CauseRedeploy)
	ls, err := r.st.OutdatedLaunches(ctx, r.id)
	if err != nil {
		r.logger.Warn("find outdated launches", "err", err)
		return
	}
	for _, old := range ls {
		if r.isBusy(old.ID) || old.LatestBuildID == nil || r.redeployFailed(*old.LatestBuildID) {
			continue
		}
		t, err := r.st.LaunchTarget(ctx, old.Repository)
		if err != nil || t.Build == nil || t.Build.ID != *old.LatestBuildID || r.refusedRedeploy(t) {
			continue
		}
		prof, err := r.cfg.Limits.resolveProfile(old.ResourceProfile, t.Profile)
		if err != nil {
			continue
		}
		ttl := r.cfg.DefaultTTL
		if old.ExpiresAt != nil {
			ttl = max(time.Until(*old.ExpiresAt), time.Minute)
		}
		ref, port, err := r.imageAndPort(ctx, t)
		if err != nil {
			r.logger.Warn("redeploy: cannot use the new build", "slug", t.Slug, "build", t.Build.ID, "err", err)
			r.markRedeployFailed(t.Build.ID)
			continue
		}
		env, err := r.appEnv(ctx, t.Slug)
		if err == nil {
			var l *catalog.Launch
			if l, _, err = r.begin(ctx, t, ref, port, prof, ttl, true, old.ID, env, nil); err == nil {
				r.redeployAdmitted(t.Slug)
				r.logger.Info("redeploying", "slug", t.Slug, "launch", l.ID, "replaces", old.ID, "build", t.Build.ID)
				r.watchRedeploy(l.ID, t.Build.ID)
				continue
			}
		}
		if isRedeployRefusal(err) {
			// Refused before anything started (a data volume over its
			// size, a required secret not set): tried again once the
			// cause may have gone away (redeploy_retry.go).
			r.redeployRefused(ctx, t, &old, err)
			continue
		}
		// Anything else (the engine or the database unreachable) is
		// tried again at the next sweep.
		r.logger.Warn("redeploy", "slug", t.Slug, "build", t.Build.ID, "err", err)
	}
}

func (r *Runner) markRedeployFailed(build int64) {
	r.mu.Lock()
	r.redeployFailures[build] = time.Now()
	r.mu.Unlock()
}

// watchRedeploy remembers the build when its redeploy launch fails: the old
// launch then keeps serving.
func (r *Runner) watchRedeploy(id, build int64) {
	r.goWork(func(ctx context.Context) {
		l, err := r.Wait(ctx, id, r.cfg.StartupTimeout+time.Minute)
		if err == nil && l.Status == catalog.LaunchFailed {
			r.logger.Warn("redeploy failed; the previous launch keeps serving", "launch", id, "build", build, "err", textutil.FirstLine(l.ErrorMessage))
			r.markRedeployFailed(build)
		}
	})
}
