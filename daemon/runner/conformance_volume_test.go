package runner_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// pushLatest pushes the newest build of the repository to the harness's
// registry, as the build worker does with --registry (Swarm runs it by
// digest); without a registry it does nothing.
func (h *harness) pushLatest(repoID int64, slug, tag string) {
	h.t.Helper()
	if h.cfg.Registry == nil {
		return
	}
	var build int64
	if err := h.st.Pool().QueryRow(context.Background(), `SELECT max(id) FROM builds WHERE repository_id = $1`, repoID).Scan(&build); err != nil {
		h.t.Fatal(err)
	}
	runnertest.Push(h.t, h.docker, h.st, h.cfg.Registry, build, slug, tag)
}

// conformVolume: the notes example (an unprivileged user, storage: /data)
// keeps its notes across sleep and wake, stop and launch, and a rebuild;
// volume ls sees its volume in use, volume rm is refused while it runs and
// deletes the data once it is stopped. On Swarm the service mounts the
// app's volume (and nothing else of the host), and the app is pinned to
// the node that holds it from its first run on.
func conformVolume(t *testing.T, rt runtimeCase) {
	h := newHarness(t, rt.config(runner.Config{IdleTimeout: 2 * time.Second}))
	ctx := context.Background()
	slug := "notes-" + rt.name
	tag1, id1 := runnertest.ExampleImage(t, h.docker, "notes", "1")
	repoID := notesApp(t, h.st, h.docker, slug, tag1, id1)
	// Before notesApp's cleanup removes the volume (cleanups run last
	// first): a failed test leaves no container that holds it.
	t.Cleanup(func() { _, _ = h.r.StopRepository(context.Background(), slug) })
	h.pushLatest(repoID, slug, tag1)
	get := func(s string) (*http.Response, string) { return h.get(h.previewURL(s, "/notes.json")) }

	first := h.launch(slug, appclient.LaunchRequest{})
	if first.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", first.Status, first.ErrorMessage)
	}
	h.addNote(slug, "first")

	// Sleep (idle) and wake by a request.
	if slept := h.waitStatus(first.ID, catalog.LaunchStopped, 30*time.Second); slept.StopReason != "idle" {
		t.Fatalf("stopped for %q, want idle", slept.StopReason)
	}
	if got := notesOf(t, get, slug); !slices.Equal(got, []string{"first"}) {
		t.Errorf("notes after sleep and wake: %q", got)
	}

	// Stop and launch again.
	stopActive(t, h, slug)
	h.launch(slug, appclient.LaunchRequest{TTL: "10m"})
	h.addNote(slug, "second")
	if got := notesOf(t, get, slug); !slices.Equal(got, []string{"second", "first"}) {
		t.Errorf("notes after stop and launch: %q", got)
	}

	// A rebuild: the new image's launch replaces the running one.
	tag2, id2 := runnertest.ExampleImage(t, h.docker, "notes", "2")
	build2 := runnertest.AddBuild(t, h.st, repoID, tag2, id2)
	h.pushLatest(repoID, slug, tag2)
	l2 := h.launch(slug, appclient.LaunchRequest{TTL: "10m"})
	if l2.Status != catalog.LaunchRunning || l2.BuildID == nil || *l2.BuildID != build2 {
		t.Fatalf("launch of the new build: %s %s %v", l2.Status, l2.ErrorMessage, l2.BuildID)
	}
	if got := notesOf(t, get, slug); !slices.Equal(got, []string{"second", "first"}) {
		t.Errorf("notes after a rebuild: %q", got)
	}

	// The app kept awake while it must run: its idle timeout is short.
	release := h.keepAwake(slug)
	vols, err := h.r.Volumes(ctx, slug)
	if err != nil || len(vols) != 1 || !vols[0].InUse || vols[0].UsedBytes <= 0 || vols[0].Path != "/data" {
		t.Fatalf("volume ls while it runs: %v %+v", err, vols)
	}
	name := vols[0].Name
	if rt.name == "swarm" {
		checkVolumeService(t, h, l2, name)
	}

	// volume rm: refused while the app runs, losing nothing; once it is
	// stopped, the data is gone and the next launch starts empty.
	var conflict *catalog.ConflictError
	if err := h.r.RemoveVolume(ctx, slug); !errors.As(err, &conflict) || !strings.Contains(conflict.Message, "appstore stop "+slug) {
		t.Fatalf("volume rm while running: %v", err)
	}
	if got := notesOf(t, get, slug); len(got) != 2 {
		t.Errorf("notes after a refused volume rm: %q", got)
	}
	release()
	stopActive(t, h, slug)
	if err := h.r.RemoveVolume(ctx, slug); err != nil {
		t.Fatalf("volume rm after stop: %v", err)
	}
	if _, err := h.docker.VolumeInspect(ctx, name); err == nil {
		t.Errorf("volume %s still there after volume rm", name)
	}
	if rt.name == "swarm" {
		if cs := volumeRecords(t, h, name); len(cs) != 0 {
			t.Errorf("the volume's node is still recorded after volume rm: %+v", cs)
		}
	}
	if l := h.launch(slug, appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
		t.Fatalf("launch after volume rm: %s %s", l.Status, l.ErrorMessage)
	}
	if got := notesOf(t, get, slug); len(got) != 0 {
		t.Errorf("notes after volume rm: %q", got)
	}
	h.addNote(slug, "fresh") // the new volume is writable by the app's user
	stopActive(t, h, slug)
}

// checkVolumeService checks the Swarm service of a launch whose app has a
// data volume: the volume mounted with its labels beside /tmp and nothing
// else, and the app pinned to the node that ran it first (recorded in a
// Swarm config).
func checkVolumeService(t *testing.T, h *harness, l *catalog.Launch, volume string) {
	t.Helper()
	ctx := context.Background()
	svc, _, err := h.docker.ServiceInspectWithRaw(ctx, l.ContainerID, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatalf("the launch's service: %v", err)
	}
	var targets []string
	for _, m := range svc.Spec.TaskTemplate.ContainerSpec.Mounts {
		targets = append(targets, string(m.Type)+":"+m.Source+":"+m.Target)
		if m.Type == "volume" && (m.VolumeOptions == nil || m.VolumeOptions.Labels[runner.LabelRepository] != l.Repository || m.VolumeOptions.Labels[runner.LabelCatalog] == "") {
			t.Errorf("the volume mount carries no volume labels: %+v", m.VolumeOptions)
		}
	}
	slices.Sort(targets)
	if want := []string{"tmpfs::/tmp", "volume:" + volume + ":/data"}; !slices.Equal(targets, want) {
		t.Errorf("mounts %q, want %q", targets, want)
	}
	info, err := h.docker.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pin := "node.id==" + info.Swarm.NodeID
	if c := svc.Spec.TaskTemplate.Placement.Constraints; !slices.Contains(c, pin) {
		t.Errorf("placement %q: want the app pinned to its volume's node (%s)", c, pin)
	}
	if cs := volumeRecords(t, h, volume); len(cs) != 1 || cs[0].Spec.Labels["appstore.node"] != info.Swarm.NodeID {
		t.Errorf("records of the volume's node: %+v", cs)
	}
}

// volumeRecords are the Swarm configs that record the node of a volume.
func volumeRecords(t *testing.T, h *harness, volume string) []swarm.Config {
	t.Helper()
	cs, err := h.docker.ConfigList(context.Background(), swarm.ConfigListOptions{Filters: filters.NewArgs(filters.Arg("label", "appstore.volume="+volume))})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// stopActive stops the app's active launches.
func stopActive(t *testing.T, h *harness, slug string) {
	t.Helper()
	ctx := context.Background()
	ls, err := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ls {
		if _, err := h.api.StopLaunch(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
}
