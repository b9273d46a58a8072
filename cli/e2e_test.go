package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

type run struct {
	code           int
	stdout, stderr string
}

// appstoreIn runs the CLI in process against url, as in a pipe.
func appstoreIn(t *testing.T, url, stdin string, args ...string) run {
	t.Helper()
	ios, out, errOut := cli.TestStreams(stdin)
	env := map[string]string{cli.EnvURL: url}
	code := cli.Main(context.Background(), cli.NewFactory(ios, func(k string) string { return env[k] }), args)
	return run{code, out.String(), errOut.String()}
}

// TestCLIAgainstAppstored drives the CLI against the real daemon on a real
// PostgreSQL database: add (URL, local path, stdin), list, show, tag, rm,
// and the exit codes of each kind of failure.
func TestCLIAgainstAppstored(t *testing.T) {
	gitserver.RequireGit(t)
	db := testenv.Postgres(t)
	d := clienttest.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"),
		"--database-url", db, "--data-dir", t.TempDir(), "--git-allow-private")
	files := map[string]string{"Dockerfile": "FROM scratch\n"}
	dash, notes, chat := gitserver.NewNamedRepo(t, "dash", files), gitserver.NewNamedRepo(t, "notes", files), gitserver.NewNamedRepo(t, "chat", files)
	git := gitserver.HTTP(t, dash, notes, chat)
	ctx := context.Background()

	r := appstoreIn(t, d.URL, "", "add", git.URL(dash), "--tag", "category:dashboard", "--branch", "main")
	if r.code != 0 || r.stdout != "dash\n" {
		t.Fatalf("add: %+v", r)
	}
	r = appstoreIn(t, d.URL, "", "add", strings.TrimSuffix(git.URL(dash), ".git"))
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "dash") {
		t.Errorf("second add: %+v, want exit 5 naming dash", r)
	}

	// A local directory, given relative to the working directory.
	local := gitserver.NewNamedRepo(t, "hello", files)
	t.Chdir(filepath.Dir(local.Dir))
	r = appstoreIn(t, d.URL, "", "add", filepath.Base(local.Dir), "--name", "Hello App")
	if r.code != 0 || r.stdout != "hello-app\n" {
		t.Fatalf("add local path: %+v", r)
	}
	hello, err := d.Client().Repository(ctx, "hello-app")
	if err != nil {
		t.Fatal(err)
	}
	if real, _ := filepath.EvalSymlinks(local.Dir); hello.GitURL != "file://"+real {
		t.Errorf("local path registered as %q, want file://%s", hello.GitURL, real)
	}

	// Standard input: one per line, comments and blanks skipped, failures
	// reported and the rest added.
	stdin := "# batch\n" + git.URL(notes) + "\n\nftp://example.com/x.git\n" + git.URL(chat) + "\n"
	r = appstoreIn(t, d.URL, stdin, "add", "-", "--json")
	var added []client.Repository
	if err := json.Unmarshal([]byte(r.stdout), &added); err != nil {
		t.Fatalf("add - --json output: %v\n%+v", err, r)
	}
	if len(added) != 2 || added[0].Slug != "notes" || added[1].Slug != "chat" {
		t.Errorf("added %+v", added)
	}
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "error: ftp://example.com/x.git: ") {
		t.Errorf("add - with an invalid URL: exit %d, stderr %q; want 2 and the line named", r.code, r.stderr)
	}

	r = appstoreIn(t, d.URL, "", "list", "-q")
	if r.code != 0 || r.stdout != "chat\nnotes\nhello-app\ndash\n" {
		t.Errorf("list -q: %+v", r)
	}
	r = appstoreIn(t, d.URL, "", "list", "--tag", "category:dashboard", "--jq", ".[].git_url")
	if r.code != 0 || r.stdout != git.URL(dash)+"\n" {
		t.Errorf("list --tag --jq: %+v", r)
	}
	r = appstoreIn(t, d.URL, "", "list", "--limit", "2", "--json")
	var two []client.Repository
	if err := json.Unmarshal([]byte(r.stdout), &two); err != nil || len(two) != 2 {
		t.Errorf("list --limit 2 --json: %v, %+v", err, r)
	}

	r = appstoreIn(t, d.URL, "", "show", "dash")
	for _, want := range []string{"slug:\tdash\n", "git url:\t" + git.URL(dash) + "\n", "branch:\tmain\n", "tag:\tcategory:dashboard\tmanual\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show dash lacks %q:\n%s", want, r.stdout)
		}
	}
	r = appstoreIn(t, d.URL, "", "show", "nope")
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "nope") {
		t.Errorf("show nope: %+v", r)
	}

	// Ingestion runs in the background and may add author and auto tags
	// at any moment: look at the manual ones.
	r = appstoreIn(t, d.URL, "", "tag", "add", "dash", "team:infra")
	if r.code != 0 || !strings.Contains(r.stdout, "category:dashboard\tmanual\n") || !strings.Contains(r.stdout, "team:infra\tmanual\n") {
		t.Errorf("tag add: %+v", r)
	}
	r = appstoreIn(t, d.URL, "", "tag", "rm", "dash", "category:dashboard", "-q")
	if r.code != 0 || r.stdout != "dash\n" {
		t.Errorf("tag rm: %+v", r)
	}
	got, err := d.Client().Repository(ctx, "dash")
	if err != nil {
		t.Fatal(err)
	}
	var manual []string
	for _, tag := range got.Tags {
		if tag.Source == catalog.SourceManual {
			manual = append(manual, tag.String())
		}
	}
	if strings.Join(manual, ",") != "team:infra" {
		t.Errorf("manual tags after tag add/rm: %v", manual)
	}

	r = appstoreIn(t, d.URL, "", "rm", "chat", "nope")
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "error: nope: ") {
		t.Errorf("rm chat nope: %+v", r)
	}
	if _, err := d.Client().Repository(ctx, "chat"); !client.IsNotFound(err) {
		t.Errorf("chat after rm: %v", err)
	}

	r = appstoreIn(t, d.URL, "", "version")
	if r.code != 0 || !strings.Contains(r.stdout, "appstored ") || !strings.Contains(r.stdout, "api 1 at "+d.URL) {
		t.Errorf("version: %+v", r)
	}
}

// TestBinaryExitCodes runs the built appstore binary, as a shell would, to
// check what main does with exit codes, stdin and environment.
func TestBinaryExitCodes(t *testing.T) {
	db := testenv.Postgres(t)
	d := clienttest.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"), "--database-url", db, "--data-dir", t.TempDir())
	bin := testenv.Binary(t, "./cmd/appstore")

	sh := func(url, stdin string, args ...string) run {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "APPSTORE_URL="+url, "NO_COLOR=1")
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("run appstore: %v", err)
		}
		return run{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
	}

	r := sh(d.URL, "https://example.com/acme/one.git\n# skip\nhttps://example.com/acme/two\n", "add", "-")
	if r.code != 0 || r.stdout != "one\ntwo\n" || r.stderr != "" {
		t.Errorf("add -: %+v", r)
	}
	r = sh(d.URL, "https://example.com/acme/one\nhttps://example.com/acme/two.git\n", "add", "-")
	if r.code != cli.ExitConflict || strings.Count(r.stderr, "error: ") != 2 {
		t.Errorf("add - again: %+v, want exit 5 with two errors", r)
	}
	if r := sh(d.URL, "", "show", "nope"); r.code != cli.ExitNotFound {
		t.Errorf("show nope: %+v", r)
	}
	if r := sh(d.URL, "", "list", "--status", "nonsense"); r.code != cli.ExitUsage {
		t.Errorf("list --status nonsense: %+v", r)
	}
	if r := sh(d.URL, "", "rm", "one", "two"); r.code != 0 || r.stdout != "" {
		t.Errorf("rm in a script: %+v, want no question and no output", r)
	}

	dead := "http://" + testenv.FreeAddr(t)
	r = sh(dead, "", "list")
	if r.code != cli.ExitUnreachable || !strings.Contains(r.stderr, "start it with `appstored`") {
		t.Errorf("list with no daemon: %+v", r)
	}
}
