package runner_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/appstore-dev/appstore/catalog"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// conformIsolation launches two apps and has the first dial the second's
// container (on Swarm: its task's container) directly, at its address on
// the network it runs on: on the apps' network (the default) the
// connection is refused, while on Docker's default bridge (--app-network
// bridge), which lets containers talk, the same dial connects, so the
// check can tell the two apart. The dial stays inside the test's own
// networks.
func conformIsolation(t *testing.T, rt runtimeCase) {
	for _, tc := range []struct {
		network string
		reach   bool
	}{{"", false}, {"bridge", true}} {
		name := "apps-network"
		if tc.network != "" {
			name = tc.network
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, rt.config(runner.Config{Network: tc.network}))
			from, to := "dialer-"+name, "target-"+name
			h.app(from, 0, runnertest.ImageOptions{})
			h.app(to, 0, runnertest.ImageOptions{})
			if l := h.launch(from, appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
				t.Fatalf("launch %s: %s %s", from, l.Status, l.ErrorMessage)
			}
			target := h.launch(to, appclient.LaunchRequest{})
			if target.Status != catalog.LaunchRunning {
				t.Fatalf("launch %s: %s %s", to, target.Status, target.ErrorMessage)
			}
			ins := appContainer(t, h, target)
			if len(ins.NetworkSettings.Networks) != 1 {
				t.Fatalf("the target is on networks %v, want one", ins.NetworkSettings.Networks)
			}
			var netName, ip string
			for n, ep := range ins.NetworkSettings.Networks {
				netName, ip = n, ep.IPAddress
			}
			want := map[string]string{"docker": runner.DefaultNetwork, "swarm": runner.DefaultSwarmNetwork}[rt.name]
			if tc.network == "bridge" {
				want = "bridge"
			}
			if netName != want || ip == "" {
				t.Fatalf("the target is on %s at %q, want %s", netName, ip, want)
			}
			addr := net.JoinHostPort(ip, "8080")
			resp, body := h.get(h.previewURL(from, "/dial?addr="+addr))
			if reached := resp.StatusCode == http.StatusOK; reached != tc.reach {
				t.Errorf("dial %s from another app on %s: %d %q, want reached=%v", addr, netName, resp.StatusCode, body, tc.reach)
			}
			if tc.network == "" {
				checkNoInterContainerTraffic(t, h, rt.name)
			}
		})
	}
}

// appContainer is the container that runs the launch on this engine: the
// launch's own, or its Swarm task's.
func appContainer(t *testing.T, h *harness, l *catalog.Launch) container.InspectResponse {
	t.Helper()
	ctx := context.Background()
	id := l.ContainerID
	if h.cfg.Runtime == runner.RuntimeSwarm {
		cs, err := h.docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
			filters.Arg("label", "com.docker.swarm.service.id="+l.ContainerID), filters.Arg("status", "running"))})
		if err != nil || len(cs) != 1 {
			t.Fatalf("the running task container of service %s: %v %d", l.ContainerID, err, len(cs))
		}
		id = cs[0].ID
	}
	ins, err := h.docker.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// checkNoInterContainerTraffic checks the apps' network's switch: on the
// bridge itself, or on Swarm on the config-only network it takes its
// options from.
func checkNoInterContainerTraffic(t *testing.T, h *harness, rt string) {
	t.Helper()
	ctx := context.Background()
	name := runner.DefaultNetwork
	if rt == "swarm" {
		nw, err := h.docker.NetworkInspect(ctx, runner.DefaultSwarmNetwork, network.InspectOptions{Scope: "swarm"})
		if err != nil || nw.Scope != "swarm" || nw.Driver != "bridge" || nw.ConfigFrom.Network == "" {
			t.Fatalf("the apps' Swarm network: %v %+v", err, nw)
		}
		name = nw.ConfigFrom.Network
	}
	nw, err := h.docker.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil || nw.Options["com.docker.network.bridge.enable_icc"] != "false" {
		t.Errorf("network %s: %v options %v", name, err, nw.Options)
	}
}
