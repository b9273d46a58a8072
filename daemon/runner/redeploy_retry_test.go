package runner_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestRedeployRefusedOverSizeIsRetried: the notes example holds more than
// its declared 1 KiB when a new build arrives. The redeploy is refused
// (launch.redeploy_refused, once, saying what to do) and the running
// launch keeps serving; once the data is deleted (by another container on
// the volume, as an operator would), the same runner redeploys the new
// build by itself, without a restart.
func TestRedeployRefusedOverSizeIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{StorageCheckInterval: 300 * time.Millisecond})
	ctx := context.Background()
	tag, id := runnertest.ExampleImage(t, h.docker, "notes", "1")
	repoID := notesApp(t, h.st, h.docker, "redo", tag, id)
	if _, err := h.st.Pool().Exec(ctx, `UPDATE repositories SET metadata = jsonb_set(metadata, '{storage,size_bytes}', '1024') WHERE id = $1`, repoID); err != nil {
		t.Fatal(err)
	}
	old := h.launch("redo", appclient.LaunchRequest{TTL: "10m"})
	if old.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", old)
	}
	for range 3 {
		h.addNote("redo", strings.Repeat("n", 400))
	}
	tag2, id2 := runnertest.ExampleImage(t, h.docker, "notes", "2")
	v2 := runnertest.AddBuild(t, h.st, repoID, tag2, id2)

	refusals := func() []catalog.Event {
		evs, err := h.st.Events(ctx, store.EventFilter{Topics: []string{"launch"}, Subject: "redo"})
		if err != nil {
			t.Fatal(err)
		}
		var out []catalog.Event
		for _, e := range evs {
			if e.Type == "launch.redeploy_refused" {
				out = append(out, e)
			}
		}
		return out
	}
	waitFor(t, 30*time.Second, "launch.redeploy_refused", func() bool { return len(refusals()) > 0 })
	var d struct {
		LaunchID int64  `json:"launch_id"`
		Build    int64  `json:"refused_build_id"`
		Message  string `json:"message"`
	}
	if err := json.Unmarshal(refusals()[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.LaunchID != old.ID || d.Build != v2 || !strings.Contains(d.Message, "appstore volume rm redo") {
		t.Errorf("launch.redeploy_refused: %+v", d)
	}
	// Several retries later (every 300 ms) it is still refused, told once,
	// and the old launch serves its notes.
	time.Sleep(time.Second) // lets retries happen: what is checked is that nothing changed
	if n := len(refusals()); n != 1 {
		t.Errorf("%d launch.redeploy_refused events, want 1 for one build", n)
	}
	if got := notesOf(t, func(slug string) (*http.Response, string) { return h.get(h.previewURL(slug, "/notes.json")) }, "redo"); len(got) != 3 {
		t.Errorf("notes while the redeploy is refused: %d, want 3", len(got))
	}
	if ls, _ := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: "redo", Active: true}); len(ls) != 1 || ls[0].ID != old.ID {
		t.Fatalf("active launches while refused: %+v", ls)
	}

	// The data goes: the redeploy follows by itself.
	catalogID, err := h.st.CatalogID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clearNotes(t, h.docker, runner.VolumeName(catalogID, "redo"))
	waitFor(t, time.Minute, "the redeploy of the new build", func() bool {
		ls, _ := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: "redo", Statuses: []catalog.LaunchStatus{catalog.LaunchRunning}})
		return len(ls) == 1 && ls[0].BuildID != nil && *ls[0].BuildID == v2
	})
	h.waitStatus(old.ID, catalog.LaunchStopped, 30*time.Second)
}

// clearNotes empties the notes example's notes file on volume, from a
// busybox container of its own.
func clearNotes(t *testing.T, cli *client.Client, volume string) {
	t.Helper()
	ctx := context.Background()
	c, err := cli.ContainerCreate(ctx, &container.Config{
		Image: testenv.BusyboxImage(t), Cmd: []string{"sh", "-c", "echo '[]' > /data/notes.json"},
		Labels: map[string]string{"appstore.test": "redeploy-retry"},
	}, &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: volume, Target: "/data"}}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case res := <-waitC:
		if res.StatusCode != 0 {
			t.Fatalf("clearing the notes exited %d", res.StatusCode)
		}
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(time.Minute):
		t.Fatal("clearing the notes took over a minute")
	}
}
