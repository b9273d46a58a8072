package builder_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	bkclient "github.com/moby/buildkit/client"
	dockerfile "github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/tonistiigi/fsutil"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// benchDockerfile has a RUN step, so that every build starts a container
// as real apps' builds do.
const benchDockerfile = "FROM scratch\nCOPY app /app\nCOPY static/ /static/\nRUN [\"/app\", \"hello\"]\nEXPOSE 8080\nENTRYPOINT [\"/app\"]\n"

// BenchmarkBuild measures, in one run and interleaved so that the
// engine's state is the same for each:
//
//   - pipeline: a build job enqueued on the in-process queue until the
//     image is recorded (claim, source from the cache, BuildKit solve with
//     the in-process Dockerfile frontend behind the guard, --no-cache, log
//     lines stored, outcome recorded);
//   - buildkit: a bare solve of the same Dockerfile and context by the same
//     BuildKit client (the frontend called directly, no guard, no
//     database), exported into the engine's image store likewise;
//   - cached: a rebuild of an already built commit, job to recorded.
//
// It reports pipeline/buildkit (target ≤ 1.05) and cached-ms (target
// ≤ 100), from the medians of the rounds.
func BenchmarkBuild(b *testing.B) {
	e := newEnv(b, builder.Options{Concurrency: 1})
	files := e.files(map[string]string{"Dockerfile": benchDockerfile, "README.md": "# bench\n"})
	for i := range 20 {
		files = append(files, gitserverFile("static/page"+strconv.Itoa(i)+".html", "<p>page "+strconv.Itoa(i)+"</p>\n"))
	}
	slug, repoID, repo := e.repo("bench", files)
	commit := repo.Head(b)
	pipeline := benchPipeline(b, e, slug)

	// Warm up: the clone into the source cache, the engine's first
	// container, the database connections.
	pipeline(true)
	src := filepath.Join(e.sourceDir, strconv.FormatInt(repoID, 10), commit)
	if _, err := os.Stat(src); err != nil {
		b.Fatalf("the source cache has no checkout of %s: %v", commit, err)
	}
	bk := builder.BuildKitClientForTest(e.ctx, e.w)
	if bk == nil {
		b.Fatal("the engine serves no BuildKit")
	}
	bare := func() time.Duration {
		b.Helper()
		return bareSolve(b, e, bk, src, "appstore-bench/"+slug+":bare")
	}
	bare()

	var pipes, bares, cached []time.Duration
	b.ResetTimer()
	for b.Loop() {
		for range 5 {
			pipes = append(pipes, pipeline(true))
			bares = append(bares, bare())
			cached = append(cached, pipeline(false))
		}
	}
	b.StopTimer()
	p, d, c := median(pipes), median(bares), median(cached)
	b.ReportMetric(float64(p.Nanoseconds()), "ns/op") // one pipeline build, not one round
	b.ReportMetric(float64(p.Milliseconds()), "pipeline-ms")
	b.ReportMetric(float64(d.Milliseconds()), "buildkit-ms")
	b.ReportMetric(float64(p)/float64(d), "pipeline/buildkit")
	b.ReportMetric(float64(c.Microseconds())/1000, "cached-ms")
	// Every pipeline and bare build opened one session (warm-ups
	// included); the cached rebuilds none.
	if n, want := e.engine.buildCount(), 2+len(pipes)+len(bares); n != want {
		b.Errorf("%d BuildKit sessions, want %d: the cached rebuilds built", n, want)
	}
}

// benchPipeline returns a function that builds slug through the job
// queue and returns the time from enqueueing to the recorded outcome.
func benchPipeline(b *testing.B, e *env, slug string) func(noCache bool) time.Duration {
	q := queue.NewInline(queue.Options{})
	done := make(chan int64, 1)
	q.Handle(queue.KindBuild, func(ctx context.Context, job queue.Job) error {
		err := e.w.Handle(ctx, job)
		done <- job.BuildID
		return err
	})
	if err := q.Start(e.ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Stop(context.Background()) })
	return func(noCache bool) time.Duration {
		b.Helper()
		start := time.Now()
		bl, created, err := e.st.CreateBuild(e.ctx, slug, noCache)
		if err != nil || !created {
			b.Fatalf("create build: %v (created %v)", err, created)
		}
		if err := q.Enqueue(e.ctx, queue.Job{Kind: queue.KindBuild, BuildID: bl.ID}); err != nil {
			b.Fatal(err)
		}
		if id := <-done; id != bl.ID {
			b.Fatalf("finished build %d, want %d", id, bl.ID)
		}
		took := time.Since(start)
		if got := e.get(bl.ID); got.Status != catalog.BuildSucceeded || got.Cached == noCache {
			b.Fatalf("build %d: %s cached %v: %s\n%s", bl.ID, got.Status, got.Cached, got.ErrorMessage, e.logText(bl.ID))
		}
		return took
	}
}

// bareSolve builds the Dockerfile in dir with BuildKit's Dockerfile
// frontend called directly, as `docker buildx build --no-cache` with the
// docker driver does, and returns how long it took.
func bareSolve(b *testing.B, e *env, c *bkclient.Client, dir, tag string) time.Duration {
	b.Helper()
	start := time.Now()
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		b.Fatal(err)
	}
	// The same files as the pipeline sends: the checkout less .git.
	fs, err = fsutil.NewFilterFS(fs, &fsutil.FilterOpt{ExcludePatterns: []string{".git"}})
	if err != nil {
		b.Fatal(err)
	}
	status := make(chan *bkclient.SolveStatus)
	go func() {
		for range status {
		}
	}()
	_, err = c.Build(e.ctx, bkclient.SolveOpt{
		Exports:     []bkclient.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": tag}}},
		LocalMounts: map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		FrontendAttrs: map[string]string{"filename": "Dockerfile", "no-cache": "", "image-resolve-mode": "local",
			"label:" + builder.LabelRepository: "bench", "label:" + builder.LabelBuild: "1"},
	}, "", dockerfile.Build, status)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.Cleanup(func() {
		_, _ = e.docker.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true})
	})
	return took
}

// twoStageDockerfile has two independent stages of one second each.
const twoStageDockerfile = "FROM scratch AS one\nCOPY app /app\nRUN [\"/app\", \"nap\", \"1s\", \"one\"]\n" +
	"FROM scratch AS two\nCOPY app /app\nRUN [\"/app\", \"nap\", \"1s\", \"two\"]\n" +
	"FROM scratch\nCOPY --from=one /app /one\nCOPY --from=two /app /two\nENTRYPOINT [\"/one\"]\n"

// BenchmarkIndependentStages builds a two-stage Dockerfile whose stages
// (one second of work each) do not depend on each other, through the
// pipeline with BuildKit and with the classic builder (an engine that
// refuses BuildKit), --no-cache, interleaved: BuildKit runs the stages
// at the same time, the classic builder one after the other.
func BenchmarkIndependentStages(b *testing.B) {
	bkEnv := newEnv(b, builder.Options{Concurrency: 1})
	counting := &countingEngine{}
	classicEnv := newEnv(b, builder.Options{Concurrency: 1, Engine: &refusingEngine{countingEngine: counting}})
	counting.Engine = classicEnv.docker
	bkSlug, _, _ := bkEnv.repo("stages", bkEnv.files(map[string]string{"Dockerfile": twoStageDockerfile}))
	classicSlug, _, _ := classicEnv.repo("stages", classicEnv.files(map[string]string{"Dockerfile": twoStageDockerfile}))
	bkBuild, classicBuild := benchPipeline(b, bkEnv, bkSlug), benchPipeline(b, classicEnv, classicSlug)
	bkBuild(true)
	classicBuild(true)
	var bks, classics []time.Duration
	b.ResetTimer()
	for b.Loop() {
		for range 3 {
			bks = append(bks, bkBuild(true))
			classics = append(classics, classicBuild(true))
		}
	}
	b.StopTimer()
	k, c := median(bks), median(classics)
	b.ReportMetric(float64(k.Nanoseconds()), "ns/op")
	b.ReportMetric(float64(k.Milliseconds()), "buildkit-ms")
	b.ReportMetric(float64(c.Milliseconds()), "classic-ms")
	b.ReportMetric(float64(c)/float64(k), "classic/buildkit")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
