package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// TestPsSaysWhoLaunched: ps names the user who started each launch — a
// BY column on a terminal, the last field in a pipe (after the reason
// with --all) — and leaves it empty for a launch the daemon started (a
// wake, the warm pool, a redeploy); show's launch line says it too.
// The launches are written to the store as the runner does (no engine is
// needed to list them).
func TestPsSaysWhoLaunched(t *testing.T) {
	d, as := communityDaemon(t)
	ctx := context.Background()
	ann, err := d.Store.User(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	dashID, dashBuild := runnertest.App(t, d.Store, "web", "appstore/web:test", "sha256:"+strings.Repeat("1", 64), 8080)
	idleID, idleBuild := runnertest.App(t, d.Store, "idle", "appstore/idle:test", "sha256:"+strings.Repeat("2", 64), 8080)
	begin := func(ctx context.Context, repoID, buildID int64) *client.Launch {
		t.Helper()
		l, _, err := d.Store.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repoID, BuildID: buildID, AppPort: 8080,
			Profile: "small", Runner: "ps-test", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	byAnn := begin(catalog.WithActor(ctx, *ann), dashID, dashBuild)
	byDaemon := begin(ctx, idleID, idleBuild)
	if byAnn.LaunchedBy != "ann" || byDaemon.LaunchedBy != "" {
		t.Fatalf("launched_by: %q and %q, want ann and none", byAnn.LaunchedBy, byDaemon.LaunchedBy)
	}

	r := as("bob", false, "", "ps")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("ps in a pipe:\n%s", r)
	}
	for _, want := range []struct{ app, by string }{{"idle", ""}, {"web", "ann"}} {
		var f []string
		for _, l := range lines {
			if strings.Split(l, "\t")[1] == want.app {
				f = strings.Split(l, "\t")
			}
		}
		if len(f) != 10 || f[9] != want.by {
			t.Errorf("ps line of %s: %q, want 10 fields ending in %q", want.app, f, want.by)
		}
	}
	r = as("bob", false, "", "ps", "--all", "--app", "web")
	if f := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\t"); r.code != 0 || len(f) != 11 || f[10] != "ann" {
		t.Errorf("ps --all in a pipe: %q (%s), want 11 fields, the launcher after the reason", f, r)
	}

	r = as("bob", true, "", "ps")
	r.stdout = ansiCodes.ReplaceAllString(r.stdout, "")
	if r.code != 0 || !regexp.MustCompile(`(?m)^ID +APP +STATUS +BY +PROFILE `).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^\d+ +web +starting +ann +small `).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^\d+ +idle +starting +small `).MatchString(r.stdout) {
		t.Errorf("ps on a terminal:\n%s", r)
	}
	r = as("bob", false, "", "ps", "--json")
	if ls := decodeJSON[[]client.Launch](t, r.stdout); r.code != 0 || len(ls) != 2 || ls[0].LaunchedBy+ls[1].LaunchedBy != "ann" {
		t.Errorf("ps --json: %s", r)
	}

	if r = as("bob", false, "", "show", "web"); !regexp.MustCompile(`(?m)^launch:\t\d+\tstarting\t\d+\t\t\tann$`).MatchString(r.stdout) {
		t.Errorf("show web in a pipe, launch line:\n%s", r)
	}
	r = as("bob", true, "", "show", "web")
	if r.stdout = ansiCodes.ReplaceAllString(r.stdout, ""); !regexp.MustCompile(`(?m)^launch: +\d+ starting, build #\d+, by ann$`).MatchString(r.stdout) {
		t.Errorf("show web on a terminal, launch line:\n%s", r)
	}
}

// ansiCodes are the colours of terminal output.
var ansiCodes = regexp.MustCompile("\x1b\\[[0-9;]*m")
