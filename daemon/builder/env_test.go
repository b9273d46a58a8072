package builder_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/daemon/queue/queuetest"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// appSource is the program the test images run, built static for FROM
// scratch. Its first argument says what a RUN step of a test Dockerfile
// does.
const appSource = `package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("hello from the image")
		return
	}
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello from a build step")
	case "fail":
		fmt.Println("about to fail")
		fmt.Fprintln(os.Stderr, "something went wrong in the fail step")
		os.Exit(1)
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(10 * time.Minute)
	case "nap":
		d, _ := time.ParseDuration(os.Args[2])
		time.Sleep(d)
	case "spam":
		n, _ := strconv.Atoi(os.Args[2])
		for i := 0; i < n; i++ {
			fmt.Printf("spam line %d: padding to make the line longer than a few bytes\n", i)
		}
	}
}
`

// countingEngine counts the engine calls the worker makes, so that tests
// can tell a cache hit (no build) from a build: a classic build is an
// ImageBuild, a BuildKit build opens a session.
type countingEngine struct {
	builder.Engine
	mu       sync.Mutex
	builds   []dockerbuild.ImageBuildOptions
	sessions int
	inspects int
}

func (c *countingEngine) DialHijack(ctx context.Context, url, proto string, meta map[string][]string) (net.Conn, error) {
	if url == "/session" {
		c.mu.Lock()
		c.sessions++
		c.mu.Unlock()
	}
	return c.Engine.DialHijack(ctx, url, proto, meta)
}

// buildCount is how many builds reached the engine, on either builder.
func (c *countingEngine) buildCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.builds) + c.sessions
}

func (c *countingEngine) ImageBuild(ctx context.Context, r io.Reader, o dockerbuild.ImageBuildOptions) (dockerbuild.ImageBuildResponse, error) {
	c.mu.Lock()
	c.builds = append(c.builds, o)
	c.mu.Unlock()
	return c.Engine.ImageBuild(ctx, r, o)
}

func (c *countingEngine) ImageInspect(ctx context.Context, id string, opts ...dockerclient.ImageInspectOption) (image.InspectResponse, error) {
	c.mu.Lock()
	c.inspects++
	c.mu.Unlock()
	return c.Engine.ImageInspect(ctx, id, opts...)
}

func (c *countingEngine) buildCalls() []dockerbuild.ImageBuildOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]dockerbuild.ImageBuildOptions(nil), c.builds...)
}

// env is a worker on a fresh catalog and the real Docker engine.
type env struct {
	t      testing.TB
	ctx    context.Context
	st     *store.Store
	docker *dockerclient.Client
	engine *countingEngine
	queue  *queuetest.Recorder
	w      *builder.Worker
	app    []byte // the static test program

	sourceDir string // the worker's checkout cache
	catalogID string
}

func newEnv(t testing.TB, opts builder.Options) *env {
	t.Helper()
	testenv.Docker(t)
	gitserver.RequireGit(t)
	ctx := context.Background()
	st := storetest.New(t)
	docker, err := builder.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker.Close() })
	e := &env{t: t, ctx: ctx, st: st, docker: docker, engine: &countingEngine{Engine: docker}, queue: &queuetest.Recorder{}}
	app, err := os.ReadFile(testenv.StaticBinary(t, appSource))
	if err != nil {
		t.Fatal(err)
	}
	e.app = app
	opts.Store, opts.Queue = st, e.queue
	if opts.AppConfig != nil {
		opts.AppConfig.Store = st
	}
	if opts.Engine == nil {
		opts.Engine = e.engine
	}
	opts.SourceDir = t.TempDir()
	e.sourceDir = opts.SourceDir
	opts.GitPolicy = giturl.Policy{AllowLocal: true, AllowPrivate: true}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
		if testing.Verbose() {
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	w, err := builder.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	catalogID, err := st.CatalogID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.catalogID = catalogID
	// The engine is shared by every test: testenv.Postgres removes this
	// catalog's images when the test ends.
	return e
}

// files returns the repository files of a test app: the static program
// as "app" and the given files.
func (e *env) files(extra map[string]string) []gitserver.File {
	fs := []gitserver.File{{Name: "app", Content: string(e.app), Mode: 0o755}}
	for name, content := range extra {
		fs = append(fs, gitserver.File{Name: name, Content: content})
	}
	return fs
}

// repo registers a Git repository holding files as an ingested
// repository (as ingestion leaves it: ready, with commit, Dockerfile and
// context) and returns its slug, id and repository.
func (e *env) repo(name string, files []gitserver.File) (string, int64, *gitserver.Repo) {
	e.t.Helper()
	r := gitserver.NewRepoFiles(e.t, name, files)
	repo, err := e.st.CreateRepository(e.ctx, store.NewRepository{GitURL: r.FileURL(), GitURLKey: "local" + r.Dir, Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	e.ingested(repo.ID, r.Head(e.t), "Dockerfile", ".")
	return repo.Slug, repo.ID, r
}

// ingested records what an ingestion of commit would.
func (e *env) ingested(repoID int64, commit, dockerfile, contextPath string) {
	e.t.Helper()
	_, err := e.st.Pool().Exec(e.ctx, `UPDATE repositories SET ingest_status = 'ready', last_commit_sha = $2,
		dockerfile_path = $3, context_path = $4 WHERE id = $1`, repoID, commit, dockerfile, contextPath)
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) queueBuild(slug string, noCache bool) int64 {
	e.t.Helper()
	b, created, err := e.st.CreateBuild(e.ctx, slug, noCache)
	if err != nil {
		e.t.Fatal(err)
	}
	if !created {
		e.t.Fatalf("CreateBuild(%s) returned the existing build %d", slug, b.ID)
	}
	return b.ID
}

// handle runs the build job as the queue would deliver it.
func (e *env) handle(id int64) error {
	return e.w.Handle(e.ctx, queue.Job{Kind: queue.KindBuild, BuildID: id, Attempt: 1, MaxAttempts: 5})
}

// buildOK queues and runs a build of slug and requires it to succeed.
func (e *env) buildOK(slug string, noCache bool) *catalog.Build {
	e.t.Helper()
	id := e.queueBuild(slug, noCache)
	if err := e.handle(id); err != nil {
		e.t.Fatalf("handle build %d: %v", id, err)
	}
	b := e.get(id)
	if b.Status != catalog.BuildSucceeded {
		e.t.Fatalf("build %d: status %s, error %q\nlog:\n%s", id, b.Status, b.ErrorMessage, e.logText(id))
	}
	return b
}

func (e *env) get(id int64) *catalog.Build {
	e.t.Helper()
	b, err := e.st.Build(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) logLines(id int64) []string {
	e.t.Helper()
	lines, err := e.st.BuildLogs(e.ctx, id, 0, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Line
	}
	return out
}

func (e *env) logText(id int64) string { return strings.Join(e.logLines(id), "\n") }

// events returns the types of the build's events, in order.
func (e *env) events(id int64) []string {
	e.t.Helper()
	evs, err := e.st.Events(e.ctx, store.EventFilter{Topics: []string{"build"}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		var data struct {
			BuildID int64 `json:"build_id"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			e.t.Fatalf("event %d: %v", ev.ID, err)
		}
		if data.BuildID == id {
			out = append(out, ev.Type)
		}
	}
	return out
}

// waitFor polls cond every 20ms until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var imageRemoveForce = image.RemoveOptions{Force: true}

func gitserverSymlink(name, target string) gitserver.File {
	return gitserver.File{Name: name, Content: target, Mode: fs.ModeSymlink}
}

func gitserverFile(name, content string) gitserver.File {
	return gitserver.File{Name: name, Content: content}
}
