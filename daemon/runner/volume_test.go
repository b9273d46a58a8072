package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// notesApp registers the notes example as slug with a succeeded build of
// its image (runnertest.ExampleImage), and the storage its tags.yaml
// declares, read by ingestion's own extraction from examples/notes.
func notesApp(t *testing.T, st *store.Store, cli *client.Client, slug, tag, id string) (repoID int64) {
	t.Helper()
	res, err := metadata.Extract(context.Background(), filepath.Join(testenv.ModuleRoot(t), "examples", "notes"), metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Storage == nil || res.Storage.Path != "/data" || res.Storage.SizeBytes != 64<<20 {
		t.Fatalf("examples/notes declares storage %+v, want /data of 64 MiB", res.Storage)
	}
	repoID, _ = runnertest.App(t, st, slug, tag, id, 8080)
	meta, _ := json.Marshal(map[string]any{"storage": res.Storage})
	if _, err := st.Pool().Exec(context.Background(), `UPDATE repositories SET metadata = $2 WHERE id = $1`, repoID, meta); err != nil {
		t.Fatal(err)
	}
	catalogID, err := st.CatalogID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	name := runner.VolumeName(catalogID, slug)
	t.Cleanup(func() { _ = cli.VolumeRemove(context.Background(), name, true) })
	return repoID
}

// notesOf GETs the app's notes through its preview (waking it if needed).
func notesOf(t *testing.T, get func(string) (*http.Response, string), slug string) []string {
	t.Helper()
	resp, body := get(slug)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/notes.json: %d %s", slug, resp.StatusCode, body)
	}
	var ns []struct{ Text string }
	if err := json.Unmarshal([]byte(body), &ns); err != nil {
		t.Fatalf("notes.json: %v %q", err, body)
	}
	var out []string
	for _, n := range ns {
		out = append(out, n.Text)
	}
	return out
}

func (h *harness) addNote(slug, text string) {
	h.t.Helper()
	resp, err := h.web.PostForm(h.previewURL(slug, "/notes"), url.Values{"text": {text}})
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("add note: %d %s", resp.StatusCode, b)
	}
}

// keepAwake holds a request to the notes app slug in flight (a note whose
// body has not all arrived) until release is called: an app serving a
// request does not go idle, however long the steps between take on a
// loaded machine (a launch of a few seconds' idle timeout slept between
// the steps of these tests). It returns once the runner counts the request
// (the launch's last request time passes the moment it was sent). The
// note ends empty, which the app refuses: release adds nothing.
func (h *harness) keepAwake(slug string) (release func()) {
	h.t.Helper()
	ctx := context.Background()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, h.previewURL(slug, "/notes"), pr)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sent := time.Now()
	answered := make(chan error, 1)
	go func() {
		resp, err := h.web.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				err = errors.New("the held note was answered " + resp.Status + ", want 400 (empty)")
			}
		}
		answered <- err
	}()
	// The client sends the headers with the first bytes of the body.
	go func() { _, _ = pw.Write([]byte("text=")) }()
	h.t.Cleanup(func() { pw.Close() }) // before the server's Close, which waits for it
	release = func() {
		h.t.Helper()
		pw.Close()
		select {
		case err := <-answered:
			if err != nil {
				h.t.Errorf("the request that kept %s awake: %v", slug, err)
			}
		case <-time.After(30 * time.Second):
			h.t.Errorf("the request that kept %s awake got no answer 30s after its body ended", slug)
		}
	}
	waitFor(h.t, 30*time.Second, "the runner to count the request that keeps "+slug+" awake", func() bool {
		ls, err := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: slug, Active: true})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, l := range ls {
			if l.Status == catalog.LaunchRunning && l.LastRequestAt != nil && l.LastRequestAt.After(sent) {
				return true
			}
		}
		return false
	})
	return release
}

// TestNotesKeepTheirNotesInTheirVolume: the notes example, which runs as an
// unprivileged user and declares storage: /data, keeps its notes in a
// volume of its own across sleep and wake, stop and launch, and a rebuild;
// volume ls reports it, volume rm is refused while the app runs and
// deletes the data once it is stopped; a removed app's volume goes back to
// the same repository added again and is refused to another one.
func TestNotesKeepTheirNotesInTheirVolume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{IdleTimeout: 3 * time.Second})
	ctx := context.Background()
	tag1, id1 := runnertest.ExampleImage(t, h.docker, "notes", "1")
	repoID := notesApp(t, h.st, h.docker, "notes", tag1, id1)
	get := func(slug string) (*http.Response, string) { return h.get(h.previewURL(slug, "/notes.json")) }

	l := h.launch("notes", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	h.addNote("notes", "first")
	if got := notesOf(t, get, "notes"); len(got) != 1 || got[0] != "first" {
		t.Fatalf("notes after adding one: %q", got)
	}

	// Sleep (idle) and wake by a request.
	slept := h.waitStatus(l.ID, catalog.LaunchStopped, 30*time.Second)
	if slept.StopReason != "idle" {
		t.Fatalf("stopped for %q, want idle", slept.StopReason)
	}
	if got := notesOf(t, get, "notes"); len(got) != 1 || got[0] != "first" {
		t.Errorf("notes after sleep and wake: %q", got)
	}

	// Stop and launch.
	// (The woken launch may have gone to sleep again meanwhile.)
	ls, err := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: "notes", Active: true})
	if err != nil || len(ls) > 1 {
		t.Fatalf("active launches after the wake: %v %+v", err, ls)
	}
	for _, a := range ls {
		if _, err := h.api.StopLaunch(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	h.launch("notes", appclient.LaunchRequest{TTL: "10m"})
	h.addNote("notes", "second")
	if got := notesOf(t, get, "notes"); len(got) != 2 || got[0] != "second" {
		t.Errorf("notes after stop and launch: %q", got)
	}

	// A rebuild: a new image of the app replaces the running launch.
	tag2, id2 := runnertest.ExampleImage(t, h.docker, "notes", "2")
	build2 := runnertest.AddBuild(t, h.st, repoID, tag2, id2)
	l2 := h.launch("notes", appclient.LaunchRequest{})
	if l2.Status != catalog.LaunchRunning || l2.BuildID == nil || *l2.BuildID != build2 {
		t.Fatalf("launch of the new build: %+v", l2)
	}
	waitFor(t, 30*time.Second, "the old launch replaced", func() bool {
		ls, _ := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: "notes", Active: true})
		return len(ls) == 0 || len(ls) == 1 && ls[0].ID == l2.ID
	})
	if got := notesOf(t, get, "notes"); len(got) != 2 || got[1] != "first" {
		t.Errorf("notes after a rebuild: %q", got)
	}

	// volume ls: one volume, in use (the app kept awake meanwhile), the
	// declared path and size, some bytes used.
	release := h.keepAwake("notes")
	vols, err := h.r.Volumes(ctx, "")
	if err != nil || len(vols) != 1 {
		t.Fatalf("volumes: %v %+v", err, vols)
	}
	v := vols[0]
	if v.Repository != "notes" || v.Path != "/data" || v.SizeLimitBytes != 64<<20 || !v.InUse || v.Orphaned || v.UsedBytes <= 0 || v.LastUsedAt == nil {
		t.Errorf("volume: %+v", v)
	}
	ins, err := h.docker.VolumeInspect(ctx, v.Name)
	if err != nil || ins.Labels[runner.LabelRepository] != "notes" || ins.Labels[runner.LabelCatalog] == "" || ins.Labels[runner.LabelManaged] != "true" {
		t.Errorf("volume labels: %v %+v", err, ins.Labels)
	}
	// Only this app's containers mount it.
	for _, c := range runnertest.Containers(t, h.docker, h.r.ID()) {
		for _, m := range c.Mounts {
			if m.Name == v.Name && c.Labels[runner.LabelRepository] != "notes" {
				t.Errorf("container of %s mounts the notes volume", c.Labels[runner.LabelRepository])
			}
		}
	}

	// volume rm is refused while the app runs, and loses nothing.
	var conflict *catalog.ConflictError
	if err := h.r.RemoveVolume(ctx, "notes"); !errors.As(err, &conflict) || !strings.Contains(conflict.Message, "appstore stop notes") {
		t.Fatalf("volume rm while running: %v", err)
	}
	if got := notesOf(t, get, "notes"); len(got) != 2 {
		t.Errorf("notes after a refused volume rm: %q", got)
	}
	release()

	// The app removed (without purge): its volume stays, orphaned; the same
	// repository added again gets it back.
	if _, err := h.r.StopRepository(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	if err := h.st.DeleteRepository(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	if vols, err := h.r.Volumes(ctx, "notes"); err != nil || len(vols) != 1 || !vols[0].Orphaned || vols[0].InUse {
		t.Fatalf("volume of a removed app: %v %+v", err, vols)
	}
	notesApp(t, h.st, h.docker, "notes", tag1, id1)
	h.launch("notes", appclient.LaunchRequest{})
	if got := notesOf(t, get, "notes"); len(got) != 2 {
		t.Errorf("notes of the same repository added again: %q", got)
	}
	if _, err := h.r.StopRepository(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	// Another repository under the same slug is refused the data.
	if _, err := h.st.Pool().Exec(ctx, `UPDATE repositories SET git_url_key = 'git.example.com/someone-else/notes' WHERE slug = 'notes'`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.StartLaunch(ctx, "notes", appclient.LaunchRequest{}); err == nil || !strings.Contains(err.Error(), "appstore volume rm notes") {
		t.Fatalf("launch of another repository over a kept volume: %v", err)
	}

	// Once stopped, volume rm deletes the data.
	if err := h.r.RemoveVolume(ctx, "notes"); err != nil {
		t.Fatalf("volume rm after stop: %v", err)
	}
	if _, err := h.docker.VolumeInspect(ctx, v.Name); err == nil {
		t.Errorf("volume %s still there after volume rm", v.Name)
	}
	if err := h.r.RemoveVolume(ctx, "notes"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("volume rm of no volume: %v", err)
	}
	h.launch("notes", appclient.LaunchRequest{})
	if got := notesOf(t, get, "notes"); len(got) != 0 {
		t.Errorf("notes after volume rm: %q", got)
	}
	if list, err := h.docker.VolumeList(ctx, volume.ListOptions{}); err == nil {
		n := 0
		for _, vv := range list.Volumes {
			if vv.Name == v.Name {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d volumes named %s after the launch, want a new one", n, v.Name)
		}
	}
}
