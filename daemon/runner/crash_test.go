package runner_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func startAppstored(t *testing.T, args ...string) *testenv.Appstored {
	t.Helper()
	return testenv.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"), append([]string{"--log-level", "debug"}, args...)...)
}

// preview GETs path of the app slug through the preview host of d.
func preview(t *testing.T, d *testenv.Appstored, slug, path string) (int, string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(d.Addr)
	req, _ := http.NewRequest(http.MethodGet, d.URL+path, nil)
	req.Host = slug + ".localhost:" + port
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("preview %s%s: %v", slug, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestKill9ThenRestartAdoptsAndCleansUp kills appstored with launches
// running, changes the world while it is down (a container removed, an app
// exited, an orphan container, a launch that never got its container), and
// checks that the restarted daemon adopts what it can, records the truth
// about the rest and leaves no orphan; then that SIGTERM stops everything.
func TestKill9ThenRestartAdoptsAndCleansUp(t *testing.T) {
	t.Parallel()
	testenv.RequirePostgresBinaries(t)
	cli := runnertest.Docker(t)
	st, dbURL := storetest.NewWithURL(t)
	dataDir := t.TempDir()
	tag, imageID := runnertest.Image(t, cli, runnertest.ImageOptions{})
	for _, slug := range []string{"keep", "vanish", "quit", "late"} {
		runnertest.App(t, st, slug, tag, imageID, 0)
	}
	args := []string{"--database-url", dbURL, "--data-dir", dataDir}
	d1 := startAppstored(t, args...)
	idBytes, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnerID := strings.TrimSpace(string(idBytes))
	runnertest.CleanupContainers(t, cli, runnerID)

	ctx := context.Background()
	c1 := &appclient.Client{BaseURL: d1.URL}
	launched := map[string]*catalog.Launch{}
	for _, slug := range []string{"keep", "vanish", "quit"} {
		l, err := c1.StartLaunch(ctx, slug, appclient.LaunchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if l, err = c1.WaitLaunch(ctx, l.ID, time.Minute); err != nil || l.Status != catalog.LaunchRunning {
			t.Fatalf("launch %s: %v %+v", slug, err, l)
		}
		launched[slug] = l
	}
	if code, body := preview(t, d1, "keep", "/"); code != 200 || !strings.HasPrefix(body, "hello") {
		t.Fatalf("preview before the crash: %d %q", code, body)
	}

	d1.Kill()

	// While appstored is down: a container disappears, an app exits, a
	// stray container with our labels appears, and a launch row exists
	// whose container was never created.
	if err := cli.ContainerRemove(ctx, launched["vanish"].ContainerID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(launched["quit"].InstanceURL + "/exit?code=4"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	waitFor(t, 20*time.Second, "the quitting app to exit", func() bool {
		ins, err := cli.ContainerInspect(ctx, launched["quit"].ContainerID)
		return err == nil && !ins.State.Running
	})
	orphan, err := cli.ContainerCreate(ctx, &container.Config{Image: imageID, Labels: map[string]string{
		runner.LabelManaged: "true", runner.LabelRunner: runnerID, runner.LabelLaunch: "999999", runner.LabelRepository: "keep",
	}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, orphan.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	lt, err := st.LaunchTarget(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	late, _, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: lt.RepositoryID, BuildID: lt.Build.ID, AppPort: 8080, Profile: "small", Runner: runnerID, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	d2 := startAppstored(t, args...)

	keep, err := st.Launch(ctx, launched["keep"].ID)
	if err != nil || keep.Status != catalog.LaunchRunning {
		t.Errorf("keep after restart: %v %+v, want the same launch running (adopted)", err, keep)
	}
	if code, body := preview(t, d2, "keep", "/"); code != 200 || !strings.HasPrefix(body, "hello") {
		t.Errorf("preview of the adopted app: %d %q", code, body)
	}
	if ls, _ := st.ListLaunches(ctx, store.LaunchFilter{Repository: "keep"}); len(ls) != 1 {
		t.Errorf("keep has %d launches, want 1: the adopted one served the request", len(ls))
	}
	vanish, _ := st.Launch(ctx, launched["vanish"].ID)
	if vanish.Status != catalog.LaunchFailed || !strings.Contains(vanish.ErrorMessage, "disappeared") {
		t.Errorf("vanished container: %s %q", vanish.Status, vanish.ErrorMessage)
	}
	quit, _ := st.Launch(ctx, launched["quit"].ID)
	if quit.Status != catalog.LaunchFailed || quit.ExitCode == nil || *quit.ExitCode != 4 || !strings.Contains(quit.ErrorMessage, "exiting with 4 on request") {
		t.Errorf("app that exited while appstored was down: %s %v %q", quit.Status, quit.ExitCode, quit.ErrorMessage)
	}
	lateNow, _ := st.Launch(ctx, late.ID)
	if lateNow.Status != catalog.LaunchFailed || !strings.Contains(lateNow.ErrorMessage, "before the container was created") {
		t.Errorf("launch without a container: %s %q", lateNow.Status, lateNow.ErrorMessage)
	}
	cs := runnertest.Containers(t, cli, runnerID)
	if len(cs) != 1 || cs[0].ID != launched["keep"].ContainerID {
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID[:12]+" "+c.State+" "+c.Labels[runner.LabelLaunch])
		}
		t.Errorf("containers after restart: %v, want only keep's", ids)
	}

	d2.Stop()
	if cs := runnertest.Containers(t, cli, runnerID); len(cs) != 0 {
		t.Errorf("%d containers after a clean shutdown", len(cs))
	}
	keep, _ = st.Launch(ctx, launched["keep"].ID)
	if keep.Status != catalog.LaunchStopped || !strings.Contains(keep.ErrorMessage, "shut down") {
		t.Errorf("keep after shutdown: %s %q", keep.Status, keep.ErrorMessage)
	}
}
