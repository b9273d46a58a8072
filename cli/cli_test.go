package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// invocation is one run of appstore through Main, as a shell would do it.
type invocation struct {
	srv   *clienttest.Server
	env   map[string]string
	stdin string
	// tty makes stdin, stdout and stderr claim to be a terminal.
	tty bool
	ctx context.Context
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func (inv invocation) run(t *testing.T, args ...string) result {
	t.Helper()
	ios, out, errOut := TestStreams(inv.stdin)
	ios.SetTTY(inv.tty, inv.tty, inv.tty)
	env := map[string]string{}
	if inv.srv != nil {
		env[EnvURL] = inv.srv.URL
	}
	for k, v := range inv.env {
		env[k] = v
	}
	f := NewFactory(ios, func(k string) string { return env[k] })
	ctx := inv.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := Main(ctx, f, args)
	return result{code, out.String(), errOut.String()}
}

// appstore runs the CLI against srv, not on a terminal.
func appstore(t *testing.T, srv *clienttest.Server, args ...string) result {
	t.Helper()
	return invocation{srv: srv}.run(t, args...)
}

func mustAdd(t *testing.T, srv *clienttest.Server, urls ...string) {
	t.Helper()
	for _, u := range urls {
		if _, err := srv.Client().AddRepository(context.Background(), client.AddRepositoryRequest{GitURL: u}); err != nil {
			t.Fatalf("seed %s: %v", u, err)
		}
	}
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON %T: %v\n%s", v, err, s)
	}
	return v
}

func TestAddPrintsSlugAndSendsFlags(t *testing.T) {
	srv := clienttest.NewServer(t)
	r := appstore(t, srv, "add", "https://github.com/acme/dash.git", "--branch", "main",
		"--dockerfile", "deploy/Dockerfile", "--tag", "Category:Dashboard", "-t", "team:infra", "--name", "Dash Board")
	if r.code != 0 || r.stdout != "dash-board\n" || r.stderr != "" {
		t.Fatalf("add: %v", r)
	}
	reqs := srv.Requests()
	var body client.AddRepositoryRequest
	if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	want := client.AddRepositoryRequest{GitURL: "https://github.com/acme/dash.git", Name: "Dash Board", Branch: "main",
		Dockerfile: "deploy/Dockerfile", Tags: []string{"category:dashboard", "team:infra"}}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("sent %+v\nwant %+v", body, want)
	}
	if !strings.HasPrefix(reqs[0].UserAgent, "appstore/") {
		t.Errorf("User-Agent %q", reqs[0].UserAgent)
	}
}

func TestAddLocalPath(t *testing.T) {
	srv := clienttest.NewServer(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "apps", "hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// apps/hello is a real Git work tree; apps/hello/web is inside it, and
	// plain is no repository at all.
	_, err := exec.LookPath("git")
	testenv.Require(t, "git", err)
	for _, args := range [][]string{{"init", "-q", "apps/hello"}, {"init", "-q", "--bare", "apps/bare.git"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	for _, d := range []string{"apps/hello/web", "plain"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	r := appstore(t, srv, "add", "apps/hello")
	if r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("add relative dir: %v", r)
	}
	if got := srv.Repositories()[0].GitURL; got != "file://"+real+"/apps/hello" {
		t.Errorf("relative path sent as %q, want file://%s/apps/hello", got, real)
	}

	// The same directory by another spelling is the same repository.
	r = appstore(t, srv, "add", filepath.Join(dir, "apps", "..", "apps", "hello"))
	if r.code != ExitConflict || !strings.Contains(r.stderr, `"hello"`) {
		t.Errorf("absolute path of the same directory: %v", r)
	}

	// The .git directory of a work tree means the work tree.
	r = appstore(t, srv, "add", "./apps/hello/.git")
	if r.code != ExitConflict || !strings.Contains(r.stderr, `"hello"`) || strings.Contains(r.stderr, "is empty") {
		t.Errorf("add ./apps/hello/.git (already added as hello): %v", r)
	}

	// A bare repository is a repository too.
	if r = appstore(t, srv, "add", "apps/bare.git"); r.code != 0 || r.stdout != "bare\n" {
		t.Errorf("add bare repository: %v", r)
	}

	before := len(srv.Requests())
	for _, bad := range []struct{ path, says string }{
		{"./missing", "no such directory"},
		{"../nowhere/x", "no such directory"},
		{"notes.txt", "is a file"},
		{"plain", "is not a Git repository (no .git in " + filepath.Join(real, "plain") + "): appstore registers Git repositories; run git init"},
		{"apps/hello/web", "is a directory inside the Git repository " + filepath.Join(real, "apps", "hello") + ", not its top"},
	} {
		r = appstore(t, srv, "add", bad.path)
		if r.code != ExitUsage || !strings.Contains(r.stderr, `"`+bad.path+`"`) || !strings.Contains(r.stderr, bad.says) {
			t.Errorf("add %s: %v, want exit 2 naming it and saying %q", bad.path, r, bad.says)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("%d requests sent for local paths that are no repositories", n)
	}
}

func TestAddFromStdin(t *testing.T) {
	srv := clienttest.NewServer(t)
	mustAdd(t, srv, "https://github.com/acme/existing")
	stdin := `# apps to register

https://github.com/acme/one.git
   https://github.com/acme/two
git@github.com:acme/existing.git
not a url
https://github.com/acme/three
`
	r := invocation{srv: srv, stdin: stdin}.run(t, "add", "-", "--tag", "batch:yes")
	if r.stdout != "one\ntwo\nthree\n" {
		t.Errorf("stdout %q, want the three new slugs", r.stdout)
	}
	if !strings.Contains(r.stderr, "error: git@github.com:acme/existing.git: ") || !strings.Contains(r.stderr, `"existing"`) {
		t.Errorf("stderr does not report the duplicate naming the existing slug:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "error: not a url: ") {
		t.Errorf("stderr does not report the bad line:\n%s", r.stderr)
	}
	if n := strings.Count(r.stderr, "error: "); n != 2 {
		t.Errorf("%d errors reported, want 2:\n%s", n, r.stderr)
	}
	// A conflict (5) and an invalid URL (2) disagree: plain failure.
	if r.code != ExitError {
		t.Errorf("exit %d, want %d", r.code, ExitError)
	}
	for _, repo := range srv.Repositories()[1:] {
		if len(repo.Tags) != 1 || repo.Tags[0].String() != "batch:yes" {
			t.Errorf("%s tags %v, want batch:yes", repo.Slug, repo.Tags)
		}
	}

	// Running the same list again: everything is already registered, and
	// the exit status says exactly that.
	r = invocation{srv: srv, stdin: "https://github.com/acme/one\nhttps://github.com/acme/two\n"}.run(t, "add", "-")
	if r.code != ExitConflict || r.stdout != "" {
		t.Errorf("second run: %v, want exit 5", r)
	}
}

func TestAddJSONAndJQ(t *testing.T) {
	srv := clienttest.NewServer(t)
	r := invocation{srv: srv, stdin: "https://github.com/acme/a\nhttps://github.com/acme/b\n"}.run(t, "add", "-", "--json")
	if r.code != 0 {
		t.Fatalf("add --json: %v", r)
	}
	repos := decodeJSON[[]client.Repository](t, r.stdout)
	if len(repos) != 2 || repos[0].Slug != "a" || repos[1].GitURL != "https://github.com/acme/b" || repos[1].IngestStatus != catalog.IngestQueued {
		t.Errorf("JSON %+v", repos)
	}

	r = appstore(t, srv, "add", "https://github.com/acme/c", "--jq", ".[].slug")
	if r.code != 0 || r.stdout != "c\n" {
		t.Errorf("add --jq: %v", r)
	}

	// A single add is still an array: the shape does not depend on the
	// number of inputs.
	r = appstore(t, srv, "add", "https://github.com/acme/d", "--json")
	if got := decodeJSON[[]client.Repository](t, r.stdout); len(got) != 1 || got[0].Slug != "d" {
		t.Errorf("single add --json: %v", r)
	}
}

func TestAddRefusesBadInputBeforeSending(t *testing.T) {
	srv := clienttest.NewServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "https://github.com/acme/a", "--tag", "nocolon"}, "want key:value"},
		{[]string{"add", "https://github.com/acme/a", "--tag", "bad key:x"}, "only a-z"},
		{[]string{"add", "-", "--name", "x"}, "--name"},
		{[]string{"add", "https://github.com/acme/a", "https://github.com/acme/b", "--name", "x"}, "--name"},
		{[]string{"add", "-", "-"}, "more than once"},
		{[]string{"add", "https://github.com/acme/a", "--dockerfile", "../Dockerfile"}, "leaves the repository"},
		{[]string{"add"}, "usage: appstore add"},
		{[]string{"add", "https://github.com/acme/a", "--jq", ".["}, "--jq"},
		{[]string{"add", "https://github.com/acme/a", "--json", "-q"}, "--quiet"},
		{[]string{"add", "https://github.com/acme/a", "--server", "ftp://x"}, "--server"},
	} {
		r := appstore(t, srv, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) || !strings.HasPrefix(r.stderr, "error: ") {
			t.Errorf("%v: %v\nwant exit 2 and %q", tc.args, r, tc.want)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for refused input", n)
	}
}

func TestAddConflictExitCode(t *testing.T) {
	srv := clienttest.NewServer(t)
	mustAdd(t, srv, "https://github.com/acme/dash")
	r := appstore(t, srv, "add", "https://GitHub.com/acme/dash.git")
	if r.code != ExitConflict || !strings.Contains(r.stderr, `"dash"`) || r.stdout != "" {
		t.Errorf("duplicate add: %v", r)
	}
	// The daemon's invalid answer is a usage error too.
	r = appstore(t, srv, "add", "ftp://example.com/x.git")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "ftp") {
		t.Errorf("invalid URL: %v", r)
	}
}

func seedList(t *testing.T, srv *clienttest.Server) {
	t.Helper()
	mustAdd(t, srv, "https://github.com/acme/dash", "https://github.com/acme/notes", "https://gitlab.com/x/chat")
	if err := srv.SetStatus("dash", catalog.IngestReady, client.Tag{Key: "lang", Value: "go", Source: catalog.SourceAuto}, client.Tag{Key: "framework", Value: "gin", Source: catalog.SourceAuthor}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetStatus("chat", catalog.IngestFailed, client.Tag{Key: "lang", Value: "go", Source: catalog.SourceAuto}); err != nil {
		t.Fatal(err)
	}
}

func TestListOutputs(t *testing.T) {
	srv := clienttest.NewServer(t)
	seedList(t, srv)

	// Piped: tab-separated, no header, no colour.
	r := appstore(t, srv, "list")
	// Newest first, like the daemon.
	want := "chat\tfailed\tlang:go\thttps://gitlab.com/x/chat\n" +
		"notes\tqueued\t\thttps://github.com/acme/notes\n" +
		"dash\tready\tframework:gin,lang:go\thttps://github.com/acme/dash\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("piped list:\n%q\nwant\n%q", r.stdout, want)
	}

	// Terminal: header and aligned columns.
	r = invocation{srv: srv, tty: true, env: map[string]string{EnvNoColor: "1"}}.run(t, "list")
	want = "" +
		"SLUG   STATUS  STARS  TAGS                    GIT URL\n" +
		"chat   failed  ☆ 0    lang:go                 https://gitlab.com/x/chat\n" +
		"notes  queued  ☆ 0                            https://github.com/acme/notes\n" +
		"dash   ready   ☆ 0    framework:gin, lang:go  https://github.com/acme/dash\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("terminal list:\n%s\nwant\n%s", r.stdout, want)
	}

	// Colour on a terminal, unless --no-color.
	r = invocation{srv: srv, tty: true}.run(t, "list")
	if !strings.Contains(r.stdout, ansiGreen+"ready"+ansiReset) || !strings.Contains(r.stdout, ansiRed+"failed"+ansiReset) {
		t.Errorf("no status colours on a terminal:\n%q", r.stdout)
	}
	r = invocation{srv: srv, tty: true}.run(t, "list", "--no-color")
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colours despite --no-color:\n%q", r.stdout)
	}

	r = appstore(t, srv, "list", "-q")
	if r.stdout != "chat\nnotes\ndash\n" {
		t.Errorf("list -q: %q", r.stdout)
	}

	r = appstore(t, srv, "list", "--json")
	repos := decodeJSON[[]client.Repository](t, r.stdout)
	if len(repos) != 3 || repos[2].Slug != "dash" || len(repos[2].Tags) != 2 || repos[2].Tags[0].Source != catalog.SourceAuthor {
		t.Errorf("list --json: %+v", repos)
	}

	r = appstore(t, srv, "list", "--jq", `.[] | select(.ingest_status == "failed") | .slug`)
	if r.code != 0 || r.stdout != "chat\n" {
		t.Errorf("list --jq: %v", r)
	}
	r = appstore(t, srv, "list", "--jq", `[.[].id]`)
	if r.stdout != "[3,2,1]\n" {
		t.Errorf("list --jq non-string result, piped: %q, want compact JSON", r.stdout)
	}

	r = appstore(t, srv, "list", "--tag", "Lang:Go", "--status", "ready", "-q")
	if r.stdout != "dash\n" {
		t.Errorf("filtered list: %v", r)
	}
	last := srv.Requests()[len(srv.Requests())-1]
	if last.Query.Get("tag") != "lang:go" || last.Query.Get("status") != "ready" {
		t.Errorf("filters sent as %v", last.Query)
	}
}

func TestListPagesAndLimit(t *testing.T) {
	srv := clienttest.NewServer(t)
	for i := range 7 {
		mustAdd(t, srv, fmt.Sprintf("https://github.com/acme/app%d", i))
	}
	srv.MaxPageSize = 2 // the daemon hands out pages of 2 whatever is asked

	before := len(srv.Requests())
	r := appstore(t, srv, "list", "-q")
	if r.stdout != "app6\napp5\napp4\napp3\napp2\napp1\napp0\n" {
		t.Errorf("list over pages of 2:\n%s", r.stdout)
	}
	reqs := srv.Requests()[before:]
	if len(reqs) != 4 || reqs[0].Query.Get("cursor") != "" || reqs[1].Query.Get("cursor") == "" {
		t.Errorf("%d requests for 7 repositories in pages of 2, want 4 following cursors", len(reqs))
	}

	// --limit stops fetching once it has enough.
	before = len(srv.Requests())
	r = appstore(t, srv, "list", "--limit", "3", "-q")
	if r.stdout != "app6\napp5\napp4\n" {
		t.Errorf("list --limit 3: %q", r.stdout)
	}
	reqs = srv.Requests()[before:]
	if len(reqs) != 2 || reqs[0].Query.Get("limit") != "3" {
		t.Errorf("list --limit 3 sent %d requests (first %v), want 2 asking for 3", len(reqs), reqs[0].Query)
	}

	// runList is callable directly with Options, as later commands' tests do.
	ios, out, _ := TestStreams("")
	opts := &ListOptions{IO: ios, Client: func() (*client.Client, error) { return srv.Client(), nil }, Output: OutputOptions{JQ: "length"}}
	if err := runList(context.Background(), opts); err != nil || out.String() != "7\n" {
		t.Errorf("runList --jq length = %q, %v", out.String(), err)
	}
}

func TestListEmptyAndBadFlags(t *testing.T) {
	srv := clienttest.NewServer(t)
	r := appstore(t, srv, "list", "--json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty list --json: %v, want []", r)
	}
	r = invocation{srv: srv, tty: true}.run(t, "list")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "appstore add") {
		t.Errorf("empty list on a terminal: %v", r)
	}
	r = appstore(t, srv, "list")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("empty list piped: %v, want no output", r)
	}
	for _, args := range [][]string{
		{"list", "--status", "done"},
		{"list", "--limit", "-1"},
		{"list", "--limit", "x"},
		{"list", "--bogus"},
		{"list", "extra"},
		{"list", "--tag", "x"},
	} {
		if r := appstore(t, srv, args...); r.code != ExitUsage {
			t.Errorf("%v: %v, want exit 2", args, r)
		}
	}
}

func TestShow(t *testing.T) {
	srv := clienttest.NewServer(t)
	seedList(t, srv)

	r := appstore(t, srv, "show", "dash")
	for _, want := range []string{"slug:\tdash\n", "git url:\thttps://github.com/acme/dash\n", "status:\tready\n", "tag:\tframework:gin\tauthor\n", "tag:\tlang:go\tauto\n", "created:\t20"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("piped show lacks %q:\n%s", want, r.stdout)
		}
	}

	r = invocation{srv: srv, tty: true, env: map[string]string{EnvNoColor: "1"}}.run(t, "show", "dash")
	// Labels are aligned on the longest ("git owner:").
	for _, want := range []string{"slug:      dash\n", "git owner: acme\n", "status:    ready\n", "tags:\n  framework:gin  author\n  lang:go        auto\n", "just now ("} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("terminal show lacks %q:\n%s", want, r.stdout)
		}
	}

	r = appstore(t, srv, "show", "dash", "--json")
	if got := decodeJSON[client.Repository](t, r.stdout); got.Slug != "dash" || len(got.Tags) != 2 {
		t.Errorf("show --json: %+v", got)
	}
	r = appstore(t, srv, "show", "dash", "--jq", ".tags | map(.key + \"=\" + .source) | join(\",\")")
	if r.stdout != "framework=author,lang=auto\n" {
		t.Errorf("show --jq: %q", r.stdout)
	}
	r = appstore(t, srv, "show", "dash", "-q")
	if r.stdout != "dash\n" {
		t.Errorf("show -q: %q", r.stdout)
	}

	r = appstore(t, srv, "show", "nope")
	if r.code != ExitNotFound || r.stderr != "error: repository \"nope\" not found; `appstore list` shows the apps\n" || r.stdout != "" {
		t.Errorf("show missing: %v", r)
	}
}

func TestRm(t *testing.T) {
	srv := clienttest.NewServer(t)
	mustAdd(t, srv, "https://github.com/acme/a", "https://github.com/acme/b", "https://github.com/acme/c", "https://github.com/acme/d")

	// In a pipe or script: no question, no output.
	r := appstore(t, srv, "rm", "a")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("rm piped: %v", r)
	}

	// On a terminal: asked; "n" keeps it.
	r = invocation{srv: srv, tty: true, stdin: "n\n"}.run(t, "rm", "b")
	if r.code != ExitError || !strings.Contains(r.stdout, "Remove b from the store? [y/N]") || !strings.Contains(r.stderr, "cancelled") {
		t.Errorf("rm answered n: %v", r)
	}
	if len(srv.Repositories()) != 3 {
		t.Errorf("rm answered n removed something")
	}
	r = invocation{srv: srv, tty: true, stdin: "yes\n", env: map[string]string{EnvNoColor: "1"}}.run(t, "rm", "b")
	if r.code != 0 || !strings.Contains(r.stdout, "✓ Removed b\n") {
		t.Errorf("rm answered yes: %v", r)
	}
	r = invocation{srv: srv, tty: true, stdin: ""}.run(t, "rm", "--yes", "c")
	if r.code != 0 || strings.Contains(r.stdout, "[y/N]") {
		t.Errorf("rm --yes asked: %v", r)
	}

	// Several, some missing: the rest is removed, each failure reported,
	// and the exit status is not found since all failures agree.
	r = appstore(t, srv, "rm", "x", "d", "y")
	if r.code != ExitNotFound || strings.Count(r.stderr, "error: ") != 2 || !strings.Contains(r.stderr, "error: x: ") {
		t.Errorf("rm with missing slugs: %v", r)
	}
	if n := len(srv.Repositories()); n != 0 {
		t.Errorf("%d repositories left", n)
	}
	if r := appstore(t, srv, "rm"); r.code != ExitUsage {
		t.Errorf("rm without slug: %v", r)
	}
}

func TestTag(t *testing.T) {
	srv := clienttest.NewServer(t)
	seedList(t, srv)

	r := appstore(t, srv, "tag", "add", "dash", "Team:Infra", "category:dashboard")
	want := "category:dashboard\tmanual\nframework:gin\tauthor\nlang:go\tauto\nteam:infra\tmanual\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("tag add: %v\nwant stdout\n%s", r, want)
	}
	r = appstore(t, srv, "tag", "rm", "dash", "team:infra", "--json")
	got := decodeJSON[client.Repository](t, r.stdout)
	if len(got.Tags) != 3 {
		t.Errorf("tag rm --json: tags %v", got.Tags)
	}

	// Removing an ingestion tag changes nothing, and says why.
	r = appstore(t, srv, "tag", "rm", "dash", "lang:go", "-q")
	if r.code != 0 || r.stdout != "dash\n" || !strings.Contains(r.stderr, "warning: lang:go is still set by ingestion (auto)") {
		t.Errorf("tag rm of an auto tag: %v", r)
	}

	r = invocation{srv: srv, tty: true, env: map[string]string{EnvNoColor: "1"}}.run(t, "tag", "add", "notes", "x:y")
	if r.stdout != "TAG  SOURCE\nx:y  manual\n" {
		t.Errorf("tag add on a terminal:\n%s", r.stdout)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"tag", "add", "dash"}, ExitUsage},
		{[]string{"tag", "add", "dash", "novalue:"}, ExitUsage},
		{[]string{"tag", "add", "nope", "a:b"}, ExitNotFound},
		{[]string{"tag", "frob"}, ExitUsage},
	} {
		if r := appstore(t, srv, tc.args...); r.code != tc.code {
			t.Errorf("%v: %v, want exit %d", tc.args, r, tc.code)
		}
	}
}

// deadURL is the URL of a port where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	return "http://" + testenv.FreeAddr(t)
}

func TestUnreachableDaemon(t *testing.T) {
	url := deadURL(t)
	for _, args := range [][]string{{"list"}, {"show", "x"}, {"add", "https://github.com/acme/a"}, {"rm", "x"}, {"tag", "add", "x", "a:b"}} {
		r := invocation{env: map[string]string{EnvURL: url}}.run(t, args...)
		want := "error: appstored is not reachable at " + url + ": start it with `appstored` (or `make demo`), or set APPSTORE_URL / --server"
		if r.code != ExitUnreachable || !strings.HasPrefix(r.stderr, want) {
			t.Errorf("%v: %v\nwant exit 4 and %q", args, r, want)
		}
	}
	// --server wins over the environment.
	srv := clienttest.NewServer(t)
	r := invocation{env: map[string]string{EnvURL: url}}.run(t, "list", "--server", srv.URL)
	if r.code != 0 {
		t.Errorf("--server over APPSTORE_URL: %v", r)
	}
	// stdin batch stops at the first unreachable error instead of
	// repeating it for every line.
	r = invocation{env: map[string]string{EnvURL: url}, stdin: "https://a/b/c\nhttps://a/b/d\n"}.run(t, "add", "-")
	if r.code != ExitUnreachable || strings.Count(r.stderr, "not reachable") != 1 {
		t.Errorf("add - unreachable: %v", r)
	}
}

func TestToken(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.Token = "s3cret"
	r := appstore(t, srv, "add", "https://github.com/acme/a")
	if r.code != ExitError || !strings.Contains(r.stderr, "APPSTORE_TOKEN") {
		t.Errorf("add without token: %v", r)
	}
	r = invocation{srv: srv, env: map[string]string{EnvToken: "s3cret"}}.run(t, "add", "https://github.com/acme/a")
	if r.code != 0 {
		t.Errorf("add with APPSTORE_TOKEN: %v", r)
	}
	r = invocation{srv: srv, env: map[string]string{EnvToken: "wrong"}}.run(t, "add", "https://github.com/acme/b", "--token", "s3cret")
	if r.code != 0 {
		t.Errorf("--token over APPSTORE_TOKEN: %v", r)
	}
}

func TestVersion(t *testing.T) {
	srv := clienttest.NewServer(t)
	r := appstore(t, srv, "version")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "appstore ") || lines[1] != "appstored "+clienttest.Version+" (fake) api 1 at "+srv.URL {
		t.Errorf("version: %v", r)
	}
	r = appstore(t, srv, "version", "--json")
	rep := decodeJSON[VersionReport](t, r.stdout)
	if rep.Server == nil || rep.Server.API != 1 || rep.Client.Go == "" || rep.ServerURL != srv.URL {
		t.Errorf("version --json: %+v", rep)
	}

	url := deadURL(t)
	r = invocation{env: map[string]string{EnvURL: url}}.run(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "appstore ") || !strings.Contains(r.stderr, "not reachable") {
		t.Errorf("version, daemon down: %v", r)
	}
	r = invocation{env: map[string]string{EnvURL: url}}.run(t, "version", "--jq", ".server_error")
	if r.code != 0 || !strings.Contains(r.stdout, "not reachable") {
		t.Errorf("version --jq .server_error, daemon down: %v", r)
	}
}

func TestCompletion(t *testing.T) {
	srv := clienttest.NewServer(t)
	mustAdd(t, srv, "https://github.com/acme/dash", "https://github.com/acme/docs", "https://github.com/acme/notes")
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := appstore(t, srv, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "appstore") || len(r.stdout) < 500 {
			t.Errorf("completion %s: exit %d, %d bytes", shell, r.code, len(r.stdout))
		}
	}
	if r := appstore(t, srv, "completion", "tcsh"); r.code != ExitUsage {
		t.Errorf("completion tcsh: %v", r)
	}
	// Dynamic completion asks the daemon for slugs.
	r := appstore(t, srv, "__complete", "show", "d")
	if !strings.Contains(r.stdout, "dash\tdash\n") || !strings.Contains(r.stdout, "docs\tdocs\n") || strings.Contains(r.stdout, "notes") {
		t.Errorf("slug completion:\n%s", r.stdout)
	}
	r = appstore(t, srv, "__complete", "rm", "dash", "")
	if strings.Contains(r.stdout, "dash\t") || !strings.Contains(r.stdout, "notes\t") {
		t.Errorf("rm completion offers a slug already given:\n%s", r.stdout)
	}
}

func TestExitCodeMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitError},
		{usageErrorf("bad"), ExitUsage},
		{&client.APIError{StatusCode: 400, Code: client.CodeInvalid}, ExitUsage},
		{fmt.Errorf("wrapped: %w", &client.APIError{StatusCode: 404, Code: client.CodeNotFound}), ExitNotFound},
		{&client.APIError{StatusCode: 409, Code: client.CodeConflict}, ExitConflict},
		{&client.APIError{StatusCode: 401, Code: client.CodeUnauthorized}, ExitError},
		{&client.APIError{StatusCode: 500, Code: client.CodeInternal}, ExitError},
		{&client.UnreachableError{URL: "http://x"}, ExitUnreachable},
		{fmt.Errorf("GET: %w", context.Canceled), ExitInterrupted},
		{&reportedError{code: 5}, 5},
		{errCancelled, ExitError},
	} {
		if got := ExitCode(tc.err); got != tc.code {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
	if got := batchExitCode([]int{5, 5}); got != 5 {
		t.Errorf("batchExitCode(5,5) = %d", got)
	}
	if got := batchExitCode([]int{5, 3}); got != ExitError {
		t.Errorf("batchExitCode(5,3) = %d", got)
	}
	// A conflict whose message does not name the slug gets it added.
	msg := ErrorMessage(&client.APIError{StatusCode: 409, Code: client.CodeConflict, Message: "already registered", Slug: "dash"})
	if !strings.Contains(msg, `"dash"`) {
		t.Errorf("conflict message %q does not name the slug", msg)
	}
}

func TestInterrupted(t *testing.T) {
	srv := clienttest.NewServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := invocation{srv: srv, ctx: ctx}.run(t, "list")
	if r.code != ExitInterrupted || r.stderr != "" {
		t.Errorf("cancelled list: %v (want 130 without an error line)", r)
	}
	// events follows until interrupted: the same convention. The
	// interrupt comes once it follows (the hub has one more subscriber),
	// not after a fixed time, which a loaded machine may spend starting.
	d := daemontest.Start(t, daemon.Config{Roles: []string{daemon.RoleAPI}})
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	base := d.Events.Stats().Subscribers
	go func() {
		defer cancel()
		for deadline := time.Now().Add(30 * time.Second); d.Events.Stats().Subscribers <= base && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if d.Events.Stats().Subscribers <= base {
			t.Error("events never subscribed within 30s")
		}
	}()
	r = invocation{ctx: ctx, env: map[string]string{EnvURL: d.URL}}.run(t, "events")
	if r.code != ExitInterrupted || strings.Contains(r.stderr, "error") {
		t.Errorf("interrupted events: %v", r)
	}
}

// TestMessagesSayWhatHappened: an unknown slug gets "did you mean", add
// says when the slug is not the name given, --json prints JSON whatever
// happens, and flags that do not parse get a sentence.
func TestMessagesSayWhatHappened(t *testing.T) {
	srv := clienttest.NewServer(t)
	mustAdd(t, srv, "https://github.com/acme/hello", "https://github.com/acme/notes")

	r := appstore(t, srv, "show", "helo")
	if r.code != ExitNotFound || !strings.Contains(r.stderr, "did you mean hello?") {
		t.Errorf("show helo: %v", r)
	}
	r = appstore(t, srv, "show", "zzzzzz")
	if r.code != ExitNotFound || strings.Contains(r.stderr, "did you mean") || !strings.Contains(r.stderr, "appstore list") {
		t.Errorf("show zzzzzz: %v", r)
	}

	r = appstore(t, srv, "add", "https://github.com/acme/2048.git")
	if r.code != 0 || r.stdout != "app-2048\n" || !strings.Contains(r.stderr, `"2048" is registered as app-2048`) {
		t.Errorf("add 2048: %v", r)
	}
	r = appstore(t, srv, "add", "https://gitlab.com/other/hello.git")
	if r.code != 0 || !strings.Contains(r.stderr, "the slug hello is taken") {
		t.Errorf("add of a second hello: %v", r)
	}
	if r = appstore(t, srv, "add", "https://github.com/acme/plain.git"); r.stderr != "" {
		t.Errorf("add with the slug asked for says: %q", r.stderr)
	}

	// --json prints JSON also when nothing was done.
	r = appstore(t, srv, "add", "https://github.com/acme/hello", "--json")
	if r.code != ExitConflict || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("add --json of a duplicate: %v", r)
	}
	r = appstore(t, srv, "rm", "notes", "--json")
	if got := decodeJSON[[]client.Repository](t, r.stdout); r.code != 0 || len(got) != 1 || got[0].Slug != "notes" {
		t.Errorf("rm --json: %v", r)
	}
	r = appstore(t, srv, "rm", "nope", "--json")
	if r.code != ExitNotFound || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("rm --json of a missing app: %v", r)
	}
	r = appstore(t, srv, "list", "--tag", "no:such", "--json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty list --json: %v", r)
	}

	// Numbers, durations and URLs that do not parse.
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"events", "--since", "abc"}, nil, `--since "abc" is not a whole number`},
		{[]string{"list", "--limit", "x"}, nil, `--limit "x" is not a whole number`},
		{[]string{"launch", "hello", "--ttl", "10"}, nil, `--ttl "10" is not a duration`},
		{[]string{"list"}, map[string]string{EnvURL: "http://[::1"}, "is not a valid URL"},
		{[]string{"list"}, map[string]string{EnvURL: "http://127.0.0.1:99999"}, "is not a port number"},
	} {
		env := map[string]string{EnvURL: srv.URL}
		for k, v := range tc.env {
			env[k] = v
		}
		r := invocation{env: env}.run(t, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "strconv") || strings.Contains(r.stderr, "time: ") {
			t.Errorf("%v: %v, want exit 2 saying %q", tc.args, r, tc.want)
		}
	}

	// An https:// URL for a daemon that speaks plain HTTP.
	r = invocation{env: map[string]string{EnvURL: strings.Replace(srv.URL, "http://", "https://", 1)}}.run(t, "list")
	if r.code != ExitUnreachable || !strings.Contains(r.stderr, "answers plain HTTP, not HTTPS: use "+srv.URL) || strings.Contains(r.stderr, "start it") {
		t.Errorf("https:// to plain HTTP: %v", r)
	}
}

func TestTagLsAndRmOfAMissingTag(t *testing.T) {
	srv := clienttest.NewServer(t)
	seedList(t, srv)
	r := appstore(t, srv, "tag", "ls", "dash")
	if r.code != 0 || r.stdout != "framework:gin\tauthor\nlang:go\tauto\n" {
		t.Errorf("tag ls: %v", r)
	}
	if got := decodeJSON[[]client.Tag](t, appstore(t, srv, "tag", "ls", "dash", "--json").stdout); len(got) != 2 {
		t.Errorf("tag ls --json: %v", got)
	}
	appstore(t, srv, "tag", "add", "dash", "team:infra")
	r = appstore(t, srv, "tag", "rm", "dash", "team:infra", "team:ops")
	if r.code != ExitNotFound || !strings.Contains(r.stderr, "dash has no tag team:ops: nothing was changed (its manual tags are team:infra") {
		t.Errorf("tag rm of a missing tag: %v", r)
	}
	if repo := srv.Repositories(); !slices.ContainsFunc(repo[0].Tags, func(x client.Tag) bool { return x.String() == "team:infra" }) &&
		!slices.ContainsFunc(repo[len(repo)-1].Tags, func(x client.Tag) bool { return x.String() == "team:infra" }) {
		t.Errorf("a refused tag rm removed team:infra")
	}
}

func TestEditRedeploy(t *testing.T) {
	srv := clienttest.NewServer(t)
	mustAdd(t, srv, "https://github.com/acme/dash")
	r := appstore(t, srv, "edit", "dash", "--redeploy=false")
	if r.code != 0 || r.stdout != "redeploy\tfalse\n" {
		t.Errorf("edit --redeploy=false: %v", r)
	}
	if r = appstore(t, srv, "show", "dash"); !strings.Contains(r.stdout, "redeploy:\toff\n") {
		t.Errorf("show after --redeploy=false: %v", r)
	}
	if r = appstore(t, srv, "edit", "dash"); r.code != ExitUsage || !strings.Contains(r.stderr, "--redeploy=false") {
		t.Errorf("edit without a setting: %v", r)
	}
	r = invocation{srv: srv, tty: true, env: map[string]string{EnvNoColor: "1"}}.run(t, "edit", "dash", "--redeploy")
	if r.code != 0 || !strings.Contains(r.stdout, "dash: redeploy on") {
		t.Errorf("edit --redeploy: %v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	srv := clienttest.NewServer(t)
	for _, args := range [][]string{{"frobnicate"}, {"lst"}, {"--bogus"}, {"show"}, {"show", "a", "b"}, {"version", "x"}} {
		r := appstore(t, srv, args...)
		if r.code != ExitUsage || !strings.HasPrefix(r.stderr, "error: ") || !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("%v: %v", args, r)
		}
	}
	if r := appstore(t, srv, "lst"); !strings.Contains(r.stderr, "did you mean list") {
		t.Errorf("no suggestion for lst: %s", r.stderr)
	}
	if r := appstore(t, srv, "--help"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("--help: %v", r)
	}
}
