package cli_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestEnvAndSecretCommandsAgainstAppstored drives env, secret, launch
// --restart and ps against the real daemon, PostgreSQL and containers: a
// launch missing a required secret exits 2 with the command to run, the
// secret set from standard input reaches the app and is shown nowhere.
func TestEnvAndSecretCommandsAgainstAppstored(t *testing.T) {
	docker := runnertest.Docker(t)
	db := testenv.Postgres(t)
	dataDir := t.TempDir()
	d := clienttest.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"),
		"--database-url", db, "--data-dir", dataDir, "--startup-timeout", "20s")
	runnerID, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnertest.CleanupContainers(t, docker, strings.TrimSpace(string(runnerID)))
	if st, err := os.Stat(filepath.Join(dataDir, "secrets.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets key file at the first start: %v %v", st, err)
	}
	st, err := store.Open(context.Background(), db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tag, id := runnertest.Image(t, docker, runnertest.ImageOptions{Args: []string{"-name", "rag"}})
	repoID, _ := runnertest.App(t, st, "rag", tag, id, 0)
	if _, err := st.Pool().Exec(context.Background(), `UPDATE repositories SET metadata = jsonb_set(coalesce(metadata, '{}'), '{env}', $2::jsonb) WHERE id = $1`,
		repoID, `[{"name":"OPENAI_API_KEY","required":true,"secret":true,"source":"tags.yaml"}]`); err != nil {
		t.Fatal(err)
	}
	const secret = "sk-cli-secret-0123456789"
	var outputs strings.Builder
	sh := func(stdin string, args ...string) run {
		t.Helper()
		r := appstoreIn(t, d.URL, stdin, args...)
		outputs.WriteString(r.stdout + r.stderr)
		return r
	}

	r := sh("", "launch", "rag", "--no-open")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "appstore secret set rag OPENAI_API_KEY") {
		t.Fatalf("launch without the required secret: %+v, want exit 2 with the command to run", r)
	}
	if r := sh("", "show", "rag"); r.code != 0 || !strings.Contains(r.stdout, "config:\tOPENAI_API_KEY\tmissing\trequired\tsecret\ttags.yaml\n") {
		t.Errorf("show lists the declared secret as missing: %+v", r)
	}
	if r := sh("", "env", "set", "rag", "PORT=1"); r.code != cli.ExitUsage {
		t.Errorf("env set PORT: %+v", r)
	}
	if r := sh("", "env", "set", "rag", "GREETING=hi there", "MODE=test"); r.code != 0 {
		t.Fatalf("env set: %+v", r)
	}
	if r := sh("", "env", "ls", "rag"); r.code != 0 || r.stdout != "GREETING=hi there\nMODE=test\n" {
		t.Errorf("env ls: %+v", r)
	}
	if r := sh(secret+"\n", "secret", "set", "rag", "OPENAI_API_KEY"); r.code != 0 {
		t.Fatalf("secret set from stdin: %+v", r)
	}
	if r := sh("", "secret", "ls", "rag"); r.code != 0 || !strings.HasPrefix(r.stdout, "OPENAI_API_KEY\t") {
		t.Errorf("secret ls: %+v", r)
	}
	if r := sh("", "show", "rag"); r.code != 0 || !strings.Contains(r.stdout, "config:\tOPENAI_API_KEY\tsecret\trequired\tsecret\ttags.yaml\n") ||
		!strings.Contains(r.stdout, "config:\tGREETING\tvariable\toptional\t\t\n") {
		t.Errorf("show after the secret was set: %+v", r)
	}
	r = sh("", "launch", "rag", "--no-open")
	if r.code != 0 {
		t.Fatalf("launch: %+v", r)
	}
	env := fetch(t, d.URL+"/apps/rag/env")
	if !strings.Contains(env, `"OPENAI_API_KEY=`+secret+`"`) || !strings.Contains(env, `"GREETING=hi there"`) {
		t.Fatalf("the app's environment: %s", env)
	}

	if r := sh("", "env", "unset", "rag", "MODE"); r.code != 0 {
		t.Fatalf("env unset: %+v", r)
	}
	if r := sh("", "ps"); r.code != 0 || !strings.Contains(r.stdout, "\tconfig-changed") {
		t.Errorf("ps after a change: %+v, want the launch marked config-changed", r)
	}
	if r := sh("", "launch", "rag", "--restart", "--no-open"); r.code != 0 {
		t.Fatalf("launch --restart: %+v", r)
	}
	if env := fetch(t, d.URL+"/apps/rag/env"); strings.Contains(env, "MODE=test") {
		t.Errorf("after --restart the app still has MODE: %s", env)
	}
	if r := sh("", "secret", "rm", "rag", "OPENAI_API_KEY"); r.code != 0 {
		t.Errorf("secret rm: %+v", r)
	}
	if r := sh("", "secret", "rm", "rag", "OPENAI_API_KEY"); r.code != cli.ExitNotFound {
		t.Errorf("secret rm again: %+v, want exit 3", r)
	}
	if r := sh("", "launch", "rag", "--restart", "--no-open"); r.code != cli.ExitUsage {
		t.Errorf("launch after the secret was removed: %+v, want exit 2", r)
	}
	if strings.Contains(outputs.String(), secret) {
		t.Error("the secret's value appears in the CLI's output")
	}
	if strings.Contains(d.Logs(), secret) {
		t.Error("the secret's value appears in appstored's log")
	}
}

// fetch GETs url and returns the body of a 200.
func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
