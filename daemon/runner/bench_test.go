package runner_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// BenchmarkPreview measures, on one appstored (in process, on PostgreSQL)
// and one image:
//
//   - cold: a launch to the first 200 through the preview URL, against
//     `docker run --network appstore-apps -p 127.0.0.1::8080` plus polling
//     the published port (the target is at most 1.15 times as long), and
//     for reference the same docker run on the default bridge; medians of
//     5 rounds per iteration;
//   - warm: a launch that attaches a warm-pool container, to the first 200
//     through the preview URL (target: p50 at most 50 ms), 10 per iteration;
//   - proxy: the latency the preview proxy adds to a request, against the
//     container's published port directly (target: p50 at most 1 ms).
func BenchmarkPreview(b *testing.B) {
	cli := runnertest.Docker(b)
	st, dbURL := storetest.NewWithURL(b)
	dataDir := b.TempDir()
	d, err := daemon.Start(context.Background(), daemon.Config{
		DatabaseURL: dbURL, DataDir: dataDir, Addr: "127.0.0.1:0", WarmPool: 1,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	tag, imageID := runnertest.Image(b, cli, runnertest.ImageOptions{})
	runnertest.App(b, st, "cold", tag, imageID, 0)
	warmRepo, _ := runnertest.App(b, st, "warm", tag, imageID, 0)
	api := &appclient.Client{BaseURL: d.URL}
	if _, err := api.UpdateRepository(context.Background(), "warm", appclient.UpdateRepositoryRequest{AddTags: []string{"warm:true"}}); err != nil {
		b.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(d.URL[len("http://"):])
	addr := d.URL[len("http://"):]
	web := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 16,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, network, addr)
		},
	}}
	preview := func(slug string) string { return "http://" + slug + ".localhost:" + port + "/" }

	b.Run("cold", func(b *testing.B) {
		// Container start times vary by tens of milliseconds: each
		// iteration takes several samples of each, in rotating order so
		// that all see the same engine conditions. The baseline is
		// docker run of the same image on the same network as launches
		// (runner.DefaultNetwork): a user-defined network costs the
		// engine itself some 60 ms per start over its default bridge,
		// which docker-run-bridge-ms shows.
		const rounds = 5
		var launch, docker, bridge []time.Duration
		steps := []func(){
			func() { launch = append(launch, coldLaunch(b, api, web, preview("cold"))) },
			func() { docker = append(docker, dockerRun(b, cli, imageID, runner.DefaultNetwork)) },
			func() { bridge = append(bridge, dockerRun(b, cli, imageID, "bridge")) },
		}
		for i := 0; i < b.N; i++ {
			for j := 0; j < rounds; j++ {
				for k := range steps {
					steps[(j+k)%len(steps)]()
				}
			}
		}
		l, dr, br := median(launch), median(docker), median(bridge)
		b.ReportMetric(ms(l), "launch-ms")
		b.ReportMetric(ms(dr), "docker-run-ms")
		b.ReportMetric(float64(l)/float64(dr), "ratio")
		b.ReportMetric(ms(br), "docker-run-bridge-ms")
		b.ReportMetric(float64(l)/float64(br), "ratio-bridge")
	})

	b.Run("warm", func(b *testing.B) {
		// Each iteration attaches 10 warm containers; refilling the pool
		// between them (a container start) is part of ns/op but not of
		// the p50.
		const attaches = 10
		var took []time.Duration
		for i := 0; i < b.N; i++ {
			for j := 0; j < attaches; j++ {
				waitWarm(b, st, warmRepo)
				start := time.Now()
				l, err := api.StartLaunch(context.Background(), "warm", appclient.LaunchRequest{})
				if err != nil {
					b.Fatal(err)
				}
				get200(b, web, preview("warm"))
				took = append(took, time.Since(start))
				if l.Status != catalog.LaunchRunning {
					b.Fatalf("warm launch answered %s", l.Status)
				}
				if _, err := api.StopLaunch(context.Background(), l.ID); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(ms(median(took)), "p50-ms")
	})

	b.Run("proxy", func(b *testing.B) {
		l, err := api.StartLaunch(context.Background(), "cold", appclient.LaunchRequest{})
		if err != nil {
			b.Fatal(err)
		}
		if l, err = api.WaitLaunch(context.Background(), l.ID, time.Minute); err != nil || l.Status != catalog.LaunchRunning {
			b.Fatalf("launch: %v %+v", err, l)
		}
		direct := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		var viaProxy, viaPort []time.Duration
		for i := 0; i < 50; i++ { // warm up both paths' connections
			get200(b, web, preview("cold"))
			get200(b, direct, l.InstanceURL+"/")
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			get200(b, web, preview("cold"))
			t1 := time.Now()
			get200(b, direct, l.InstanceURL+"/")
			viaProxy = append(viaProxy, t1.Sub(t0))
			viaPort = append(viaPort, time.Since(t1))
		}
		b.StopTimer()
		p, dp := median(viaProxy), median(viaPort)
		b.ReportMetric(float64(p-dp)/1e3, "added-p50-µs")
		b.ReportMetric(float64(p)/1e3, "proxy-p50-µs")
		b.ReportMetric(float64(dp)/1e3, "direct-p50-µs")
		if _, err := api.StopLaunch(context.Background(), l.ID); err != nil {
			b.Fatal(err)
		}
	})
}

// coldLaunch launches the app and GETs its preview until the first 200; the
// stop afterwards is not timed.
func coldLaunch(b *testing.B, api *appclient.Client, web *http.Client, url string) time.Duration {
	start := time.Now()
	l, err := api.StartLaunch(context.Background(), "cold", appclient.LaunchRequest{})
	if err != nil {
		b.Fatal(err)
	}
	if l.Status != catalog.LaunchStarting {
		b.Fatalf("cold launch answered %s, want a new launch", l.Status)
	}
	get200(b, web, url) // the proxy holds the request until the app is ready
	took := time.Since(start)
	b.StopTimer()
	if _, err := api.StopLaunch(context.Background(), l.ID); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return took
}

// dockerRun is the baseline: what `docker run -d -p 127.0.0.1::8080 image`
// does (create, start), then the published port, polled every 10 ms until
// it answers 200.
func dockerRun(b *testing.B, cli *client.Client, image, network string) time.Duration {
	ctx := context.Background()
	start := time.Now()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: image, Env: []string{"PORT=8080"}, ExposedPorts: nat.PortSet{"8080/tcp": {}}},
		&container.HostConfig{NetworkMode: container.NetworkMode(network), PortBindings: nat.PortMap{"8080/tcp": {{HostIP: "127.0.0.1"}}}}, nil, nil, "")
	if err != nil {
		b.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		b.Fatal(err)
	}
	ins, err := cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		b.Fatal(err)
	}
	url := "http://127.0.0.1:" + ins.NetworkSettings.Ports["8080/tcp"][0].HostPort + "/"
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatal("docker run: the app did not answer within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return took
}

func get200(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
}

func waitWarm(b *testing.B, st *store.Store, repoID int64) {
	warm := true
	deadline := time.Now().Add(time.Minute)
	for {
		ls, err := st.ListLaunches(context.Background(), store.LaunchFilter{Warm: &warm, Statuses: []catalog.LaunchStatus{catalog.LaunchRunning}})
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range ls {
			if l.RepositoryID == repoID {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("no warm container within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
