package runner_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/appstore-dev/appstore/catalog"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/appconfig"
	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/registrytest"
)

// The launch conformance suite: what a launch does is the same on every
// runtime (as daemon/queue's suite is for both queues). Each case runs on
// the docker runtime and on a single-node Swarm made for the test, with
// images pushed to a registry served in this process and run by digest.

type runtimeCase struct {
	name string
	// config is the runner configuration of the runtime; base adds to it.
	config func(base runner.Config) runner.Config
}

// launchRuntimes sets up every runtime for t's subtests: the Swarm one
// makes a single-node swarm (under runnertest's lock file) and a registry,
// both gone when t ends.
func launchRuntimes(t *testing.T) []runtimeCase {
	cli := runnertest.Docker(t)
	runnertest.Swarm(t, cli)
	srv := registrytest.Serve(t, registrytest.Options{Username: "runner", Password: "registry-test-password"})
	reg, err := registry.Parse(srv.Host + "/conformance")
	if err != nil {
		t.Fatal(err)
	}
	reg.SetCredentials("runner", "registry-test-password")
	return []runtimeCase{
		{name: "docker", config: func(c runner.Config) runner.Config { return c }},
		{name: "swarm", config: func(c runner.Config) runner.Config {
			c.Runtime, c.Registry = runner.RuntimeSwarm, reg
			return c
		}},
	}
}

func TestLaunchConformance(t *testing.T) {
	// Beside the package's other parallel tests, after the sequential
	// ones (TestSwarmAcrossRunners drains the swarm's node).
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, rt runtimeCase)
	}{
		{"ServesThePreview", conformServes},
		{"CrashAtStartFails", conformCrash},
		{"StopAndTTLLeaveNothing", conformStopAndTTL},
		{"IdleSleepsAndWakes", conformIdleWake},
		{"WarmPoolAttaches", conformWarm},
		{"VariablesAndSecretsReachTheApp", conformConfig},
		{"DataVolumeOutlivesSleepRelaunchRebuild", conformVolume},
		{"AppsCannotReachEachOther", conformIsolation},
	}
	for _, rt := range launchRuntimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, rt)
				})
			}
		})
	}
}

// instances counts what the runner left running: containers, and on Swarm
// services.
func (h *harness) instances() int {
	n := len(runnertest.Containers(h.t, h.docker, h.r.ID()))
	if h.cfg.Runtime == runner.RuntimeSwarm {
		n += len(runnertest.Services(h.t, h.docker, h.r.ID()))
	}
	return n
}

func conformServes(t *testing.T, rt runtimeCase) {
	h := newHarness(t, rt.config(runner.Config{}))
	h.app("dash", 0, runnertest.ImageOptions{})
	l := h.launch("dash", appclient.LaunchRequest{Profile: "small"})
	if l.Status != catalog.LaunchRunning || l.HostPort == 0 || l.ContainerID == "" {
		t.Fatalf("launch: %s %q %+v", l.Status, l.ErrorMessage, l)
	}
	u, err := url.Parse(l.InstanceURL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Errorf("instance URL %q: want the node's address, 127.0.0.1 here", l.InstanceURL)
	}
	resp, body := h.get(h.previewURL("dash", "/"))
	if resp.StatusCode != 200 || body != "hello from dash on port 8080 path /\n" {
		t.Errorf("preview: %d %q", resp.StatusCode, body)
	}
	resp, body = h.get(h.srv.URL + "/apps/dash/env")
	if resp.StatusCode != 200 || !strings.Contains(body, "PORT=8080") {
		t.Errorf("path form /env: %d %q", resp.StatusCode, body)
	}
	// The app's output reaches `appstore logs`.
	var lines []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitFor(t, 20*time.Second, "the app's output", func() bool {
		lines = lines[:0]
		_ = h.r.Logs(ctx, l.ID, false, 0, func(ll runner.LogLine) error { lines = append(lines, ll.Line); return nil })
		return slices.ContainsFunc(lines, func(s string) bool { return strings.Contains(s, "dash starting") })
	})
	if rt.name == "swarm" {
		checkService(t, h, l)
	}
}

// checkService checks the launch's Swarm service: one replica of the
// image by digest from the registry, the profile's limits, the hardening
// services allow, the bounded restart policy, the labels, host-mode port.
func checkService(t *testing.T, h *harness, l *catalog.Launch) {
	svc, _, err := h.docker.ServiceInspectWithRaw(context.Background(), l.ContainerID, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatalf("the launch's service: %v", err)
	}
	spec := svc.Spec
	cs := spec.TaskTemplate.ContainerSpec
	if r := spec.Mode.Replicated; r == nil || r.Replicas == nil || *r.Replicas != 1 {
		t.Errorf("replicas: %+v", spec.Mode)
	}
	if !strings.Contains(cs.Image, "/conformance/appstore/dash@sha256:") {
		t.Errorf("image %q: want the registry's, by digest", cs.Image)
	}
	if !slices.Equal(cs.CapabilityDrop, []string{"ALL"}) || len(cs.Mounts) != 1 || cs.Mounts[0].Target != "/tmp" {
		t.Errorf("hardening: cap drop %v, mounts %+v", cs.CapabilityDrop, cs.Mounts)
	}
	lim := spec.TaskTemplate.Resources.Limits
	if lim.MemoryBytes != 256<<20 || lim.NanoCPUs != 5e8 || lim.Pids != 128 {
		t.Errorf("limits of the small profile: %+v", lim)
	}
	if rp := spec.TaskTemplate.RestartPolicy; rp == nil || rp.MaxAttempts == nil || *rp.MaxAttempts != 2 || rp.Condition != swarm.RestartPolicyConditionOnFailure {
		t.Errorf("restart policy: %+v", rp)
	}
	if spec.Labels[runner.LabelLaunch] == "" || spec.Labels[runner.LabelRepository] != "dash" || spec.Labels[runner.LabelRunner] != h.r.ID() {
		t.Errorf("labels: %v", spec.Labels)
	}
	if p := spec.EndpointSpec.Ports; len(p) != 1 || p[0].PublishMode != swarm.PortConfigPublishModeHost || p[0].TargetPort != 8080 {
		t.Errorf("ports: %+v", p)
	}
}

func conformCrash(t *testing.T, rt runtimeCase) {
	h := newHarness(t, rt.config(runner.Config{}))
	h.app("broken", 0, runnertest.ImageOptions{Args: []string{"-mode", "crash"}})
	l := h.launch("broken", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchFailed || l.ExitCode == nil || *l.ExitCode != 3 {
		t.Fatalf("launch of a crashing app: %s exit %v: %s", l.Status, l.ExitCode, l.ErrorMessage)
	}
	for _, want := range []string{"exited with code 3 before it was ready", "fatal: DATABASE_URL is not set"} {
		if !strings.Contains(l.ErrorMessage, want) {
			t.Errorf("error %q does not say %q", l.ErrorMessage, want)
		}
	}
	waitFor(t, 20*time.Second, "nothing left of the crashed app", func() bool { return h.instances() == 0 })
	resp, body := h.get(h.previewURL("broken", "/"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "DATABASE_URL") {
		t.Errorf("request to a crashed app: %d %q", resp.StatusCode, body)
	}
}

func conformStopAndTTL(t *testing.T, rt runtimeCase) {
	h := newHarness(t, rt.config(runner.Config{}))
	h.app("brief", 0, runnertest.ImageOptions{})
	// The time to live counts from the request: it leaves a loaded
	// machine (and Swarm's scheduling) time to start the app before it
	// runs out.
	l := h.launch("brief", appclient.LaunchRequest{TTL: "10s"})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
	}
	l = h.waitStatus(l.ID, catalog.LaunchExpired, 40*time.Second)
	if !strings.Contains(l.ErrorMessage, "time to live of 10s ran out") {
		t.Errorf("expired: %q", l.ErrorMessage)
	}
	if n := h.instances(); n != 0 {
		t.Errorf("%d instances after expiry", n)
	}
	l = h.launch("brief", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch again: %s %s", l.Status, l.ErrorMessage)
	}
	stopped, err := h.api.StopLaunch(context.Background(), l.ID)
	if err != nil || stopped.Status != catalog.LaunchStopped {
		t.Fatalf("stop: %v %+v", err, stopped)
	}
	if n := h.instances(); n != 0 {
		t.Errorf("%d instances after the stop", n)
	}
	if resp, _ := h.get(h.previewURL("brief", "/")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stopped app answered %d", resp.StatusCode)
	}
	// Who did what: the user (the local user of this open daemon) launched
	// and stopped; the daemon started the container and expired the first.
	actors := h.eventActors("brief")
	for _, want := range []string{"launch.starting local", "launch.running appstored:launch",
		"launch.expired ttl appstored:ttl", "launch.stopped user local"} {
		if !slices.Contains(actors, want) {
			t.Errorf("no event %q among %q", want, actors)
		}
	}
}

func conformIdleWake(t *testing.T, rt runtimeCase) {
	h := newHarness(t, rt.config(runner.Config{IdleTimeout: 1500 * time.Millisecond}))
	h.app("nap", 0, runnertest.ImageOptions{})
	first := h.launch("nap", appclient.LaunchRequest{})
	if first.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", first.Status, first.ErrorMessage)
	}
	slept := h.waitStatus(first.ID, catalog.LaunchStopped, 20*time.Second)
	if slept.StopReason != "idle" {
		t.Errorf("stop reason %q, want idle", slept.StopReason)
	}
	if rt.name == "swarm" {
		// Sleep is the service scaled to zero, not removed.
		svcs := runnertest.Services(t, h.docker, h.r.ID())
		if len(svcs) != 1 || svcs[0].ID != first.ContainerID || *svcs[0].Spec.Mode.Replicated.Replicas != 0 {
			t.Errorf("services of the sleeping app: %+v, want its service at 0 replicas", svcs)
		}
		if n := len(runnertest.Containers(t, h.docker, h.r.ID())); n != 0 {
			t.Errorf("%d containers of a sleeping app", n)
		}
	}
	resp, body := h.get(h.previewURL("nap", "/"))
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from nap") {
		t.Fatalf("wake: %d %q", resp.StatusCode, body)
	}
	ls, _ := h.st.ListLaunches(context.Background(), storeFilter("nap"))
	if len(ls) != 2 || ls[0].Status != catalog.LaunchRunning || ls[0].ID == first.ID {
		t.Fatalf("launches after the wake: %+v", ls)
	}
	if rt.name == "swarm" && ls[0].ContainerID != first.ContainerID {
		t.Errorf("the wake made service %s; want the sleeping one (%s) scaled back to one", ls[0].ContainerID, first.ContainerID)
	}
	// The sleep and the wake are the daemon's, each with its cause.
	actors := h.eventActors("nap")
	for _, want := range []string{"launch.stopped idle appstored:idle", "launch.starting appstored:wake"} {
		if !slices.Contains(actors, want) {
			t.Errorf("no event %q among %q", want, actors)
		}
	}
}

func conformWarm(t *testing.T, rt runtimeCase) {
	h := newHarness(t, rt.config(runner.Config{WarmPool: 1, WarmInterval: 200 * time.Millisecond}))
	repoID, _ := h.app("hot", 0, runnertest.ImageOptions{})
	warm := h.waitWarm(repoID)
	l, err := h.api.StartLaunch(context.Background(), "hot", appclient.LaunchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != warm.ID || l.Status != catalog.LaunchRunning || l.Warm {
		t.Fatalf("launch of a warm app: %+v, want warm launch %d attached and running", l, warm.ID)
	}
	if resp, body := h.get(h.previewURL("hot", "/")); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from hot") {
		t.Errorf("attached app: %d %q", resp.StatusCode, body)
	}
	if next := h.waitWarm(repoID); next.ID == warm.ID {
		t.Errorf("the pool did not start another warm instance")
	}
}

func conformConfig(t *testing.T, rt runtimeCase) {
	keys, err := appconfig.OpenKeyring(filepath.Join(t.TempDir(), appconfig.KeyFileName), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, rt.config(runner.Config{AppConfig: &appconfig.Service{Keys: keys}}))
	h.app("cfg", 0, runnertest.ImageOptions{})
	ctx := context.Background()
	if _, err := h.api.SetEnv(ctx, "cfg", map[string]string{"GREETING": "hello-from-env"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.SetSecret(ctx, "cfg", "API_KEY", "conformance-secret-value"); err != nil {
		t.Fatal(err)
	}
	if l := h.launch("cfg", appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
	}
	env := appEnv(t, h, "cfg")
	if !hasEnv(env, "GREETING=hello-from-env") || !hasEnv(env, "API_KEY=conformance-secret-value") || !hasEnv(env, "PORT=8080") {
		t.Errorf("the app's environment: %v", env)
	}
}
