package tui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// appSource is the app of the end-to-end test, built static for a FROM
// scratch image: "build" is its build step (a few seconds of output, so
// that a build can be watched), otherwise it serves HTTP on 8080.
const appSource = `package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "build" {
		for i := 1; i <= 3; i++ {
			fmt.Printf("compiling the dashboard, step %d of 3\n", i)
			time.Sleep(time.Second)
		}
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from the dashboard")
	})
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// tmux drives one tmux server of its own (a private socket), so the test
// neither sees nor disturbs anyone else's sessions.
type tmux struct {
	t      *testing.T
	socket string
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (x *tmux) screen() string {
	out, err := exec.Command("tmux", "-L", x.socket, "capture-pane", "-p", "-t", "tui").CombinedOutput()
	if err != nil {
		return "(capture-pane: " + err.Error() + ": " + string(out) + ")"
	}
	return string(out)
}

// keys sends tmux key names (Tab, Enter, Escape) or literal text with -l.
func (x *tmux) keys(keys ...string) { x.run(append([]string{"send-keys", "-t", "tui"}, keys...)...) }
func (x *tmux) text(s string)       { x.run("send-keys", "-t", "tui", "-l", s) }

// wait polls the screen until it matches every pattern, or fails after
// timeout with the screen as it was.
func (x *tmux) wait(what string, timeout time.Duration, patterns ...string) []string {
	x.t.Helper()
	var res []*regexp.Regexp
	for _, p := range patterns {
		res = append(res, regexp.MustCompile(p))
	}
	deadline := time.Now().Add(timeout)
	for {
		s := x.screen()
		ok := true
		var first []string
		for i, re := range res {
			m := re.FindStringSubmatch(s)
			if m == nil {
				ok = false
				break
			}
			if i == 0 {
				first = m
			}
		}
		if ok {
			return first
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("waiting for %s (%q): not on screen after %s:\n%s", what, patterns, timeout, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTUIEndToEnd drives the real appstore binary in tmux against the real
// appstored (PostgreSQL, ingestion, Docker builds and launches): type a
// prefix, see the counted suggestion, Tab, Enter, see the result, open it,
// start a build and watch it finish in the results without a refresh, read
// its log, launch the app and open it, stop it.
func TestTUIEndToEnd(t *testing.T) {
	_, err := exec.LookPath("tmux")
	testenv.Require(t, "tmux", err)
	gitserver.RequireGit(t)
	testenv.Docker(t)
	db := testenv.Postgres(t)
	appstore := testenv.Binary(t, "./cmd/appstore")
	d := clienttest.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"),
		"--database-url", db, "--data-dir", t.TempDir(), "--git-allow-private")
	c := d.Client()
	ctx := context.Background()

	app, err := os.ReadFile(testenv.StaticBinary(t, appSource))
	if err != nil {
		t.Fatal(err)
	}
	dash := gitserver.NewRepoFiles(t, "dash", []gitserver.File{
		{Name: "Dockerfile", Content: "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"build\"]\nEXPOSE 8080\nENTRYPOINT [\"/app\"]\n"},
		{Name: "app", Content: string(app), Mode: 0o755},
		{Name: "tags.yaml", Content: "name: dash\ndescription: Team dashboard with charts\ntags:\n  topic: charts\n"},
	})
	notes := gitserver.NewRepoFiles(t, "notes", []gitserver.File{
		{Name: "Dockerfile", Content: "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"},
		{Name: "app", Content: string(app), Mode: 0o755},
	})
	git := gitserver.HTTP(t, dash, notes)
	for _, r := range []struct {
		repo *gitserver.Repo
		tag  string
	}{{dash, "category:dashboard"}, {notes, "category:notes"}} {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(r.repo), Tags: []string{r.tag}}); err != nil {
			t.Fatal(err)
		}
	}
	// Both ingested and built once before the TUI starts, so the screen
	// starts from a known state.
	for _, slug := range []string{"dash", "notes"} {
		waitBuilt(t, c, slug)
	}

	opened := filepath.Join(t.TempDir(), "opened")
	browser := filepath.Join(t.TempDir(), "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	x := &tmux{t: t, socket: fmt.Sprintf("appstore-tui-%d", os.Getpid())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	x.run("new-session", "-d", "-s", "tui", "-x", "120", "-y", "40",
		"env", "APPSTORE_URL="+d.URL, "BROWSER="+browser, "NO_COLOR=1", "TERM=xterm-256color", appstore)

	x.wait("the results", 15*time.Second, `● live`, `2 apps · everything`)

	// A prefix, its counted suggestion, Tab; then a value.
	x.text("categ")
	x.wait("the key suggested with its count", 5*time.Second, `category:\s+\(2\)`)
	x.keys("Tab")
	x.wait("the values with their counts", 5*time.Second, `search › category:\s`, `category:dashboard\s+\(1\)`, `category:notes\s+\(1\)`)
	x.text("d")
	x.wait("the list narrowed", 5*time.Second, `search › category:d\s`, `category:dashboard\s+\(1\)`)
	x.keys("Tab")
	x.wait("the accepted value", 5*time.Second, `search › category:dashboard\s`)
	x.keys("Enter")
	x.wait("the result", 5*time.Second, `1 app · “category:dashboard”`, `› dash\s+Team dashboard with charts\s+● ready ✓ built`)

	// Its detail.
	x.keys("Enter")
	x.wait("the detail", 10*time.Second, `(?m)^Team dashboard with charts`, `manual\s+category:dashboard`, `author\s+topic:charts`, `path\s+Dockerfile`)

	// A build without cache, watched from the results.
	x.keys("B")
	m := x.wait("the build queued", 10*time.Second, `build #(\d+) of dash (?:queued|running|succeeded)`)
	build := m[1]
	x.keys("Escape")
	x.wait("the results", 5*time.Second, `› dash .*(○ build queued|◐ building)`)
	x.wait("the build to finish, live", 60*time.Second, `› dash .*✓ built`)

	// Its log, complete.
	x.keys("Enter")
	x.wait("the detail", 10*time.Second, `#`+build+`\s+✓ built`)
	x.keys("l")
	x.wait("the log", 10*time.Second, `build #`+build+` of dash`, `compiling the dashboard, step 3 of 3`, `log complete`)
	x.keys("Escape")
	x.wait("the detail", 5*time.Second, `Launch\s*\n\s+not running`)

	// Launch: the preview opens in the "browser", and answers.
	x.keys("o")
	x.wait("the launch running", 60*time.Second, `▶ running\s+http://`)
	url := waitFile(t, opened, 10*time.Second)
	if !strings.Contains(url, "dash") {
		t.Errorf("opened %q, want dash's preview URL", url)
	}
	resp, err := http.Get(d.URL + "/apps/dash/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "hello from the dashboard") {
		t.Errorf("the launched app answered %d %q", resp.StatusCode, body)
	}
	x.keys("s")
	x.wait("the launch stopped", 30*time.Second, `✓ stopped dash`, `not running`)

	x.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", x.socket, "has-session", "-t", "tui").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit:\n%s", x.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitBuilt(t *testing.T, c *client.Client, slug string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := c.Repository(context.Background(), slug)
		if err != nil {
			t.Fatal(err)
		}
		if r.IngestStatus == catalog.IngestFailed {
			t.Fatalf("%s failed to ingest: %s", slug, r.IngestError)
		}
		if b := r.LatestBuild; b != nil && b.Status.Terminal() {
			if b.Status != catalog.BuildSucceeded {
				full, _ := c.Build(context.Background(), b.ID)
				t.Fatalf("%s: build %d %s: %+v", slug, b.ID, b.Status, full)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not built after 2 minutes: %+v", slug, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitFile(t *testing.T, path string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written after %s", path, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
