package gitclone

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/appstore-dev/appstore/internal/gitserver"
)

// benchConcurrency is how many clones run at once, as ingestion workers
// would on this 2-core machine.
const benchConcurrency = 4

// BenchmarkClone compares Clone with `git clone --depth 1 --single-branch`
// on the same repositories served over smart HTTP by git-http-backend, at
// the same concurrency. Each iteration clones every repository once with
// each, alternating which goes first so that load from elsewhere on the
// machine hits both alike. It reports the milliseconds per round of each
// and their ratio (go-git / git CLI; issue 3 asks for ≤ 1.5).
//
// On the 2-core development machine (ext4, where creating a file costs
// about 0.8 ms and dominates), -benchtime 6x:
//
//	shape    go-git Reset checkout   own checkout (this package)
//	app      0.47                    0.53
//	large    1.43                    0.86
//	assets   0.93                    1.00
//
// With go-git's Worktree.Reset most of the time went to path checks
// (billy BoundOS evaluating symlinks along every path, repeated Lstat)
// and to reopening the pack for each blob; see writeTree.
func BenchmarkClone(b *testing.B) {
	shapes := []struct {
		name  string
		repos int
		files func(i int) map[string]string
	}{
		// A typical app: some dozens of source files, a lock file, a
		// few small assets.
		{"app", 8, func(i int) map[string]string { return appRepo(i, 60, 4, 64<<10) }},
		// A larger code base: many files, a large lock file.
		{"large", 4, func(i int) map[string]string { return appRepo(i, 1500, 8, 256<<10) }},
		// Mostly binary assets: the transfer dominates.
		{"assets", 4, func(i int) map[string]string { return appRepo(i, 30, 10, 2<<20) }},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			var repos []*gitserver.Repo
			for i := range shape.repos {
				repos = append(repos, gitserver.NewNamedRepo(b, fmt.Sprintf("%s%d", shape.name, i), shape.files(i)))
			}
			srv := gitserver.HTTP(b, repos...)
			var urls []string
			for _, r := range repos {
				urls = append(urls, srv.URL(r))
			}
			goGit := func(dir string, url string) error {
				_, err := Clone(context.Background(), Options{URL: url, Dir: dir, Policy: local})
				return err
			}
			cli := func(dir string, url string) error {
				cmd := exec.Command("git", "clone", "-q", "--depth", "1", "--single-branch", "--no-tags", url, dir)
				cmd.Env = gitserver.Env()
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("%w: %s", err, out)
				}
				return nil
			}
			// One warm-up round each: page cache, CGI binary, connection setup.
			round(b, urls, goGit)
			round(b, urls, cli)

			var tGo, tCLI time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%2 == 0 {
					tGo += round(b, urls, goGit)
					tCLI += round(b, urls, cli)
				} else {
					tCLI += round(b, urls, cli)
					tGo += round(b, urls, goGit)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(tGo.Milliseconds())/float64(b.N), "gogit-ms/round")
			b.ReportMetric(float64(tCLI.Milliseconds())/float64(b.N), "cli-ms/round")
			b.ReportMetric(float64(tGo)/float64(tCLI), "ratio")
		})
	}
}

// round clones every URL once with clone, benchConcurrency at a time, and
// returns the wall time. Clones are removed after the clock stops.
func round(b *testing.B, urls []string, clone func(dir, url string) error) time.Duration {
	b.Helper()
	root, err := os.MkdirTemp(b.TempDir(), "round")
	if err != nil {
		b.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(benchConcurrency)
	start := time.Now()
	for i, url := range urls {
		dir := filepath.Join(root, fmt.Sprint(i))
		g.Go(func() error { return clone(dir, url) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := os.RemoveAll(root); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return elapsed
}

// appRepo is the content of an app-shaped repository: n source files of
// about 2 KiB, a lock file, and assets incompressible files of assetSize
// bytes in all. i varies the content so repositories differ.
func appRepo(i, n, assets, assetSize int) map[string]string {
	files := gitserver.RandomFiles(assets, assetSize, uint64(i+1))
	renamed := make(map[string]string, len(files)+n+4)
	for name, content := range files {
		renamed["static/"+filepath.Base(name)] = content
	}
	for f := range n {
		var sb strings.Builder
		fmt.Fprintf(&sb, "package pkg%d\n\n", f%25)
		for l := range 40 {
			fmt.Fprintf(&sb, "// repo %d file %d line %d: func handler%d(w http.ResponseWriter) { w.Write(nil) }\n", i, f, l, l)
		}
		renamed[fmt.Sprintf("internal/pkg%d/file%d.go", f%25, f)] = sb.String()
	}
	var lock strings.Builder
	for d := range n * 3 {
		fmt.Fprintf(&lock, "  \"node_modules/dep%d\": {\"version\": \"1.%d.%d\", \"integrity\": \"sha512-%032x\"},\n", d, d%7, i, d*7919+i)
	}
	renamed["package-lock.json"] = "{\n" + lock.String() + "}\n"
	renamed["Dockerfile"] = "FROM scratch\nCOPY . /app\nEXPOSE 8080\n"
	renamed["README.md"] = fmt.Sprintf("# app %d\n", i)
	return renamed
}
