package runner_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/registrytest"
)

// BenchmarkSwarm measures the Swarm runtime on a single-node swarm, the
// image pulled by digest from a registry in this process:
//
//   - cold: a launch to the first 200 through the preview URL, against
//     `docker service create` of the same image by digest with a host-mode
//     port, then polling its task until it runs and its port until it
//     answers 200 (target: ratio at most 1.15); medians of 5 rounds per
//     iteration, in rotating order;
//   - wake: a request to an app asleep at 0 replicas until its first 200
//     (p50), 3 per iteration.
func BenchmarkSwarm(b *testing.B) {
	cli := runnertest.Docker(b)
	runnertest.Swarm(b, cli)
	srv := registrytest.Serve(b, registrytest.Options{})
	reg, err := registry.Parse(srv.Host + "/bench")
	if err != nil {
		b.Fatal(err)
	}
	cold := newHarness(b, runner.Config{Runtime: runner.RuntimeSwarm, Registry: reg, IdleTimeout: -1})
	cold.app("cold", 0, runnertest.ImageOptions{})
	target, err := cold.st.LaunchTarget(context.Background(), "cold")
	if err != nil {
		b.Fatal(err)
	}
	image := registry.Pinned(target.Build.RegistryImage, target.Build.ImageDigest)

	b.Run("cold", func(b *testing.B) {
		const rounds = 5
		var launch, create []time.Duration
		steps := []func(){
			func() { launch = append(launch, swarmColdLaunch(b, cold)) },
			func() { create = append(create, serviceCreate(b, cli, image)) },
		}
		for i := 0; i < b.N; i++ {
			for j := 0; j < rounds; j++ {
				for k := range steps {
					steps[(j+k)%len(steps)]()
				}
			}
		}
		l, c := median(launch), median(create)
		b.ReportMetric(ms(l), "launch-ms")
		b.ReportMetric(ms(c), "service-create-ms")
		b.ReportMetric(float64(l)/float64(c), "ratio")
	})

	b.Run("wake", func(b *testing.B) {
		h := newHarness(b, runner.Config{Runtime: runner.RuntimeSwarm, Registry: reg, IdleTimeout: 300 * time.Millisecond})
		h.app("nap", 0, runnertest.ImageOptions{})
		l := h.launch("nap", appclient.LaunchRequest{})
		if l.Status != catalog.LaunchRunning {
			b.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
		}
		var took []time.Duration
		for i := 0; i < b.N; i++ {
			for j := 0; j < 3; j++ {
				b.StopTimer()
				asleep(b, h)
				b.StartTimer()
				start := time.Now()
				get200(b, h.web, h.previewURL("nap", "/"))
				took = append(took, time.Since(start))
			}
		}
		b.ReportMetric(ms(median(took)), "p50-ms")
	})
}

// asleep waits until the app's newest launch stopped idle (its service at
// zero replicas).
func asleep(b *testing.B, h *harness) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		warm := false
		ls, err := h.st.ListLaunches(context.Background(), storeFilterWarmSlug("nap", &warm))
		if err != nil {
			b.Fatal(err)
		}
		if len(ls) > 0 && ls[0].Status == catalog.LaunchStopped && ls[0].StopReason == "idle" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("the app did not fall asleep within a minute")
}

func swarmColdLaunch(b *testing.B, h *harness) time.Duration {
	start := time.Now()
	l, err := h.api.StartLaunch(context.Background(), "cold", appclient.LaunchRequest{})
	if err != nil {
		b.Fatal(err)
	}
	if l.Status != catalog.LaunchStarting {
		b.Fatalf("cold launch answered %s, want a new launch", l.Status)
	}
	get200(b, h.web, h.previewURL("cold", "/"))
	took := time.Since(start)
	b.StopTimer()
	if _, err := h.api.StopLaunch(context.Background(), l.ID); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return took
}

// serviceCreate is the baseline: `docker service create --publish
// mode=host,target=8080 --cap-drop ALL --mount type=tmpfs,dst=/tmp
// --limit-memory 256m --limit-cpu 0.5 --limit-pids 128 --reserve-…
// --restart-condition on-failure --restart-max-attempts 2
// --network appstore-apps-swarm image@digest` (the
// service a launch of the small profile makes, so that the ratio is what
// appstored adds), its task polled every 10 ms until it runs with a
// published port, then the port until it answers 200.
func serviceCreate(b *testing.B, cli *client.Client, image string) time.Duration {
	ctx := context.Background()
	one, restarts := uint64(1), uint64(2)
	start := time.Now()
	resp, err := cli.ServiceCreate(ctx, swarm.ServiceSpec{
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image: image, Env: []string{"PORT=8080"},
				CapabilityDrop: []string{"ALL"},
				Mounts:         []mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777}}},
			},
			Resources: &swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 5e8, MemoryBytes: 256 << 20, Pids: 128},
				Reservations: &swarm.Resources{NanoCPUs: 5e8 / 4, MemoryBytes: 64 << 20},
			},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure, MaxAttempts: &restarts},
			// The apps' network, which the harness's runner made.
			Networks: []swarm.NetworkAttachmentConfig{{Target: runner.DefaultSwarmNetwork}},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR, Ports: []swarm.PortConfig{{Protocol: swarm.PortConfigProtocolTCP, TargetPort: 8080, PublishMode: swarm.PortConfigPublishModeHost}}},
	}, swarm.ServiceCreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer()
		_ = cli.ServiceRemove(ctx, resp.ID)
		b.StartTimer()
	}()
	var port uint32
	for port == 0 {
		ts, err := cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", resp.ID))})
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range ts {
			if t.Status.State == swarm.TaskStateRunning && len(t.Status.PortStatus.Ports) > 0 {
				port = t.Status.PortStatus.Ports[0].PublishedPort
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatal("docker service create: no running task within a minute")
		}
		if port == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	url := "http://127.0.0.1:" + itoa(int(port)) + "/"
	hc := &http.Client{Timeout: time.Second}
	for {
		r, err := hc.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
			if r.StatusCode == 200 {
				return time.Since(start)
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatal("docker service create: the app did not answer within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
