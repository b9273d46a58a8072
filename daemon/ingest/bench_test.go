package ingest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/ingest"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// benchRepos is how many repositories are registered at once.
const benchRepos = 50

// BenchmarkIngest50 registers 50 repositories at once and measures the
// whole pipeline until every one is ready: the store's registration, the
// in-process queue at its default ingest concurrency, claim, go-git
// clone, metadata extraction, the success transaction with its build
// record. The baseline is `git clone --depth 1` of the same 50
// repositories over the same smart HTTP server at the same concurrency.
// It reports both wall times per round and their ratio (pipeline / git;
// issue 3's target is ≤ 1.5). Rounds alternate which goes first.
func BenchmarkIngest50(b *testing.B) {
	gitserver.RequireGit(b)
	conc := queue.DefaultConcurrency[queue.KindIngest]
	var repos []*gitserver.Repo
	for i := range benchRepos {
		repos = append(repos, gitserver.NewNamedRepo(b, fmt.Sprintf("app%02d", i), benchApp(i)))
	}
	srv := gitserver.HTTP(b, repos...)
	var urls []string
	for _, r := range repos {
		urls = append(urls, srv.URL(r))
	}

	st := storetest.New(b)
	q := queue.NewInline(queue.Options{Logger: slog.New(slog.DiscardHandler)})
	w, err := ingest.New(ingest.Config{
		Store: st, Queue: q, DataDir: b.TempDir(),
		Policy: giturl.Policy{AllowLocal: true, AllowPrivate: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var done chan int64
	q.Handle(queue.KindIngest, func(ctx context.Context, job queue.Job) error {
		err := w.HandleIngest(ctx, job)
		mu.Lock()
		ch := done
		mu.Unlock()
		ch <- job.RepositoryID
		return err
	})
	q.Handle(queue.KindBuild, func(context.Context, queue.Job) error { return nil })
	if err := q.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Stop(context.Background()) })
	ingester := ingest.Ingester{Queue: q}
	ctx := context.Background()

	pipeline := func() time.Duration {
		mu.Lock()
		done = make(chan int64, benchRepos)
		mu.Unlock()
		start := time.Now()
		var g errgroup.Group
		for _, raw := range urls {
			g.Go(func() error {
				u, err := giturl.Parse(raw)
				if err != nil {
					return err
				}
				r, err := st.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: u.Name()})
				if err != nil {
					return err
				}
				return ingester.EnqueueIngest(ctx, r.ID)
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		for range benchRepos {
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				b.Fatal("ingestion did not finish in 2 minutes")
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		var ready int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM repositories WHERE ingest_status = 'ready'`).Scan(&ready); err != nil || ready != benchRepos {
			b.Fatalf("%d of %d ready (%v)", ready, benchRepos, err)
		}
		// The next round registers them again.
		if _, err := st.Pool().Exec(ctx, `DELETE FROM repositories`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		return elapsed
	}
	gitCLI := func() time.Duration {
		root, err := os.MkdirTemp(b.TempDir(), "cli")
		if err != nil {
			b.Fatal(err)
		}
		var g errgroup.Group
		g.SetLimit(conc)
		start := time.Now()
		for i, url := range urls {
			g.Go(func() error {
				cmd := exec.Command("git", "clone", "-q", "--depth", "1", "--single-branch", "--no-tags", url, filepath.Join(root, fmt.Sprint(i)))
				cmd.Env = gitserver.Env()
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("%w: %s", err, out)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		_ = os.RemoveAll(root)
		b.StartTimer()
		return elapsed
	}

	// Warm-up: page cache, the CGI binary, connection pools.
	pipeline()
	gitCLI()
	var tPipe, tGit time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			tPipe += pipeline()
			tGit += gitCLI()
		} else {
			tGit += gitCLI()
			tPipe += pipeline()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(tPipe.Milliseconds())/float64(b.N), "pipeline-ms/round")
	b.ReportMetric(float64(tGit.Milliseconds())/float64(b.N), "git-ms/round")
	b.ReportMetric(float64(tPipe)/float64(tGit), "ratio")
}

// benchApp is a typical small app: a Dockerfile, a manifest, a lock file,
// some dozens of source files, a README and a LICENSE.
func benchApp(i int) map[string]string {
	files := map[string]string{
		"Dockerfile":        "FROM node:20-alpine\nWORKDIR /app\nCOPY . .\nRUN npm ci\nEXPOSE 3000\nCMD [\"node\", \"src/index.js\"]\n",
		"package.json":      fmt.Sprintf(`{"name": "app%02d", "description": "Benchmark app %d", "keywords": ["bench"], "license": "MIT", "dependencies": {"express": "^4.19.0"}}`, i, i),
		"package-lock.json": `{"lockfileVersion": 3, "packages": {` + strings.Repeat(`"node_modules/x": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz"}, `, 500) + `"": {}}}`,
		"README.md":         fmt.Sprintf("# App %d\n\n%s\n", i, strings.Repeat("A small app used to measure ingestion. ", 100)),
		"LICENSE":           mitLicense,
	}
	for f := range 60 {
		files[fmt.Sprintf("src/mod%02d.js", f)] = fmt.Sprintf("// module %d of app %d\n", f, i) + strings.Repeat("export function f(x) { return x * 2 }\n", 25)
	}
	return files
}
