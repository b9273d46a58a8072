package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
)

// appstoreEnv runs the CLI in process with env, as in a pipe (or on a
// terminal with tty).
func appstoreEnv(t *testing.T, env map[string]string, tty bool, stdin string, args ...string) run {
	t.Helper()
	ios, out, errOut := cli.TestStreams(stdin)
	ios.SetTTY(false, tty, tty)
	code := cli.Main(context.Background(), cli.NewFactory(ios, func(k string) string { return env[k] }), args)
	return run{code, out.String(), errOut.String()}
}

// TestServicesCommands drives every services command against appstored
// running in process, with a real health endpoint.
func TestServicesCommands(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{ServiceToken: "svc-token-0123456789", HealthInterval: 100 * time.Millisecond})
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer health.Close()
	env := map[string]string{cli.EnvURL: d.URL, cli.EnvServiceToken: "svc-token-0123456789"}
	noToken := map[string]string{cli.EnvURL: d.URL}
	sh := func(args ...string) run { t.Helper(); return appstoreEnv(t, env, false, "", args...) }

	// No token, a wrong one, the daemon's: refused with what to do.
	r := appstoreEnv(t, noToken, false, "", "services", "add", "llm", health.URL)
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "APPSTORE_SERVICE_TOKEN") {
		t.Errorf("add without token: %+v", r)
	}
	r = appstoreEnv(t, noToken, false, "", "services", "add", "llm", health.URL, "--service-token", "wrong")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "service token is wrong") {
		t.Errorf("add with a wrong token: %+v", r)
	}

	r = sh("services", "add", "llm", health.URL, "--name", "LLM gateway", "--kind", "llm", "--capability", "chat",
		"--metadata", `{"owner":"ml"}`, "--json")
	var svc client.Service
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &svc) != nil || svc.Slug != "llm" || svc.HealthURL != health.URL+"/healthz" {
		t.Fatalf("add --json: %+v", r)
	}
	// The same again is fine; a different one is a conflict (exit 5).
	if r = sh("services", "add", "llm", health.URL, "--name", "LLM gateway", "--kind", "llm", "--capability", "chat", "--metadata", `{"owner":"ml"}`); r.code != 0 || r.stdout != "llm\n" {
		t.Errorf("add again: %+v", r)
	}
	if r = sh("services", "add", "llm", "http://elsewhere"); r.code != cli.ExitConflict || !strings.Contains(r.stderr, "patch") {
		t.Errorf("conflicting add: %+v", r)
	}
	for _, bad := range [][]string{
		{"services", "add", "llm2", "ftp://x"},
		{"services", "add", "llm2", "http://x", "--metadata", "[1]"},
		{"services", "add", "llm2", "http://x", "--health-interval", "often"},
		{"services", "add", "llm2"},
		{"services", "patch", "llm"},
		{"services", "patch", "llm", "--capability", "x", "--clear-capabilities"},
		{"services", "list", "--status", "up"},
		{"services", "frobnicate"},
	} {
		if r := sh(bad...); r.code != cli.ExitUsage || r.stderr == "" {
			t.Errorf("%v: %+v, want exit 2 with a message", bad, r)
		}
	}

	// The poller finds the new service: list shows it healthy.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = sh("services", "list")
		if strings.HasPrefix(r.stdout, "llm\thealthy\tllm\t") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list never showed llm healthy: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if f := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\t"); len(f) != 7 || f[5] != health.URL+"/healthz" || f[6] != "" {
		t.Errorf("list fields %q", f)
	}
	if r = sh("services"); !strings.HasPrefix(r.stdout, "llm\thealthy") {
		t.Errorf("bare services: %+v", r)
	}
	if r = sh("services", "list", "--capability", "chat", "-q"); r.stdout != "llm\n" {
		t.Errorf("list -q: %+v", r)
	}
	if r = sh("services", "list", "--kind", "db", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty list --json: %+v", r)
	}
	r = sh("services", "show", "llm")
	for _, want := range []string{"slug:\tllm\n", "name:\tLLM gateway\n", "status:\thealthy\n", "capabilities:\tchat\n", "source:\tapi\n", `metadata:	{"owner":"ml"}`, "next check:\t20"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	// On a terminal: a table with a header, latency in ms, relative times.
	r = appstoreEnv(t, env, true, "", "--no-color", "services", "list")
	if !strings.HasPrefix(r.stdout, "SLUG  STATUS   KIND") || !strings.Contains(r.stdout, " ms ") || !strings.Contains(r.stdout, "just now") {
		t.Errorf("list on a terminal:\n%s", r.stdout)
	}
	r = appstoreEnv(t, env, true, "", "--no-color", "services", "show", "llm")
	if !strings.Contains(r.stdout, "status:       healthy\n") || !strings.Contains(r.stdout, "next check:   in ") && !strings.Contains(r.stdout, "next check:   now") {
		t.Errorf("show on a terminal:\n%s", r.stdout)
	}
	if r = sh("services", "show", "nope"); r.code != cli.ExitNotFound {
		t.Errorf("show missing: %+v", r)
	}
	if r = sh("services", "show", "llm", "--jq", ".status"); r.stdout != "healthy\n" {
		t.Errorf("show --jq: %+v", r)
	}

	r = sh("services", "patch", "llm", "--kind", "gateway", "--health-interval", "5s", "--clear-capabilities")
	if r.code != 0 || !strings.Contains(r.stdout, "kind:\tgateway\n") || !strings.Contains(r.stdout, "interval:\t5s\n") || strings.Contains(r.stdout, "capabilities:") {
		t.Errorf("patch: %+v", r)
	}
	if r = sh("services", "patch", "llm", "--health-interval", "default"); r.code != 0 || strings.Contains(r.stdout, "interval:") {
		t.Errorf("patch back to the default interval: %+v", r)
	}

	// import: a file, then the same again, then standard input.
	dir := t.TempDir()
	manifest := filepath.Join(dir, "services.json")
	body := `{"services":[
		{"slug":"search","base_url":"` + health.URL + `","kind":"search"},
		{"slug":"vectors","base_url":"` + health.URL + `","health_url":"` + health.URL + `/ready","health_interval":"1m"}
	]}`
	if err := os.WriteFile(manifest, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if r = sh("services", "import", manifest); r.code != 0 || r.stdout != "search\tcreated\nvectors\tcreated\n" {
		t.Errorf("import: %+v", r)
	}
	if r = sh("services", "import", manifest); r.code != 0 || r.stdout != "search\tunchanged\nvectors\tunchanged\n" {
		t.Errorf("import again: %+v", r)
	}
	r = appstoreEnv(t, env, true, "", "services", "import", manifest)
	if r.code != 0 || !strings.Contains(r.stdout, "0 created, 0 updated, 2 unchanged, 0 deleted") {
		t.Errorf("import on a terminal: %+v", r)
	}
	r = appstoreEnv(t, env, false, `{"services":[{"slug":"search","base_url":"`+health.URL+`","kind":"search"}]}`, "services", "import", "-", "--prune", "--json")
	var res client.ServiceImportResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Unchanged != 1 || res.Deleted != 1 || res.Services[1].Slug != "vectors" {
		t.Errorf("import - --prune --json: %+v", r)
	}
	if r = sh("services", "show", "llm"); r.code != 0 {
		t.Errorf("prune removed the API-registered llm: %+v", r)
	}

	// A bad manifest: nothing applied, every bad entry reported, exit 2.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"services":[{"slug":"ok","base_url":"http://ok"},{"slug":"b","base_url":"gopher://x"},{"slug":"c","base_url":"http://c","helth_url":"x"}]}`), 0o600)
	r = sh("services", "import", bad)
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "bad.json: 2 entries of the manifest are invalid; nothing was applied:\n") ||
		!strings.Contains(r.stderr, "services[1] (b): base_url:") || !strings.Contains(r.stderr, "services[2] (c): helth_url: unknown field") {
		t.Errorf("bad manifest: %+v", r)
	}
	if r = sh("services", "show", "ok"); r.code != cli.ExitNotFound {
		t.Errorf("a refused manifest created ok: %+v", r)
	}
	os.WriteFile(bad, []byte(`{"services":[{"slug":"ok","base_url":"http://ok"},{"slug":"b","base_url":"gopher://x"}]}`), 0o600)
	if r = sh("services", "import", bad); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "bad.json: 1 entry of the manifest is invalid; nothing was applied:\n") {
		t.Errorf("one bad entry: %+v", r)
	}
	os.WriteFile(bad, []byte("{\"services\": [\n  {\"slug\": \"x\",}\n]}"), 0o600)
	if r = sh("services", "import", bad); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "bad.json:2:") {
		t.Errorf("manifest that is not JSON: %+v", r)
	}
	if r = sh("services", "import", filepath.Join(dir, "missing.json")); r.code != cli.ExitUsage {
		t.Errorf("missing manifest: %+v", r)
	}

	// rm: one missing among several is reported, the rest removed.
	r = sh("services", "rm", "llm", "nope", "search")
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "nope") {
		t.Errorf("rm: %+v", r)
	}
	if r = sh("services", "list", "-q"); r.stdout != "" {
		t.Errorf("after rm: %+v", r)
	}
}
