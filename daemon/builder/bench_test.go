package builder_test

import (
	tartype "archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	archive "github.com/moby/go-archive"

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
//     image is recorded (claim, source from the cache, context archive,
//     engine build with --no-cache, log lines stored, outcome recorded);
//   - docker: the same context built directly on the engine, as
//     `docker build --no-cache` does (archive + ImageBuild + output);
//   - docker-labelled: the same, with the image labels appstore adds
//     (one LABEL instruction, the one step more a pipeline build runs);
//   - cached: a rebuild of an already built commit, job to recorded.
//
// It reports pipeline/docker (target ≤ 1.15), pipeline/docker-labelled
// (the pipeline's own overhead) and cached-ms (target ≤ 100), from the
// medians of the rounds.
func BenchmarkBuild(b *testing.B) {
	e := newEnv(b, builder.Options{Concurrency: 1})
	files := e.files(map[string]string{"Dockerfile": benchDockerfile, "README.md": "# bench\n"})
	for i := range 20 {
		files = append(files, gitserverFile("static/page"+strconv.Itoa(i)+".html", "<p>page "+strconv.Itoa(i)+"</p>\n"))
	}
	slug, repoID, repo := e.repo("bench", files)
	commit := repo.Head(b)

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

	pipeline := func(noCache bool) time.Duration {
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
			b.Fatalf("build %d: %s cached %v: %s", bl.ID, got.Status, got.Cached, got.ErrorMessage)
		}
		return took
	}
	// Warm up: the clone into the source cache, the engine's first
	// container, the database connections.
	pipeline(true)
	src := filepath.Join(e.sourceDir, strconv.FormatInt(repoID, 10), commit)
	if _, err := os.Stat(src); err != nil {
		b.Fatalf("the source cache has no checkout of %s: %v", commit, err)
	}
	direct := func(labelled bool) time.Duration {
		b.Helper()
		start := time.Now()
		var tar io.ReadCloser
		var err error
		tar, err = archive.TarWithOptions(src, &archive.TarOptions{ExcludePatterns: []string{".git"}})
		if err != nil {
			b.Fatal(err)
		}
		if labelled {
			tar = archive.ReplaceFileTarWrapper(tar, map[string]archive.TarModifierFunc{"Dockerfile": func(_ string, h *tartype.Header, r io.Reader) (*tartype.Header, []byte, error) {
				data, _ := io.ReadAll(r)
				data = append(data, []byte(benchLabels)...)
				h.Size = int64(len(data))
				return h, data, nil
			}})
		}
		defer tar.Close()
		resp, err := e.docker.ImageBuild(e.ctx, tar, dockerbuild.ImageBuildOptions{
			Tags: []string{"appstore-bench/" + slug + ":direct"}, Dockerfile: "Dockerfile", NoCache: true,
			Remove: true, ForceRemove: true, Version: dockerbuild.BuilderV1,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var m struct {
				Stream, Error string
			}
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			if m.Error != "" {
				b.Fatal(m.Error)
			}
		}
		return time.Since(start)
	}
	direct(false)
	b.Cleanup(func() {
		_, _ = e.docker.ImageRemove(context.Background(), "appstore-bench/"+slug+":direct", image.RemoveOptions{Force: true})
	})

	var pipes, directs, cached, labelled []time.Duration
	b.ResetTimer()
	for b.Loop() {
		for range 5 {
			pipes = append(pipes, pipeline(true))
			directs = append(directs, direct(false))
			labelled = append(labelled, direct(true))
			cached = append(cached, pipeline(false))
		}
	}
	b.StopTimer()
	p, d, c := median(pipes), median(directs), median(cached)
	b.ReportMetric(float64(p.Nanoseconds()), "ns/op") // one pipeline build, not one round
	b.ReportMetric(float64(p.Milliseconds()), "pipeline-ms")
	b.ReportMetric(float64(d.Milliseconds()), "docker-ms")
	b.ReportMetric(float64(p)/float64(d), "pipeline/docker")
	b.ReportMetric(float64(c.Microseconds())/1000, "cached-ms")
	b.ReportMetric(float64(p)/float64(median(labelled)), "pipeline/docker-labelled")
	if n := len(e.engine.buildCalls()); n != 1+len(pipes) {
		b.Errorf("%d engine builds for %d pipeline builds: the cached rebuilds built", n-1, len(pipes))
	}
}

// benchLabels is a LABEL instruction like the one the worker appends.
const benchLabels = "LABEL appstore.build=\"1\" appstore.catalog=\"0123456789abcdef0123456789abcdef\" appstore.commit=\"0123456789abcdef0123456789abcdef01234567\" appstore.repository=\"bench\"\n"

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
