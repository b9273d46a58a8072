package daemon

import (
	"strings"
	"testing"
)

func TestRuntimeFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		cfg  Config
		want string // "" = accepted
	}{
		{Config{}, ""},
		{Config{Runtime: RuntimeSwarm, SwarmConstraints: []string{"node.labels.appstore==apps"}}, ""},
		{Config{Runtime: "kubernetes"}, `--runtime "kubernetes": want docker or swarm`},
		{Config{SwarmConstraints: []string{"node.role==worker"}}, "--swarm-constraint needs --runtime swarm"},
		{Config{Runtime: RuntimeSwarm, SwarmConstraints: []string{"apps"}}, "want an expression such as node.labels.appstore==apps"},
	} {
		c.cfg.DataDir = dir
		err := c.cfg.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}
