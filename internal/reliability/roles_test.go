package reliability

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestRolesDecideWhatAProcessServes starts one process per role on one
// database and checks what each serves and watches: only api serves the
// API (the others their health, saying so); /readyz checks the engine only
// where the runner role runs; launches need the runner role.
func TestRolesDecideWhatAProcessServes(t *testing.T) {
	testenv.Docker(t)
	db, _ := newCatalog(t)
	redis := testenv.Redis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		roles  []string
		checks []string
		api    bool
	}{
		{[]string{daemon.RoleAPI}, []string{"database", "events", "queue"}, true},
		{[]string{daemon.RoleWorker}, []string{"database", "events", "queue"}, false},
		{[]string{daemon.RoleRunner}, []string{"database", "docker", "events", "queue", "runner"}, false},
		{[]string{daemon.RoleAPI, daemon.RoleRunner}, []string{"database", "docker", "events", "queue", "runner"}, true},
	} {
		name := strings.Join(tc.roles, ",")
		t.Run(name, func(t *testing.T) {
			d := daemontest.Start(t, daemon.Config{DatabaseURL: db, RedisURL: redis, Roles: tc.roles})
			code, h := readyz(t, d.URL)
			if got := slices.Sorted(maps.Keys(h.Checks)); code != http.StatusOK || !slices.Equal(got, tc.checks) {
				t.Errorf("/readyz %d with checks %v, want 200 with %v", code, got, tc.checks)
			}
			c := &client.Client{BaseURL: d.URL}
			_, err := c.Search(ctx, client.SearchOptions{})
			switch {
			case tc.api && err != nil:
				t.Errorf("search on an api process: %v", err)
			case !tc.api && (!client.IsNotFound(err) || !strings.Contains(err.Error(), "--roles "+name+", without api")):
				t.Errorf("search on a process without api: %v, want a 404 naming its roles", err)
			}
			if !tc.api {
				return
			}
			_, err = c.StartLaunch(ctx, "nothing", client.LaunchRequest{})
			if slices.Contains(tc.roles, daemon.RoleRunner) {
				if !client.IsNotFound(err) {
					t.Errorf("launch of an unknown app with a runner: %v, want 404", err)
				}
			} else if ae := apiError(err); ae == nil || ae.StatusCode != http.StatusServiceUnavailable || !strings.Contains(ae.Message, "no runner role") {
				t.Errorf("launch without a runner: %v, want 503 saying so", err)
			}
		})
	}
}
