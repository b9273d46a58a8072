package cli_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// ingestingDaemon runs appstored in process with the API and the ingest
// worker (no runner: builds are not what these tests watch).
func ingestingDaemon(t *testing.T) *daemon.Daemon {
	t.Helper()
	gitserver.RequireGit(t)
	return daemontest.Start(t, daemon.Config{Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})
}

// cmd runs the CLI in process against url; tty makes stdout and stderr
// terminals.
func cmd(t *testing.T, url string, tty bool, args ...string) run {
	t.Helper()
	ios, out, errOut := cli.TestStreams("")
	ios.SetTTY(false, tty, tty)
	ios.DisableColor()
	code := cli.Main(context.Background(), cli.NewFactory(ios, func(k string) string {
		if k == cli.EnvURL {
			return url
		}
		return ""
	}), args)
	return run{code, out.String(), errOut.String()}
}

// inOrder reports whether the patterns match lines of s in this order.
func inOrder(s string, patterns ...string) bool {
	lines := strings.Split(s, "\n")
	i := 0
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			return false
		}
		i++
	}
	return true
}

func TestAddWaitRefreshAndShowTimeline(t *testing.T) {
	d := ingestingDaemon(t)
	good := gitserver.NewNamedRepo(t, "dash", map[string]string{"Dockerfile": "FROM alpine:3.20\nEXPOSE 8080\n", "main.go": "package main\n"})
	broken := gitserver.NewNamedRepo(t, "nodock", map[string]string{"README.md": "# no Dockerfile here\n"})
	git := gitserver.HTTP(t, good, broken)

	r := cmd(t, d.URL, false, "add", git.URL(good), "--wait")
	if r.code != 0 || r.stdout != "dash\n" {
		t.Fatalf("add --wait: %+v", r)
	}
	if !inOrder(r.stderr, `^dash  queued +registered$`, `^dash  processing +cloning http://`, `^dash  ready +ingested [0-9a-f]{12} of main: Dockerfile, port 8080 from expose, \d+ tags \(\d`) {
		t.Errorf("add --wait steps:\n%s", r.stderr)
	}

	r = cmd(t, d.URL, false, "add", git.URL(broken), "--wait")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "error: nodock: ingestion failed: no Dockerfile found") {
		t.Errorf("add --wait of a repository without a Dockerfile: %+v", r)
	}
	if !inOrder(r.stderr, `^nodock  processing`, `^nodock  failed +\(\d`) || strings.Count(r.stderr, "no Dockerfile found") != 1 {
		t.Errorf("steps of the failure (the message once, in the error):\n%s", r.stderr)
	}

	// Refresh --wait shows only the new ingestion's steps.
	next := good.Commit(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nEXPOSE 9090\n"}, "port")
	r = cmd(t, d.URL, false, "refresh", "dash", "--wait")
	if r.code != 0 || r.stdout != "dash\n" {
		t.Fatalf("refresh --wait: %+v", r)
	}
	if strings.Contains(r.stderr, "registered") || !inOrder(r.stderr, `^dash  queued +refresh requested$`, `^dash  processing`, `^dash  ready +ingested `+next[:12]+` .*port 9090`) {
		t.Errorf("refresh --wait steps:\n%s", r.stderr)
	}
	if r := cmd(t, d.URL, false, "refresh", "nope"); r.code != cli.ExitNotFound {
		t.Errorf("refresh of a missing repository: %+v", r)
	}

	// --json prints the repository as the ingestion left it.
	r = cmd(t, d.URL, false, "refresh", "dash", "--wait", "--json")
	var repo client.Repository
	if err := json.Unmarshal([]byte(r.stdout), &repo); err != nil || r.code != 0 || repo.IngestStatus != "ready" || repo.AppPort != 9090 {
		t.Errorf("refresh --wait --json: %+v %v", r, err)
	}

	// show: the timeline, newest last, in a pipe and on a terminal.
	r = cmd(t, d.URL, false, "show", "dash")
	if r.code != 0 || !inOrder(r.stdout, `^commit:\t`+next+`$`, `^dockerfile:\tDockerfile$`, `^port:\t9090 \(from expose\)$`) {
		t.Errorf("show fields:\n%s", r.stdout)
	}
	// Each step names its actor: the user who registered the app (the
	// local user of an open daemon), the daemon for the ingestion runs.
	if !inOrder(r.stdout, `^step:\t\S+\tqueued\t0\t\t\tregistered\tlocal$`, `^step:\t\S+\tready\t1\t[0-9a-f]{40}\t\d+\tingested .*\tappstored:ingest$`, `^step:\t\S+\tready\t1\t`+next+`\t\d+\tingested .*\tappstored:ingest$`) {
		t.Errorf("show timeline in a pipe:\n%s", r.stdout)
	}
	r = cmd(t, d.URL, true, "show", "dash")
	if !inOrder(r.stdout, `^timeline:$`, `^  just now +queued +registered by local$`, `^  just now +ready +`+next[:12]+`  ingested .*\(\d.* by appstored:ingest$`) {
		t.Errorf("show timeline on a terminal:\n%s", r.stdout)
	}
}

func TestWaitBatchAndTimeout(t *testing.T) {
	d := ingestingDaemon(t)
	a := gitserver.NewNamedRepo(t, "a", map[string]string{"Dockerfile": "FROM alpine\n"})
	b := gitserver.NewNamedRepo(t, "b", map[string]string{"Dockerfile": "FROM alpine\nFROBNICATE\n"})
	git := gitserver.HTTP(t, a, b)

	// A batch: both are added, both followed, the failure sets the exit code.
	r := cmd(t, d.URL, false, "add", git.URL(a), git.URL(b), "--wait", "--json")
	var repos []client.Repository
	if err := json.Unmarshal([]byte(r.stdout), &repos); err != nil || len(repos) != 2 {
		t.Fatalf("batch --json: %v\n%+v", err, r)
	}
	if r.code != cli.ExitError || repos[0].IngestStatus != "ready" || repos[1].IngestStatus != "failed" ||
		!strings.Contains(r.stderr, "error: b: ingestion failed: Dockerfile:2: unknown instruction") {
		t.Errorf("batch: exit %d, %s and %s\n%s", r.code, repos[0].IngestStatus, repos[1].IngestStatus, r.stderr)
	}

	// A wait that runs out says so and exits 1; the ingestion goes on.
	slow := gitserver.NewNamedRepo(t, "slow", map[string]string{"Dockerfile": "FROM alpine\n"})
	git.Add(slow)
	r = cmd(t, d.URL, false, "add", git.URL(slow), "--wait", "--timeout", "1ms")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "after --timeout 1ms; the ingestion goes on") {
		t.Errorf("timeout: %+v", r)
	}
	if r := cmd(t, d.URL, false, "refresh", "slow", "--wait", "--timeout", "0s"); r.code != cli.ExitUsage {
		t.Errorf("--timeout 0s: %+v", r)
	}
}
