package runner_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/registrytest"
)

// What only the Swarm runtime does: previews served by any runner, tasks
// that Swarm restarts or cannot place.
func TestSwarmAcrossRunners(t *testing.T) {
	cli := runnertest.Docker(t)
	runnertest.Swarm(t, cli)
	srv := registrytest.Serve(t, registrytest.Options{})
	reg, err := registry.Parse(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	swarmCfg := func(c runner.Config) runner.Config {
		c.Runtime, c.Registry = runner.RuntimeSwarm, reg
		return c
	}

	t.Run("RunnersStartingTogetherShareTheAppsNetwork", func(t *testing.T) {
		// Alone (before the parallel subtests): it removes the network
		// they use. Runners of one swarm that start at once each make the
		// apps' network when it is missing; the manager refuses all but
		// one ("name conflicts with an existing object", no conflict code),
		// and those must find it made rather than fail to start (the
		// conformance suite's eight runners failed so one run in four).
		ctx := context.Background()
		st := storetest.New(t)
		for round := range 3 {
			if err := cli.NetworkRemove(ctx, runner.DefaultSwarmNetwork); err != nil && !errdefs.IsNotFound(err) {
				t.Logf("the apps' Swarm network stays (%v): the race is not tried", err)
				return
			}
			errs := make(chan error, 8)
			for range cap(errs) {
				go func() {
					r, err := runner.New(swarmCfg(runner.Config{Store: st, ID: "test-net", Logger: testLogger(t), Docker: cli}))
					if err == nil {
						err = runner.PrepareRuntime(ctx, r)
					}
					errs <- err
				}()
			}
			for range cap(errs) {
				if err := <-errs; err != nil {
					t.Errorf("round %d: a runner starting beside others: %v", round, err)
				}
			}
		}
	})

	t.Run("AnyRunnerServesThePreview", func(t *testing.T) {
		t.Parallel() // after the drain below, which runs alone
		a := newHarness(t, swarmCfg(runner.Config{}))
		b := newHarness(t, swarmCfg(runner.Config{Store: a.st}))
		a.app("shared", 0, runnertest.ImageOptions{})
		l := a.launch("shared", appclient.LaunchRequest{})
		if l.Status != catalog.LaunchRunning {
			t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
		}
		// Runner b finds the task through the Swarm API: no launch of
		// its own, no sticky routing.
		resp, body := b.get(b.previewURL("shared", "/"))
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from shared") {
			t.Fatalf("preview through the other runner: %d %q", resp.StatusCode, body)
		}
		ls, _ := a.st.ListLaunches(context.Background(), storeFilter("shared"))
		if len(ls) != 1 || ls[0].Runner != a.r.ID() {
			t.Errorf("launches after a request through the other runner: %+v, want only a's", ls)
		}
		// And reads its output (the service's logs, through the manager).
		var out []string
		if err := b.r.Logs(context.Background(), l.ID, false, 0, func(ll runner.LogLine) error { out = append(out, ll.Line); return nil }); err != nil ||
			!slices.ContainsFunc(out, func(s string) bool { return strings.Contains(s, "shared starting") }) {
			t.Errorf("the other runner's view of the output: %v %q", err, out)
		}
		// Its request time reaches the catalog, which keeps the app awake.
		waitFor(t, 10*time.Second, "the request time written by the other runner", func() bool {
			got, err := a.st.Launch(context.Background(), l.ID)
			return err == nil && got.LastRequestAt != nil
		})
	})

	t.Run("AnAPIProcessWithoutRunnerServesPreviews", func(t *testing.T) {
		t.Parallel() // after the drain below, which runs alone
		a := newHarness(t, swarmCfg(runner.Config{}))
		api := newHarness(t, swarmCfg(runner.Config{Store: a.st, PreviewOnly: true}))
		a.app("viewed", 0, runnertest.ImageOptions{})
		a.app("idle", 0, runnertest.ImageOptions{Args: []string{"-name", "idle"}})
		if l := a.launch("viewed", appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
			t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
		}
		resp, body := api.get(api.previewURL("viewed", "/"))
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from viewed") {
			t.Fatalf("preview through the api-only process: %d %q", resp.StatusCode, body)
		}
		// It starts nothing: an app that does not run is a 503 that says
		// how to start it.
		resp, body = api.get(api.previewURL("idle", "/"))
		if resp.StatusCode != 503 || !strings.Contains(body, "appstore launch idle") {
			t.Errorf("an app that is not running, through the api-only process: %d %q", resp.StatusCode, body)
		}
		if n := len(runnertest.Services(t, api.docker, api.r.ID())); n != 0 {
			t.Errorf("the api-only process made %d services", n)
		}
	})

	t.Run("ARestartedRunnerAdoptsItsServices", func(t *testing.T) {
		t.Parallel() // after the drain below, which runs alone
		ctx := context.Background()
		st := storetest.New(t)
		var b [4]byte
		_, _ = rand.Read(b[:])
		id := "test-restart-" + hex.EncodeToString(b[:])
		runnertest.CleanupServices(t, cli, id)
		tag, imageID := runnertest.Image(t, cli, runnertest.ImageOptions{})
		for _, slug := range []string{"keep", "vanish"} {
			_, build := runnertest.App(t, st, slug, tag, imageID, 0)
			runnertest.Push(t, cli, st, reg, build, slug, tag)
		}
		// The first runner launches both, then dies without stopping them.
		r1, err := runner.New(swarmCfg(runner.Config{Store: st, ID: id, Logger: testLogger(t), Docker: cli}))
		if err != nil {
			t.Fatal(err)
		}
		if err := r1.Init(ctx); err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { r1.Run(runCtx); close(done) }()
		launched := map[string]*catalog.Launch{}
		for _, slug := range []string{"keep", "vanish"} {
			l, _, err := r1.Launch(ctx, slug, runner.LaunchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if l, err = r1.Wait(ctx, l.ID, time.Minute); err != nil || l.Status != catalog.LaunchRunning {
				t.Fatalf("launch %s: %v %+v", slug, err, l)
			}
			launched[slug] = l
		}
		stop()
		<-done
		// While no runner watches: a service is removed, a stray one with
		// the runner's labels appears.
		if err := cli.ServiceRemove(ctx, launched["vanish"].ContainerID); err != nil {
			t.Fatal(err)
		}
		orphan, err := cli.ServiceCreate(ctx, swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Labels: map[string]string{runner.LabelManaged: "true", runner.LabelRunner: id, runner.LabelLaunch: "999999", runner.LabelRepository: "keep"}},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: tag}},
		}, swarm.ServiceCreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The restarted runner (same id) adopts keep, fails vanish and
		// removes the stray service.
		h := newHarness(t, swarmCfg(runner.Config{Store: st, ID: id}))
		if resp, body := h.get(h.previewURL("keep", "/")); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello") {
			t.Errorf("preview of the adopted app: %d %q", resp.StatusCode, body)
		}
		if ls, _ := st.ListLaunches(ctx, storeFilter("keep")); len(ls) != 1 || ls[0].Status != catalog.LaunchRunning {
			t.Errorf("keep's launches after the restart: %+v, want the adopted one", ls)
		}
		if v, _ := st.Launch(ctx, launched["vanish"].ID); v.Status != catalog.LaunchFailed || !strings.Contains(v.ErrorMessage, "disappeared") {
			t.Errorf("the launch whose service vanished: %s %q", v.Status, v.ErrorMessage)
		}
		svcs := runnertest.Services(t, cli, id)
		if len(svcs) != 1 || svcs[0].ID != launched["keep"].ContainerID || svcs[0].ID == orphan.ID {
			t.Errorf("services after the restart: %d, want keep's only", len(svcs))
		}
	})

	t.Run("CrashWhileRunningIsRestartedAndFollowed", func(t *testing.T) {
		t.Parallel() // after the drain below, which runs alone
		h := newHarness(t, swarmCfg(runner.Config{}))
		h.app("phoenix", 0, runnertest.ImageOptions{})
		l := h.launch("phoenix", appclient.LaunchRequest{})
		if l.Status != catalog.LaunchRunning {
			t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
		}
		if resp, _ := h.get(h.previewURL("phoenix", "/exit?code=5")); resp.StatusCode != 200 {
			t.Fatalf("exit request: %d", resp.StatusCode)
		}
		// Swarm's restart policy starts a new task; the launch follows it
		// to the port the new task published.
		var port uint32
		waitFor(t, 30*time.Second, "a second task, running", func() bool {
			ts, err := h.docker.TaskList(context.Background(), swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", l.ContainerID))})
			if err != nil || len(ts) < 2 {
				return false
			}
			for _, task := range ts {
				if task.Status.State == swarm.TaskStateRunning && task.Status.ContainerStatus != nil && len(task.Status.PortStatus.Ports) > 0 &&
					task.Status.PortStatus.Ports[0].PublishedPort > 0 && task.Meta.CreatedAt.After(l.CreatedAt) && task.ID != "" {
					port = task.Status.PortStatus.Ports[0].PublishedPort
				}
			}
			return port != 0 && len(ts) >= 2
		})
		waitFor(t, 30*time.Second, "the launch to follow the new task", func() bool {
			got, err := h.st.Launch(context.Background(), l.ID)
			return err == nil && got.HostPort == int(port)
		})
		resp, body := h.get(h.previewURL("phoenix", "/"))
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from phoenix") {
			t.Errorf("preview after the restart: %d %q", resp.StatusCode, body)
		}
		got, _ := h.st.Launch(context.Background(), l.ID)
		if got.Status != catalog.LaunchRunning {
			t.Errorf("launch after Swarm restarted its task: %s %s", got.Status, got.ErrorMessage)
		}
	})

	t.Run("ATaskDeathOnAnotherNodeIsFollowedPromptly", func(t *testing.T) {
		t.Parallel() // after the drain below, which runs alone
		// The task counts as one on another node: this node's die events
		// are ignored, and the reconciliation is too far off to help, so
		// only the runner's watch of the Swarm tasks can notice.
		rec := &recordingWriter{}
		h := newHarness(t, swarmCfg(runner.Config{ReconcileInterval: time.Hour,
			Logger: slog.New(slog.NewTextHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug}))}), runner.TreatSwarmTasksAsRemote)
		h.app("remote", 0, runnertest.ImageOptions{})
		l := h.launch("remote", appclient.LaunchRequest{})
		if l.Status != catalog.LaunchRunning {
			t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
		}
		if resp, _ := h.get(h.previewURL("remote", "/exit?code=5")); resp.StatusCode != 200 {
			t.Fatalf("exit request: %d", resp.StatusCode)
		}
		// Swarm restarts it (1 s later; on the service's port, which the
		// runner picked); the runner notices within a few polls, not at the
		// next reconciliation, and follows the new task.
		waitFor(t, 20*time.Second, "the launch to follow the restarted task", func() bool {
			return rec.has("the launch follows its new task")
		})
		if resp, body := h.get(h.previewURL("remote", "/")); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from remote") {
			t.Errorf("preview after the restart: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("ATaskWhoseContainerEndedHereDoesNotRun", func(t *testing.T) {
		t.Parallel() // after the drain below, which runs alone
		// The node's engine knows of a task's end before the manager does
		// (seconds before, on a loaded machine): meanwhile Docker's port
		// proxy may hold a probe's connection, and a crashing app went
		// running. Once this engine says the container ended, the task
		// is not running, whatever the manager says yet.
		h := newHarness(t, swarmCfg(runner.Config{}))
		h.app("mayfly", 0, runnertest.ImageOptions{})
		l := h.launch("mayfly", appclient.LaunchRequest{})
		if l.Status != catalog.LaunchRunning {
			t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
		}
		ctx := context.Background()
		task := appContainer(t, h, l)
		waitC, errC := h.docker.ContainerWait(ctx, task.ID, container.WaitConditionNotRunning)
		if err := h.docker.ContainerKill(ctx, task.ID, "KILL"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-waitC:
		case err := <-errC:
			t.Fatal(err)
		case <-time.After(30 * time.Second):
			t.Fatal("the killed container still runs after 30s")
		}
		ins, err := runner.InspectInstance(ctx, h.r, l.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		// (Swarm restarts the task a second after its end; a new task that
		// already runs has another process.)
		if ins.State.Running && ins.State.Pid == task.State.Pid {
			t.Errorf("the task whose container this engine saw end reads as running: %+v", ins.State)
		}
	})

	t.Run("DrainedNodeFailsTheLaunchWithTheReason", func(t *testing.T) {
		h := newHarness(t, swarmCfg(runner.Config{StartupTimeout: 10 * time.Second}))
		h.app("drained", 0, runnertest.ImageOptions{})
		l := h.launch("drained", appclient.LaunchRequest{})
		if l.Status != catalog.LaunchRunning {
			t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
		}
		// An app with a data volume, pinned to its node from its second
		// launch on (the first run records the node).
		tag, id := runnertest.ExampleImage(t, h.docker, "notes", "1")
		repoID := notesApp(t, h.st, h.docker, "pinned", tag, id)
		h.pushLatest(repoID, "pinned", tag)
		if p := h.launch("pinned", appclient.LaunchRequest{}); p.Status != catalog.LaunchRunning {
			t.Fatalf("launch of the app with a volume: %s %s", p.Status, p.ErrorMessage)
		}
		stopActive(t, h, "pinned")
		pinned := h.launch("pinned", appclient.LaunchRequest{})
		if pinned.Status != catalog.LaunchRunning {
			t.Fatalf("second launch of the app with a volume: %s %s", pinned.Status, pinned.ErrorMessage)
		}
		setAvailability(t, h, swarm.NodeAvailabilityDrain)
		t.Cleanup(func() { setAvailability(t, h, swarm.NodeAvailabilityActive) })
		// The only node is drained: Swarm cannot place the task anywhere.
		got := h.waitStatus(l.ID, catalog.LaunchFailed, 45*time.Second)
		if !strings.Contains(got.ErrorMessage, "Swarm") || !strings.Contains(got.ErrorMessage, "node") {
			t.Errorf("failure of a launch whose node was drained: %q", got.ErrorMessage)
		}
		if strings.Contains(got.ErrorMessage, "data volume") {
			t.Errorf("an app without storage fails with %q", got.ErrorMessage)
		}
		// The app with a volume says where its data is and what to do.
		got = h.waitStatus(pinned.ID, catalog.LaunchFailed, 45*time.Second)
		if !strings.Contains(got.ErrorMessage, "its data volume appstore-") || !strings.Contains(got.ErrorMessage, "appstore volume rm pinned") {
			t.Errorf("failure of a pinned launch whose node was drained: %q", got.ErrorMessage)
		}
		waitFor(t, 20*time.Second, "the service removed", func() bool { return h.instances() == 0 })
	})
}

func setAvailability(t *testing.T, h *harness, a swarm.NodeAvailability) {
	t.Helper()
	ctx := context.Background()
	info, err := h.docker.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node, _, err := h.docker.NodeInspectWithRaw(ctx, info.Swarm.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	node.Spec.Availability = a
	if err := h.docker.NodeUpdate(ctx, node.ID, node.Version, node.Spec); err != nil {
		t.Fatal(err)
	}
}

// recordingWriter is a log destination that keeps what was written, for
// a test that waits for a log line.
type recordingWriter struct {
	mu   sync.Mutex
	text strings.Builder
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text.Write(p)
	return len(p), nil
}

func (w *recordingWriter) has(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Contains(w.text.String(), s)
}
