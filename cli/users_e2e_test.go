package cli_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// appstoreAs runs the CLI in process against url with APPSTORE_TOKEN set
// to token, as in a pipe.
func appstoreAs(t *testing.T, url, token string, args ...string) run {
	t.Helper()
	ios, out, errOut := cli.TestStreams("")
	env := map[string]string{cli.EnvURL: url, cli.EnvToken: token}
	code := cli.Main(context.Background(), cli.NewFactory(ios, func(k string) string { return env[k] }), args)
	return run{code, out.String(), errOut.String()}
}

// TestUsersThroughTheCLI: a server's first admin is made offline with
// `appstored users add` (on a database no daemon has migrated yet), then
// the admin adds a member with `appstore users add`, whose token comes
// alone on standard output; the member registers an app and owns it (show
// says so), may not hand it over, and an admin may; owner: finds it;
// an admin's token opens the service registry, a member's does not;
// whoami, users ls, users token and users rm do what they say.
func TestUsersThroughTheCLI(t *testing.T) {
	db := testenv.Postgres(t)
	appstored := testenv.Binary(t, "./cmd/appstored")
	data := t.TempDir()

	var out, errOut bytes.Buffer
	cmd := exec.Command(appstored, "users", "add", "ada", "--role", "admin", "--database-url", db, "--data-dir", data)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("appstored users add: %v\n%s", err, errOut.String())
	}
	ada := strings.TrimSuffix(out.String(), "\n")
	if !strings.HasPrefix(ada, "aps_") || strings.Contains(ada, "\n") || !strings.Contains(errOut.String(), "shown this once") {
		t.Fatalf("appstored users add printed %q / %q: want the token alone on stdout", out.String(), errOut.String())
	}
	cmd = exec.Command(appstored, "users", "add", "ada", "--database-url", db, "--data-dir", data)
	if b, err := cmd.CombinedOutput(); err == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(b), "already exists") {
		t.Errorf("appstored users add ada again: %v %s, want exit 2 saying it exists", err, b)
	}

	d := clienttest.StartAppstored(t, appstored, "--database-url", db, "--data-dir", data, "--service-token", "the-service-token-0123456789")

	if r := appstoreAs(t, d.URL, ada, "whoami"); r.code != 0 || r.stdout != "ada\tadmin\n" {
		t.Errorf("whoami as ada: %+v", r)
	}
	r := appstoreAs(t, d.URL, ada, "users", "add", "mia")
	mia := strings.TrimSuffix(r.stdout, "\n")
	if r.code != 0 || !strings.HasPrefix(mia, "aps_") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("users add mia: %+v", r)
	}
	if r := appstoreAs(t, d.URL, mia, "users", "add", "eve"); r.code == 0 || !strings.Contains(r.stderr, "mia is a member") {
		t.Errorf("a member adds a user: %+v, want a refusal naming mia's role", r)
	}
	if r := appstoreAs(t, d.URL, "", "add", "https://example.com/acme/dash.git"); r.code == 0 || !strings.Contains(r.stderr, "needs a token") {
		t.Errorf("add without a token: %+v, want a refusal saying a token is needed", r)
	}
	if r := appstoreAs(t, d.URL, mia, "add", "https://example.com/acme/dash.git"); r.code != 0 || r.stdout != "dash\n" {
		t.Fatalf("mia adds dash: %+v", r)
	}
	r = appstoreAs(t, d.URL, "", "show", "dash")
	if !strings.Contains(r.stdout, "owned by:\tmia\n") || !strings.Contains(r.stdout, "registered by:\tmia\n") || !strings.Contains(r.stdout, "git owner:\tacme\n") {
		t.Errorf("show dash:\n%s", r.stdout)
	}
	if r := appstoreAs(t, d.URL, mia, "edit", "dash", "--owner", "ada"); r.code == 0 || !strings.Contains(r.stderr, "only admins") {
		t.Errorf("mia hands dash over: %+v", r)
	}
	if r := appstoreAs(t, d.URL, ada, "edit", "dash", "--owner", "ada"); r.code != 0 || !strings.Contains(r.stdout, "owned by\tada\n") {
		t.Errorf("ada takes dash: %+v", r)
	}
	if r := appstoreAs(t, d.URL, "", "search", "owner:ada", "-q"); r.code != 0 || r.stdout != "dash\n" {
		t.Errorf("search owner:ada: %+v", r)
	}
	if r := appstoreAs(t, d.URL, mia, "rm", "dash"); r.code == 0 || !strings.Contains(r.stderr, "owned by ada") {
		t.Errorf("mia removes ada's app: %+v", r)
	}

	// Admins change the service registry with their own token; members do not.
	if r := appstoreAs(t, d.URL, ada, "services", "add", "llm", "http://127.0.0.1:9"); r.code != 0 || r.stdout != "llm\n" {
		t.Errorf("ada adds a service with her token: %+v", r)
	}
	if r := appstoreAs(t, d.URL, mia, "services", "rm", "llm", "--yes"); r.code == 0 || !strings.Contains(r.stderr, "changed by admins") {
		t.Errorf("mia removes a service: %+v, want a refusal", r)
	}

	r = appstoreAs(t, d.URL, "", "users", "ls")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ada\tadmin\t\t") || !strings.HasPrefix(lines[1], "mia\tmember\tada\t") {
		t.Errorf("users ls: %+v", r)
	}
	if r := appstoreAs(t, d.URL, "", "users", "ls", "--jq", ".[].name"); r.code != 0 || r.stdout != "ada\nmia\n" || strings.Contains(r.stdout, "token") {
		t.Errorf("users ls --jq: %+v", r)
	}

	r = appstoreAs(t, d.URL, mia, "users", "token", "mia")
	mia2 := strings.TrimSuffix(r.stdout, "\n")
	if r.code != 0 || mia2 == mia || !strings.HasPrefix(mia2, "aps_") {
		t.Fatalf("users token mia: %+v", r)
	}
	if r := appstoreAs(t, d.URL, mia, "whoami"); r.code == 0 {
		t.Errorf("whoami with mia's old token: %+v, want a refusal", r)
	}
	if r := appstoreAs(t, d.URL, mia2, "whoami"); r.code != 0 || r.stdout != "mia\tmember\n" {
		t.Errorf("whoami with mia's new token: %+v", r)
	}
	if r := appstoreAs(t, d.URL, ada, "users", "rm", "mia", "-q"); r.code != 0 || r.stdout != "mia\n" {
		t.Errorf("users rm mia: %+v", r)
	}
	if r := appstoreAs(t, d.URL, mia2, "whoami"); r.code == 0 {
		t.Errorf("whoami as the removed mia: %+v, want a refusal", r)
	}
}
