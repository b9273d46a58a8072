package daemon

import (
	"fmt"
	"strings"
)

// Runtimes of launches (--runtime).
const (
	RuntimeDocker = "docker" // containers on the runner host's engine
	RuntimeSwarm  = "swarm"  // services on the Swarm the runner's engine manages
)

// checkRuntime checks --runtime and --swarm-constraint.
func (c *Config) checkRuntime() error {
	switch c.Runtime {
	case "":
		c.Runtime = RuntimeDocker
	case RuntimeDocker, RuntimeSwarm:
	default:
		return fmt.Errorf("--runtime %q: want docker or swarm", c.Runtime)
	}
	if len(c.SwarmConstraints) > 0 && c.Runtime != RuntimeSwarm {
		return fmt.Errorf("--swarm-constraint needs --runtime swarm")
	}
	for _, s := range c.SwarmConstraints {
		if !strings.Contains(s, "==") && !strings.Contains(s, "!=") {
			return fmt.Errorf("--swarm-constraint %q: want an expression such as node.labels.appstore==apps or node.role!=manager", s)
		}
	}
	return nil
}
