package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// The apps' network on Swarm. As the docker runtime puts containers on a
// bridge without traffic between containers (ensureNetwork), the Swarm
// runtime attaches every task to a swarm-scoped bridge network whose
// options come from a config-only network with the same switch: each node
// makes that bridge locally for the tasks it runs, so a task reaches the
// outside and is reached on its published port, but not another app's
// task. The config-only network is node-local: the runner makes it on its
// own node, every other node needs it made once (docs/operations.md), or
// tasks placed there fail saying the network is missing.

// DefaultSwarmNetwork is the apps' network on Swarm (with the default
// --app-network), and swarmNetworkConfig the config-only network of its
// options.
const (
	DefaultSwarmNetwork = "appstore-apps-swarm"
	swarmNetworkConfig  = DefaultSwarmNetwork + "-config"
)

// swarmNetworkName is the network services join for --app-network name:
// the default makes DefaultSwarmNetwork; "bridge" joins none (tasks use
// their node's default bridge, where they can reach each other); any other
// name is an attachable swarm-scoped network the operator made.
func swarmNetworkName(name string) string {
	switch name {
	case "", DefaultNetwork:
		return DefaultSwarmNetwork
	case "bridge":
		return ""
	}
	return name
}

// ensureNetwork makes the apps' Swarm network (and its config-only network
// on this node) when missing; a network named by the operator must exist.
func (s *swarmRuntime) ensureNetwork(ctx context.Context) error {
	if s.network == "" {
		return nil
	}
	if s.network != DefaultSwarmNetwork {
		nw, err := s.cli.NetworkInspect(ctx, s.network, network.InspectOptions{Scope: "swarm"})
		if err != nil {
			return fmt.Errorf("--app-network %s: %w (with --runtime swarm, name a swarm-scoped network, or leave the default to have %s made)", s.network, err, DefaultSwarmNetwork)
		}
		if nw.Scope != "swarm" {
			return fmt.Errorf("--app-network %s is a %s network: Swarm services join only swarm-scoped networks (or leave the default to have %s made)", s.network, nw.Scope, DefaultSwarmNetwork)
		}
		return nil
	}
	local := &engine{cli: s.cli, logger: s.logger}
	ids, err := local.networkIDs(ctx, swarmNetworkConfig)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		_, err := s.cli.NetworkCreate(ctx, swarmNetworkConfig, network.CreateOptions{
			ConfigOnly: true,
			Options:    map[string]string{iccOption: "false"},
			Labels:     map[string]string{LabelManaged: "true"},
		})
		if err != nil && !errdefs.IsConflict(err) {
			return fmt.Errorf("create the config-only Docker network %s for the apps' Swarm network: %w", swarmNetworkConfig, err)
		}
	}
	if _, err := s.cli.NetworkInspect(ctx, DefaultSwarmNetwork, network.InspectOptions{Scope: "swarm"}); err == nil {
		return nil
	}
	// Labels and options come from the config network: Docker refuses
	// both on a network that takes its configuration from another.
	_, err = s.cli.NetworkCreate(ctx, DefaultSwarmNetwork, network.CreateOptions{
		Driver:     "bridge",
		Scope:      "swarm",
		ConfigFrom: &network.ConfigReference{Network: swarmNetworkConfig},
	})
	if err != nil && !errdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
		// Another runner made it meanwhile (runners starting together on
		// one swarm): the manager says so as "name conflicts with an
		// existing object", without a conflict code. It exists: done.
		if _, ierr := s.cli.NetworkInspect(ctx, DefaultSwarmNetwork, network.InspectOptions{Scope: "swarm"}); ierr == nil {
			return nil
		}
		return fmt.Errorf("create the apps' Swarm network %s: %w (create it yourself, or run appstored with --app-network bridge)", DefaultSwarmNetwork, err)
	}
	if err == nil {
		s.logger.Info("created the apps' Swarm network", "network", DefaultSwarmNetwork, "config", swarmNetworkConfig, "inter_container", false)
	}
	return nil
}

// networks is what a service's tasks attach to.
func (s *swarmRuntime) networks() []swarm.NetworkAttachmentConfig {
	if s.network == "" {
		return nil
	}
	return []swarm.NetworkAttachmentConfig{{Target: s.network}}
}
