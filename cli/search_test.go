package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// searchFixture runs appstored (API role only: nothing ingests the made-up
// repositories) with a small catalog written through its store.
func searchFixture(t *testing.T) *daemon.Daemon {
	t.Helper()
	d := daemontest.Start(t, daemon.Config{Roles: []string{daemon.RoleAPI}})
	ctx := context.Background()
	for _, a := range []struct {
		name, description string
		tags              []string
		status            catalog.IngestStatus
		launches          int64
		build             catalog.BuildStatus
	}{
		{"gin-chat", "chat rooms over websockets", []string{"lang:go", "framework:gin", "license:mit"}, catalog.IngestReady, 9, catalog.BuildSucceeded},
		{"fiber-board", "kanban board", []string{"lang:go", "framework:fiber", "topic:fractal"}, catalog.IngestReady, 3, ""},
		{"flask-wiki", "a wiki", []string{"lang:python", "framework:flask", "license:mit"}, catalog.IngestFailed, 0, catalog.BuildFailed},
	} {
		in := store.NewRepository{Name: a.name, NameManual: true,
			GitURL: "https://git.example.com/o/" + a.name + ".git", GitURLKey: "git.example.com/o/" + a.name,
			Tags: storetest.Tags(t, a.tags...)}
		repo, err := d.Store.CreateRepository(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Store.Pool().Exec(ctx, `UPDATE repositories SET description = $2, ingest_status = $3, launch_count = $4 WHERE id = $1`,
			repo.ID, a.description, string(a.status), a.launches); err != nil {
			t.Fatal(err)
		}
		if a.build != "" {
			if _, err := d.Store.Pool().Exec(ctx, `INSERT INTO builds (repository_id, status) VALUES ($1, $2)`, repo.ID, string(a.build)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d
}

func jsonOut[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON %T: %v\n%s", v, err, s)
	}
	return v
}

func TestSearchCommand(t *testing.T) {
	d := searchFixture(t)
	env := map[string]string{cli.EnvURL: d.URL}
	sh := func(args ...string) run { t.Helper(); return appstoreEnv(t, env, false, "", args...) }

	// In a pipe: tab-separated, every result, most launched first.
	r := sh("search", "lang:go")
	want := "gin-chat\tgin-chat\tready\tsucceeded\tframework:gin,lang:go,license:mit\n" +
		"fiber-board\tfiber-board\tready\t-\tframework:fiber,lang:go,topic:fractal\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("search lang:go: %+v\nwant stdout %q", r, want)
	}
	// Several terms are one query; words match text.
	if r := sh("search", "lang:go", "kanban"); r.code != 0 || !strings.HasPrefix(r.stdout, "fiber-board\t") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("search lang:go kanban: %+v", r)
	}
	if r := sh("search", "-q", "status:failed"); r.code != 0 || r.stdout != "flask-wiki\n" {
		t.Errorf("search -q status:failed: %+v", r)
	}
	if r := sh("search", "-q"); r.code != 0 || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("search with no terms lists everything: %+v", r)
	}
	if r := sh("search", "-q", "license:mit", "--limit", "1"); r.code != 0 || r.stdout != "gin-chat\n" {
		t.Errorf("--limit 1: %+v", r)
	}
	r = sh("search", "--json", "framework:gin,flask")
	results := jsonOut[[]client.SearchResult](t, r.stdout)
	if r.code != 0 || len(results) != 2 || results[0].Slug != "gin-chat" || results[0].LatestBuild == nil || len(results[0].Tags) != 3 {
		t.Errorf("--json: %+v", r)
	}
	if r := sh("search", "--jq", ".[].slug", "lang:python"); r.code != 0 || r.stdout != "flask-wiki\n" {
		t.Errorf("--jq: %+v", r)
	}
	// Exclusions after "--".
	if r := sh("search", "-q", "lang:go", "--", "-framework:gin"); r.code != 0 || r.stdout != "fiber-board\n" {
		t.Errorf("exclusion after --: %+v", r)
	}
	if r := sh("search", "-license:mit"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, `after "--": appstore search <other terms> -- -license:mit`) {
		t.Errorf("exclusion read as a flag: %+v, want a usage error saying to use --", r)
	}

	// A mistake in the query: exit 2, the query and a caret under it.
	r = sh("search", "lang:go", "framework:")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "empty value") ||
		!strings.Contains(r.stderr, "\n  lang:go framework:\n                    ^\n") {
		t.Errorf("bad query: %+v", r)
	}
	if r := sh("search", "status:sleeping"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "queued, processing, ready or failed") {
		t.Errorf("bad status: %+v", r)
	}

	// A star shows in the terminal's table (a STARS column); a pipe keeps
	// its columns, and --json has the count.
	local, err := d.Store.User(context.Background(), catalog.LocalUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.SetStar(context.Background(), "gin-chat", local.ID, true); err != nil {
		t.Fatal(err)
	}
	if r := sh("search", "lang:go"); r.code != 0 || r.stdout != want {
		t.Errorf("piped search after a star: %q, want the same columns %q", r.stdout, want)
	}
	r = appstoreEnv(t, env, true, "", "search", "lang:go", "--no-color")
	if r.code != 0 || !regexp.MustCompile(`(?m)^SLUG +NAME +STATUS +BUILD +STARS +TAGS$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^gin-chat +gin-chat +ready +succeeded +★ 1 +framework:gin`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^fiber-board +fiber-board +ready +- +☆ 0 +framework:fiber`).MatchString(r.stdout) {
		t.Errorf("terminal search with stars:\n%s", r.stdout)
	}
	if res := jsonOut[[]client.SearchResult](t, sh("search", "--json", "lang:go").stdout); len(res) != 2 || res[0].StarCount != 1 {
		t.Errorf("--json star counts: %+v", res)
	}

	// On a terminal: a table, and how many more there are.
	r = appstoreEnv(t, env, true, "", "search", "--limit", "1", "--no-color")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "SLUG") || !strings.Contains(r.stdout, "gin-chat") ||
		!strings.Contains(r.stderr, "Showing 1 of 3") {
		t.Errorf("terminal: %+v", r)
	}
	if r := appstoreEnv(t, env, true, "", "search", "lang:cobol"); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No repositories match") {
		t.Errorf("no match on a terminal: %+v", r)
	}
}

func TestTagsCommand(t *testing.T) {
	d := searchFixture(t)
	env := map[string]string{cli.EnvURL: d.URL}
	sh := func(args ...string) run { t.Helper(); return appstoreEnv(t, env, false, "", args...) }

	if r := sh("tags", "fra"); r.code != 0 || r.stdout != "framework:\t3\tkey\ntopic:fractal\t1\tpair\n" {
		t.Errorf("tags fra: %+v", r)
	}
	if r := sh("tags", "lang:"); r.code != 0 || r.stdout != "lang:go\t2\tvalue\nlang:python\t1\tvalue\n" {
		t.Errorf("tags lang:: %+v", r)
	}
	// Earlier terms narrow the counts.
	if r := sh("tags", "-q", "license:mit", "framework:"); r.code != 0 || r.stdout != "framework:flask\nframework:gin\n" {
		t.Errorf("tags license:mit framework:: %+v", r)
	}
	if r := sh("tags", "--limit", "1", "-q"); r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("--limit 1: %+v", r)
	}
	r := sh("tags", "--json", "lang:g")
	sg := jsonOut[[]client.Suggestion](t, r.stdout)
	if r.code != 0 || len(sg) != 1 || sg[0].Text != "lang:go" || sg[0].Count != 2 || sg[0].Kind != catalog.SuggestValue {
		t.Errorf("--json: %+v", r)
	}
	// The daemon finds the rest of the query broken: position and caret.
	if r := sh("tags", "lang:", "fr"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "\n  lang: fr\n       ^\n") {
		t.Errorf("broken rest: %+v", r)
	}
	if r := sh("tags", "--limit", "0"); r.code != cli.ExitUsage {
		t.Errorf("--limit 0: %+v", r)
	}
	r = appstoreEnv(t, env, true, "", "tags", "--no-color", "lang:")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "TAG") || !strings.Contains(r.stdout, "lang:go") {
		t.Errorf("terminal: %+v", r)
	}
}

// complete runs cobra's hidden __complete command, as the shell scripts
// do, and returns the candidates and the directive line.
func complete(t *testing.T, env map[string]string, args ...string) ([]string, string) {
	t.Helper()
	r := appstoreEnv(t, env, false, "", append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %v: %+v", args, r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

func TestSearchCompletion(t *testing.T) {
	d := searchFixture(t)
	env := map[string]string{cli.EnvURL: d.URL}
	const noFile, noSpaceNoFile = ":4", ":6"

	for _, tc := range []struct {
		args      []string
		want      []string
		directive string
	}{
		{[]string{"search", "lang:"}, []string{"lang:go\t2 repositories", "lang:python\t1 repository"}, noFile},
		{[]string{"search", "fra"}, []string{"framework:\t3 repositories"}, noSpaceNoFile},
		{[]string{"search", "lang:go", "framework:"}, []string{"framework:fiber\t1 repository", "framework:gin\t1 repository"}, noFile},
		{[]string{"search", "lang:go,p"}, []string{"lang:go,python\t1 repository"}, noFile},
		{[]string{"search", "lang:python,g"}, []string{"lang:python,go\t2 repositories"}, noFile},
		{[]string{"search", "lang:go,g"}, nil, noFile}, // not lang:go,go
		{[]string{"search", "--", "-lic"}, []string{"-license:\t2 repositories"}, noSpaceNoFile},
		{[]string{"search", "lang:cobol", "fr"}, nil, noFile},
		{[]string{"tags", "stat"}, []string{"status:\t3 repositories"}, noSpaceNoFile},
	} {
		got, directive := complete(t, env, tc.args...)
		if !slices.Equal(got, tc.want) || directive != tc.directive {
			t.Errorf("%v: %q %s, want %q %s", tc.args, got, directive, tc.want, tc.directive)
		}
	}
	// No daemon: no candidates, and no error in the shell.
	got, directive := complete(t, map[string]string{cli.EnvURL: "http://127.0.0.1:1"}, "search", "lang:")
	if len(got) != 0 || directive != noFile {
		t.Errorf("daemon down: %q %s", got, directive)
	}
}

// TestBashCompletionCompletesAfterAColon runs the generated bash script in
// bash with bash-completion, the way a TAB does: ':' is in COMP_WORDBREAKS,
// so bash sees "lang:g" as the words "lang", ":" and "g", and the script
// must hand back only what goes after the colon.
func TestBashCompletionCompletesAfterAColon(t *testing.T) {
	bash, err := exec.LookPath("bash")
	testenv.Require(t, "bash", err)
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	_, err = os.Stat(bashCompletion)
	testenv.Require(t, "bash-completion (apt-get install bash-completion)", err)

	d := searchFixture(t)
	bin := testenv.Binary(t, "./cmd/appstore")
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "appstore")); err != nil {
		t.Fatal(err)
	}
	tab := func(line string) []string {
		t.Helper()
		script := `
source ` + bashCompletion + `
source <(appstore completion bash)
[[ $COMP_WORDBREAKS == *:* ]] || { echo "no colon in COMP_WORDBREAKS" >&2; exit 1; }
COMP_LINE=$LINE
COMP_POINT=${#COMP_LINE}
# Split the line as readline does, with ':' a word of its own.
read -r -a COMP_WORDS <<< "${LINE//:/ : }"
[[ $LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
__start_appstore appstore "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
			cli.EnvURL+"="+d.URL, "LINE="+line, "COLUMNS=200")
		// Outside a real TAB, compopt complains on stderr; the candidates
		// are on stdout.
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("bash: %v\n%s%s", err, out, ee.Stderr)
			}
			t.Fatal(err)
		}
		return strings.Fields(strings.TrimSpace(string(out)))
	}
	// One candidate: just the value, after the colon bash split off.
	if got := tab("appstore search lang:p"); !slices.Equal(got, []string{"python"}) {
		t.Errorf("lang:p<TAB>: %q, want python", got)
	}
	if got := tab("appstore search lang:go framework:g"); !slices.Equal(got, []string{"gin"}) {
		t.Errorf("framework:g<TAB> after lang:go: %q, want gin", got)
	}
	// Several: every value, each with its count.
	got := tab("appstore search lang:")
	if joined := strings.Join(got, " "); !strings.Contains(joined, "go") || !strings.Contains(joined, "python") || strings.Contains(joined, "lang:") {
		t.Errorf("lang:<TAB>: %q, want go and python without the key", got)
	}
	if got := tab("appstore search fra"); !slices.Equal(got, []string{"framework:"}) {
		t.Errorf("fra<TAB>: %q, want framework:", got)
	}
}

// TestSearchCompletionScripts checks that every shell's script is generated
// and asks the binary for completions (the mechanism completeQuery serves).
func TestSearchCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := appstoreEnv(t, nil, false, "", "completion", sh)
		if r.code != 0 || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s: exit %d, %d bytes, no __complete call", sh, r.code, len(r.stdout))
		}
	}
}
