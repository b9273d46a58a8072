package builder_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	dockerclient "github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// sleepDockerfile's RUN step sleeps for ten minutes.
const sleepDockerfile = "FROM scratch\nCOPY app token /\nRUN [\"/app\", \"sleep\"]\n"

const okDockerfile = "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"hello\"]\nENTRYPOINT [\"/app\"]\n"

func TestBuildSucceedsAndTheImageRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, _, repo := e.repo("hello", e.files(map[string]string{"Dockerfile": okDockerfile}))
	commit := repo.Head(t)

	b := e.buildOK(slug, false)
	if want := "appstore/" + slug + ":" + commit[:12]; b.ImageTag != want {
		t.Errorf("image tag %q, want %q", b.ImageTag, want)
	}
	if !strings.HasPrefix(b.ImageID, "sha256:") || b.Cached || b.StartedAt == nil || b.CompletedAt == nil ||
		b.DurationMS == nil || b.CacheKey == "" || b.Attempts != 1 || b.LogBytes == 0 {
		t.Errorf("succeeded build lacks its record: %+v", b)
	}
	if b.Builder != builder.BuilderBuildKit {
		t.Errorf("builder %q, want buildkit", b.Builder)
	}
	log := e.logText(b.ID)
	// Plain progress as docker buildx build --progress=plain prints it.
	for _, want := range []string{"] COPY app /app\n", "] RUN [\"/app\", \"hello\"]\n", "hello from a build step\n", " DONE ",
		"Build succeeded: " + b.ImageTag} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if first := e.logLines(b.ID)[0]; !strings.HasPrefix(first, "Building "+slug+" at "+commit[:12]+" with BuildKit of Docker engine ") {
		t.Errorf("the log's first line does not say which builder ran: %q", first)
	}
	if got, want := e.events(b.ID), []string{"build.queued", "build.started", "build.succeeded"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	img, err := e.docker.ImageInspect(e.ctx, b.ImageTag)
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != b.ImageID {
		t.Errorf("tag names %s, build recorded %s", img.ID, b.ImageID)
	}
	labels := img.Config.Labels
	if labels[builder.LabelRepository] != slug || labels[builder.LabelCommit] != commit || labels[builder.LabelBuild] != itoa(b.ID) {
		t.Errorf("labels %v", labels)
	}

	// The image runs: its entry point prints its greeting.
	if out := runImage(t, e, b.ImageTag); out != "hello from the image\n" {
		t.Errorf("container printed %q", out)
	}
}

// runImage runs the image's entry point without network and returns what
// it printed.
func runImage(t testing.TB, e *env, ref string) string {
	t.Helper()
	c, err := e.docker.ContainerCreate(e.ctx, &container.Config{Image: ref},
		&container.HostConfig{NetworkMode: "none", AutoRemove: false}, &network.NetworkingConfig{}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.docker.ContainerRemove(e.ctx, c.ID, container.RemoveOptions{Force: true}) //nolint:errcheck
	if err := e.docker.ContainerStart(e.ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := e.docker.ContainerWait(e.ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case res := <-waitC:
		if res.StatusCode != 0 {
			t.Errorf("container exited with %d", res.StatusCode)
		}
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("container did not exit")
	}
	logs, err := e.docker.ContainerLogs(e.ctx, c.ID, container.LogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var buf bytes.Buffer
	// Non-TTY logs are multiplexed: 8-byte headers, then the payload.
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(logs, hdr[:]); err != nil {
			break
		}
		n := int64(hdr[4])<<24 | int64(hdr[5])<<16 | int64(hdr[6])<<8 | int64(hdr[7])
		if _, err := io.CopyN(&buf, logs, n); err != nil {
			break
		}
	}
	return buf.String()
}

func TestCachedRebuildDoesNotCallTheEngineBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, _, _ := e.repo("cached", e.files(map[string]string{"Dockerfile": okDockerfile}))
	first := e.buildOK(slug, false)
	if n := e.engine.buildCount(); n != 1 {
		t.Fatalf("first build: %d engine builds, want 1", n)
	}

	second := e.buildOK(slug, false)
	if n := e.engine.buildCount(); n != 1 {
		t.Fatalf("cached rebuild called the engine's build (%d calls)", n)
	}
	if !second.Cached || second.ImageID != first.ImageID || second.ImageTag != first.ImageTag || second.CacheKey != first.CacheKey {
		t.Errorf("rebuild %+v, want cached with the image of %+v", second, first)
	}
	if log := e.logText(second.ID); !strings.Contains(log, "build #"+itoa(first.ID)) || !strings.Contains(log, "--no-cache") {
		t.Errorf("cached build log does not say where the image came from:\n%s", log)
	}
	if got, want := e.events(second.ID), []string{"build.queued", "build.started", "build.succeeded"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	// --no-cache builds for real, without the engine's build cache:
	// no step is CACHED.
	third := e.buildOK(slug, true)
	if n := e.engine.buildCount(); n != 2 || third.Cached {
		t.Errorf("no-cache build: %d engine builds, cached %v", n, third.Cached)
	}
	if log := e.logText(third.ID); strings.Contains(log, " CACHED") || !strings.Contains(log, "without the build cache (--no-cache)") {
		t.Errorf("no-cache build used the build cache:\n%s", log)
	}
	if third.ImageID == first.ImageID {
		t.Errorf("no-cache build reused image %s", first.ImageID)
	}

	// An image gone from the engine is built again.
	if _, err := e.docker.ImageRemove(e.ctx, third.ImageID, imageRemoveForce); err != nil {
		t.Fatal(err)
	}
	// The third build's worker removes the image it replaced (the first)
	// off the build's path, so it may be gone already or go while the
	// engine deletes it here ("unrecognized image ID").
	if _, err := e.docker.ImageRemove(e.ctx, first.ImageID, imageRemoveForce); err != nil && !dockerclient.IsErrNotFound(err) && !strings.Contains(err.Error(), "unrecognized image ID") {
		t.Fatal(err)
	}
	fourth := e.buildOK(slug, false)
	if fourth.Cached || e.engine.buildCount() != 3 {
		t.Errorf("rebuild after the image was removed: cached %v, %d engine builds", fourth.Cached, e.engine.buildCount())
	}
	// BuildKit's cache still has the steps of the first two builds.
	if log := e.logText(fourth.ID); !strings.Contains(log, " CACHED") {
		t.Errorf("the rebuild did not reuse the build cache:\n%s", log)
	}
	if log := e.logText(fourth.ID); !strings.Contains(log, "gone from the engine") {
		t.Errorf("log does not say why it rebuilt:\n%s", log)
	}
}

func TestDockerfileSyntaxError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, _, _ := e.repo("syntax", e.files(map[string]string{"Dockerfile": "FROM scratch\nCOPPY app /app\n"}))
	id := e.queueBuild(slug, false)
	if err := e.handle(id); err != nil {
		t.Fatalf("a Dockerfile error is the build's failure, not the job's: %v", err)
	}
	b := e.get(id)
	if b.Status != catalog.BuildFailed {
		t.Fatalf("status %s", b.Status)
	}
	for _, want := range []string{"Dockerfile has a syntax error: line 2: unknown instruction: COPPY"} {
		if !strings.Contains(b.ErrorMessage, want) {
			t.Errorf("error %q lacks %q", b.ErrorMessage, want)
		}
	}
	if got, want := e.events(id), []string{"build.queued", "build.started", "build.failed"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if log := e.logText(id); !strings.Contains(log, "Build failed: Dockerfile has a syntax error") {
		t.Errorf("log does not end with the failure:\n%s", log)
	}
}

func TestFailingRunStepNamesTheStepAndItsOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	dockerfile := "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"hello\"]\nRUN [\"/app\", \"fail\"]\nENTRYPOINT [\"/app\"]\n"
	slug, _, _ := e.repo("failing", e.files(map[string]string{"Dockerfile": dockerfile}))
	id := e.queueBuild(slug, false)
	if err := e.handle(id); err != nil {
		t.Fatal(err)
	}
	b := e.get(id)
	if b.Status != catalog.BuildFailed || b.ImageID != "" {
		t.Fatalf("status %s image %q", b.Status, b.ImageID)
	}
	first, rest, _ := strings.Cut(b.ErrorMessage, "\n")
	if first != `[3/3] RUN ["/app", "fail"] (Dockerfile line 4): exit code 1` {
		t.Errorf("first line of the error %q does not name the step and exit code", first)
	}
	if !strings.Contains(rest, "about to fail") || !strings.Contains(rest, "something went wrong in the fail step") {
		t.Errorf("error lacks the tail of the step's output: %q", rest)
	}
	if strings.Contains(rest, "hello from a build step") {
		t.Errorf("error carries output of an earlier step: %q", rest)
	}
	// The engine colours a step's stderr (ESC[91m … ESC[0m); neither the
	// error nor the stored log may carry those bytes.
	if strings.ContainsRune(b.ErrorMessage, 0x1b) {
		t.Errorf("error carries terminal escapes: %q", b.ErrorMessage)
	}
	if log := e.logText(id); strings.ContainsRune(log, 0x1b) || !strings.Contains(log, " something went wrong in the fail step\n") {
		t.Errorf("log carries terminal escapes or lacks the step's stderr line:\n%q", log)
	}
}

func TestDockerignoreExcludesFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	files := e.files(map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY . /ctx/\nENTRYPOINT [\"/ctx/app\"]\n",
		".dockerignore": "# secrets stay home\nsecret.txt\n*.log\nDockerfile\n",
		"secret.txt":    "do not ship",
		"debug.log":     "noise",
		"keep.txt":      "ship me",
		"sub/inner.txt": "nested",
	})
	slug, _, _ := e.repo("ignore", files)
	b := e.buildOK(slug, false)

	c, err := e.docker.ContainerCreate(e.ctx, &container.Config{Image: b.ImageTag}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.docker.ContainerRemove(e.ctx, c.ID, container.RemoveOptions{Force: true}) //nolint:errcheck
	rc, _, err := e.docker.CopyFromContainer(e.ctx, c.ID, "/ctx")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.TrimSuffix(h.Name, "/"))
	}
	for _, want := range []string{"ctx/app", "ctx/keep.txt", "ctx/sub/inner.txt"} {
		if !slices.Contains(names, want) {
			t.Errorf("image lacks %s: %v", want, names)
		}
	}
	// .git is the clone's, not the app's; Dockerfile is ignored by
	// .dockerignore, yet the engine got it to build from.
	for _, unwanted := range []string{"ctx/secret.txt", "ctx/debug.log", "ctx/.git", "ctx/Dockerfile"} {
		if slices.Contains(names, unwanted) {
			t.Errorf("image holds %s, which .dockerignore excludes: %v", unwanted, names)
		}
	}
	if log := e.logText(b.ID); !strings.Contains(log, "Applying .dockerignore (3 patterns)") {
		t.Errorf("log does not mention .dockerignore:\n%s", log)
	}
}

func TestCancelRunningBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	// A token of its own: BuildKit runs one step for every build that
	// has the same step at the same time (TestBuildTimeout's), and only
	// the first sees its output.
	slug, _, _ := e.repo("cancel", e.files(map[string]string{"Dockerfile": sleepDockerfile, "token": randomToken(t)}))
	id := e.queueBuild(slug, false)
	done := make(chan error, 1)
	go func() { done <- e.handle(id) }()
	waitFor(t, "the sleep step to start", time.Minute, func() bool { return strings.Contains(e.logText(id), "sleeping") })
	if b := e.get(id); b.Status != catalog.BuildRunning {
		t.Fatalf("status %s while sleeping", b.Status)
	}

	// The request goes through the store only, as from another process:
	// the worker notices it at its next lease renewal.
	requested := time.Now()
	b, err := e.st.RequestBuildCancel(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !b.CancelRequested || b.Status != catalog.BuildRunning {
		t.Errorf("after the request: %+v", b)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		// The step sleeps ten minutes: ended within the minute, the
		// build was stopped by the request.
		t.Fatalf("the build did not stop within a minute of the request (%s)", time.Since(requested))
	}
	b = e.get(id)
	if b.Status != catalog.BuildCancelled || !strings.Contains(b.ErrorMessage, "cancelled by request") || b.CompletedAt == nil {
		t.Errorf("cancelled build: %+v", b)
	}
	if got, want := e.events(id), []string{"build.queued", "build.started", "build.cancel_requested", "build.cancelled"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if _, err := e.st.RequestBuildCancel(e.ctx, id); !errors.Is(err, catalog.ErrConflict) {
		t.Errorf("cancelling an ended build: %v, want a conflict", err)
	}
}

func TestCancelQueuedBuildNeverStarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, _, _ := e.repo("queued-cancel", e.files(map[string]string{"Dockerfile": okDockerfile}))
	id := e.queueBuild(slug, false)
	b, err := e.st.RequestBuildCancel(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != catalog.BuildCancelled {
		t.Fatalf("queued build after cancel: %s", b.Status)
	}
	if err := e.handle(id); err != nil {
		t.Fatal(err)
	}
	if n := e.engine.buildCount(); n != 0 || e.get(id).StartedAt != nil {
		t.Errorf("a cancelled queued build started (%d engine builds)", n)
	}
	if got, want := e.events(id), []string{"build.queued", "build.cancelled"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestBuildTimeout(t *testing.T) {
	t.Parallel()
	// The checkout is handed over (as ingestion does), so that the short
	// timeout runs out in the engine's build, not in a clone.
	var kept string
	// 8 s: on a loaded 2-core CI machine the steps before RUN alone have
	// taken over 3 s, and the test wants the timeout to hit the RUN step.
	e := newEnv(t, builder.Options{Timeout: 8 * time.Second, LocalCheckout: func(int64, string) (string, func(), bool) {
		return kept, func() {}, kept != ""
	}})
	slug, _, repo := e.repo("slow", e.files(map[string]string{"Dockerfile": sleepDockerfile, "token": randomToken(t)}))
	kept = filepath.Join(t.TempDir(), "checkout")
	repo.Git(t, "clone", "-q", "--depth", "1", "file://"+repo.Dir, kept)
	id := e.queueBuild(slug, false)
	start := time.Now()
	if err := e.handle(id); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("an 8s timeout took %s", took)
	}
	b := e.get(id)
	if b.Status != catalog.BuildFailed || !strings.HasPrefix(b.ErrorMessage, "timed out after 8s") {
		t.Errorf("timed-out build: status %s, error %q", b.Status, b.ErrorMessage)
	}
	if log := e.logText(id); !strings.Contains(log, "sleeping") || !strings.Contains(log, "Build failed: timed out after 8s") {
		t.Errorf("log:\n%s", log)
	}
}

func TestLogCapMarksTruncation(t *testing.T) {
	t.Parallel()
	const limit = 8 << 10
	e := newEnv(t, builder.Options{LogLimit: limit})
	slug, _, _ := e.repo("chatty", e.files(map[string]string{"Dockerfile": "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"spam\", \"5000\"]\n"}))
	b := e.buildOK(slug, false)
	lines := e.logLines(b.ID)
	if !b.LogTruncated || b.LogBytes > limit || b.LogBytes < limit-200 {
		t.Errorf("log_bytes %d, truncated %v; want close to %d and truncated", b.LogBytes, b.LogTruncated, limit)
	}
	if last := lines[len(lines)-1]; last != "[log truncated at 8 KiB]" {
		t.Errorf("last line %q, want the truncation marker", last)
	}
	var stored int64
	for _, l := range lines[:len(lines)-1] {
		stored += int64(len(l)) + 1
	}
	if stored != b.LogBytes {
		t.Errorf("lines hold %d bytes, log_bytes says %d", stored, b.LogBytes)
	}
}

func TestUnreachableEngine(t *testing.T) {
	t.Parallel()
	docker, err := dockerclient.NewClientWithOpts(dockerclient.WithHost("unix:///nonexistent/docker.sock"), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	// Each try waits a moment for the engine before giving the job back.
	e := newEnv(t, builder.Options{Engine: docker, EngineWait: 300 * time.Millisecond})
	slug, _, _ := e.repo("nodocker", e.files(map[string]string{"Dockerfile": okDockerfile}))
	id := e.queueBuild(slug, false)

	// Not the last attempt: the job fails, the build waits queued.
	err = e.w.Handle(e.ctx, queue.Job{Kind: queue.KindBuild, BuildID: id, Attempt: 1, MaxAttempts: 2})
	want := "Docker engine not reachable at unix:///nonexistent/docker.sock: start dockerd or set DOCKER_HOST"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v, want %q", err, want)
	}
	if b := e.get(id); b.Status != catalog.BuildQueued {
		t.Fatalf("status %s after a failed attempt, want queued", b.Status)
	}
	// The last attempt records the failure.
	if err := e.w.Handle(e.ctx, queue.Job{Kind: queue.KindBuild, BuildID: id, Attempt: 2, MaxAttempts: 2}); err != nil {
		t.Fatal(err)
	}
	if b := e.get(id); b.Status != catalog.BuildFailed || !strings.HasPrefix(b.ErrorMessage, want) {
		t.Errorf("status %s error %q", b.Status, b.ErrorMessage)
	}
}

func TestCommitGoneFromRemote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, repoID, repo := e.repo("moved", e.files(map[string]string{"Dockerfile": okDockerfile}))
	old := repo.Head(t)
	repo.Commit(t, map[string]string{"README.md": "a newer commit\n"}, "newer")
	e.ingested(repoID, old, "Dockerfile", ".")
	id := e.queueBuild(slug, false)
	if err := e.handle(id); err != nil {
		t.Fatal(err)
	}
	b := e.get(id)
	if b.Status != catalog.BuildFailed || !strings.Contains(b.ErrorMessage, "commit "+old[:12]+" is no longer the tip of the remote's default branch") ||
		!strings.Contains(b.ErrorMessage, "refresh "+slug) {
		t.Errorf("status %s error %q", b.Status, b.ErrorMessage)
	}
	if n := e.engine.buildCount(); n != 0 {
		t.Errorf("%d engine builds of a commit that is gone", n)
	}
}

func TestDockerfileAndContextInSubdirectories(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	files := e.files(map[string]string{
		// The Dockerfile lies outside the context: it is sent under a
		// name of its own, as the docker CLI does.
		"deploy/Dockerfile":     "FROM scratch\nCOPY app /app\nCOPY hello.txt /\nENTRYPOINT [\"/app\"]\n",
		"service/hello.txt":     "hi\n",
		"service/.dockerignore": "nothing.txt\n",
	})
	files[0].Name = "service/app"
	slug, repoID, repo := e.repo("subdirs", files)
	e.ingested(repoID, repo.Head(t), "deploy/Dockerfile", "service")
	b := e.buildOK(slug, false)
	if out := runImage(t, e, b.ImageTag); out != "hello from the image\n" {
		t.Errorf("container printed %q", out)
	}
}

func TestSymlinkedContextLeavingTheRepositoryIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	files := e.files(map[string]string{"Dockerfile": okDockerfile})
	files = append(files, gitserverSymlink("ctx", "/etc"))
	slug, repoID, repo := e.repo("escape", files)
	e.ingested(repoID, repo.Head(t), "Dockerfile", "ctx")
	id := e.queueBuild(slug, false)
	if err := e.handle(id); err != nil {
		t.Fatal(err)
	}
	b := e.get(id)
	if b.Status != catalog.BuildFailed || !strings.Contains(b.ErrorMessage, "leads outside the repository") {
		t.Errorf("status %s error %q", b.Status, b.ErrorMessage)
	}
	if n := e.engine.buildCount(); n != 0 {
		t.Errorf("%d engine builds with a context outside the repository", n)
	}
}

func TestReconcilerRequeuesAndFailsBuildsOfDeadWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{MaxAttempts: 2})
	slug, _, _ := e.repo("crashed", e.files(map[string]string{"Dockerfile": okDockerfile}))
	id := e.queueBuild(slug, false)

	// A worker claims the build and dies: its lease runs out.
	crash := func() {
		t.Helper()
		if _, claimed, err := e.st.ClaimBuild(e.ctx, id, "dead-worker", 50*time.Millisecond); err != nil || !claimed {
			t.Fatalf("claim: %v %v", claimed, err)
		}
	}
	crash()
	waitFor(t, "the reconciler to put the build back", 10*time.Second, func() bool {
		if err := e.w.Reconcile(e.ctx); err != nil {
			t.Fatal(err)
		}
		return e.get(id).Status == catalog.BuildQueued
	})
	if jobs := e.queue.Jobs(); !slices.Contains(jobs, queue.Job{Kind: queue.KindBuild, BuildID: id}) {
		t.Errorf("the requeued build was not enqueued: %v", jobs)
	}
	if got := e.events(id); !slices.Equal(got, []string{"build.queued", "build.started", "build.requeued"}) {
		t.Errorf("events %v", got)
	}

	// Its second start crashes too: that was the last attempt.
	crash()
	waitFor(t, "the reconciler to fail the build", 10*time.Second, func() bool {
		if err := e.w.Reconcile(e.ctx); err != nil {
			t.Fatal(err)
		}
		return e.get(id).Status == catalog.BuildFailed
	})
	if b := e.get(id); !strings.Contains(b.ErrorMessage, "interrupted 2 times") || b.Attempts != 2 {
		t.Errorf("failed build: %+v", b)
	}

	// A build that another worker is running (lease alive) is left alone.
	id2 := e.queueBuild(slug, false)
	if _, _, err := e.st.ClaimBuild(e.ctx, id2, "live-worker", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	if b := e.get(id2); b.Status != catalog.BuildRunning {
		t.Errorf("a build with a live lease: %s", b.Status)
	}
	// Handling its job again does nothing either.
	if err := e.handle(id2); err != nil || e.engine.buildCount() != 0 {
		t.Errorf("a running build was built again: %v, %d engine builds", err, e.engine.buildCount())
	}
}

func TestPruneKeepsTheNewestImagesAndThoseOfActiveLaunches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{KeepImages: 1, PruneGrace: -1})
	slug, repoID, repo := e.repo("pruned", e.files(map[string]string{"Dockerfile": okDockerfile}))
	var builds []*catalog.Build
	for i := range 3 {
		if i > 0 {
			e.ingested(repoID, repo.Commit(t, map[string]string{"version.txt": itoa(int64(i))}, "next"), "Dockerfile", ".")
		}
		builds = append(builds, e.buildOK(slug, false))
	}
	// The oldest image serves a running launch.
	if _, err := e.st.Pool().Exec(e.ctx, `INSERT INTO launches (repository_id, build_id, status) VALUES ($1, $2, 'running')`,
		repoID, builds[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Prune(e.ctx); err != nil {
		t.Fatal(err)
	}
	exists := func(b *catalog.Build) bool {
		_, err := e.docker.ImageInspect(e.ctx, b.ImageID)
		if err != nil && !dockerclient.IsErrNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	if !exists(builds[0]) || exists(builds[1]) || !exists(builds[2]) {
		t.Errorf("after pruning: in use %v, superseded %v, newest %v; want true, false, true",
			exists(builds[0]), exists(builds[1]), exists(builds[2]))
	}
	// Pruning again changes nothing.
	if err := e.w.Prune(e.ctx); err != nil || !exists(builds[0]) || !exists(builds[2]) {
		t.Errorf("second prune: %v", err)
	}
}

func TestBuildAdoptsTheCheckoutIngestionKept(t *testing.T) {
	t.Parallel()
	var kept string
	var released bool
	e := newEnv(t, builder.Options{LocalCheckout: func(repoID int64, commit string) (string, func(), bool) {
		if kept == "" {
			return "", nil, false
		}
		dir := kept
		kept = ""
		return dir, func() { released = true }, true
	}})
	slug, _, repo := e.repo("kept", e.files(map[string]string{"Dockerfile": okDockerfile}))
	kept = filepath.Join(t.TempDir(), "checkout")
	repo.Git(t, "clone", "-q", "--depth", "1", "file://"+repo.Dir, kept)

	b := e.buildOK(slug, false)
	log := e.logText(b.ID)
	if !strings.Contains(log, "that ingestion kept") || strings.Contains(log, "Cloning") || !released {
		t.Errorf("the kept checkout was not used (released %v):\n%s", released, log)
	}
	// It is in the source cache now: a rebuild neither clones nor asks.
	b = e.buildOK(slug, true)
	if log := e.logText(b.ID); !strings.Contains(log, "Using the cached checkout") || strings.Contains(log, "Cloning") {
		t.Errorf("rebuild:\n%s", log)
	}
}
