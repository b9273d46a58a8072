package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/cli"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// appstoreCLI runs the CLI in process against the daemon, as in a pipe.
func appstoreCLI(t *testing.T, d *testenv.Appstored, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := cli.TestStreams("")
	env := map[string]string{cli.EnvURL: d.URL}
	code := cli.Main(context.Background(), cli.NewFactory(ios, func(k string) string { return env[k] }), args)
	return code, out.String(), errOut.String()
}

// TestVolumeSurvivesKill9: appstored killed with SIGKILL while the notes
// app runs, its container gone too (as after a reboot of the host), then
// restarted: the next launch of the app finds its notes. The CLI's volume
// ls and volume rm go through the daemon's API (rm refused while the app
// runs, exit code 5 for a conflict), and rm --purge deletes the volume
// with the app.
func TestVolumeSurvivesKill9(t *testing.T) {
	t.Parallel()
	testenv.RequirePostgresBinaries(t)
	docker := runnertest.Docker(t)
	st, dbURL := storetest.NewWithURL(t)
	dataDir := t.TempDir()
	tag, id := runnertest.ExampleImage(t, docker, "notes", "1")
	notesApp(t, st, docker, "notes", tag, id)
	args := []string{"--database-url", dbURL, "--data-dir", dataDir}
	d1 := startAppstored(t, args...)
	idBytes, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnerID := strings.TrimSpace(string(idBytes))
	runnertest.CleanupContainers(t, docker, runnerID)
	ctx := context.Background()

	launch := func(d *testenv.Appstored) *catalog.Launch {
		t.Helper()
		c := &appclient.Client{BaseURL: d.URL}
		l, err := c.StartLaunch(ctx, "notes", appclient.LaunchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if l, err = c.WaitLaunch(ctx, l.ID, time.Minute); err != nil || l.Status != catalog.LaunchRunning {
			t.Fatalf("launch: %v %+v", err, l)
		}
		return l
	}
	notes := func(d *testenv.Appstored) string {
		t.Helper()
		code, body := preview(t, d, "notes", "/notes.json")
		if code != http.StatusOK {
			t.Fatalf("notes.json: %d %s", code, body)
		}
		return body
	}
	l := launch(d1)
	resp, err := http.PostForm(l.InstanceURL+"/notes", url.Values{"text": {"before the crash"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := notes(d1); !strings.Contains(got, "before the crash") {
		t.Fatalf("notes before the crash: %s", got)
	}

	d1.Kill()
	if err := docker.ContainerRemove(ctx, l.ContainerID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	d2 := startAppstored(t, args...)
	launch(d2)
	if got := notes(d2); !strings.Contains(got, "before the crash") {
		t.Errorf("notes after kill -9 and a new container: %s", got)
	}

	// volume ls, in a pipe and as JSON.
	code, out, errOut := appstoreCLI(t, d2, "volume", "ls", "notes")
	if code != 0 || !strings.HasPrefix(out, "notes\t/data\t") || !strings.Contains(out, "\t67108864\ttrue\t") {
		t.Errorf("volume ls: %d %q %q", code, out, errOut)
	}
	code, out, _ = appstoreCLI(t, d2, "volume", "ls", "--json")
	var vols []appclient.Volume
	if err := json.Unmarshal([]byte(out), &vols); code != 0 || err != nil || len(vols) != 1 || vols[0].Repository != "notes" || !vols[0].InUse || vols[0].UsedBytes <= 0 {
		t.Errorf("volume ls --json: %d %v %s", code, err, out)
	}
	// volume rm while it runs: a conflict that says what to do.
	code, _, errOut = appstoreCLI(t, d2, "volume", "rm", "notes")
	if code != cli.ExitConflict || !strings.Contains(errOut, "appstore stop notes") {
		t.Errorf("volume rm while running: %d %q", code, errOut)
	}
	// rm --purge stops the app and deletes its volume with it.
	code, _, errOut = appstoreCLI(t, d2, "rm", "--purge", "notes")
	if code != 0 {
		t.Fatalf("rm --purge: %d %q", code, errOut)
	}
	catalogID, _ := st.CatalogID(ctx)
	if _, err := docker.VolumeInspect(ctx, runner.VolumeName(catalogID, "notes")); err == nil {
		t.Errorf("the volume is still there after rm --purge")
	}
	if _, err := st.RepositoryIDBySlug(ctx, "notes"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("the app is still there after rm --purge: %v", err)
	}
}
