package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbidden are the module paths the CLI must never link: they belong to
// the daemon (database, Docker, queue, Git, BuildKit) and would make the
// client binary large and slow to start. The CLI reaches all of that
// through the API.
var forbidden = []string{
	"github.com/jackc/pgx",
	"github.com/docker/docker",
	"github.com/hibiken/asynq",
	"github.com/go-git/go-git",
	"github.com/redis/go-redis",
	"github.com/moby/buildkit",
	"github.com/appstore-dev/appstore/daemon",
	"github.com/appstore-dev/appstore/catalog/store",
}

func TestCLIDoesNotLinkDaemonDependencies(t *testing.T) {
	deps := goListDeps(t, ".")
	if len(deps) < 10 {
		t.Fatalf("go list -deps found %d packages; the check would prove nothing", len(deps))
	}
	if bad := forbiddenDeps(deps); len(bad) > 0 {
		t.Errorf("cmd/appstore depends on %s; reach the daemon through client/ instead (find the import chain with: go mod why -m %s)",
			strings.Join(bad, ", "), bad[0])
	}
	// The CLI must link what it is built from, or the list above is wrong.
	for _, want := range []string{"github.com/appstore-dev/appstore/cli", "github.com/appstore-dev/appstore/client", "github.com/spf13/cobra"} {
		if !slices.Contains(deps, want) {
			t.Errorf("go list -deps of cmd/appstore lacks %s", want)
		}
	}
}

// TestForbiddenDepsDetects makes sure the check fails for a package that
// does link a forbidden module.
func TestForbiddenDepsDetects(t *testing.T) {
	deps := goListDeps(t, "github.com/jackc/pgx/v5/pgxpool")
	if bad := forbiddenDeps(deps); len(bad) == 0 || !strings.HasPrefix(bad[0], "github.com/jackc/pgx") {
		t.Errorf("forbiddenDeps(deps of pgxpool) = %v, want pgx named", bad)
	}
}

func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	return strings.Fields(string(goList(t, "-deps", pkg)))
}

// goList runs go list with args and returns its output.
func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go command not found: %v", err)
		}
		t.Skipf("go command not found: %v", err)
	}
	out, err := exec.Command(goBin, append([]string{"list"}, args...)...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func forbiddenDeps(deps []string) []string {
	var bad []string
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				bad = append(bad, d)
				break
			}
		}
	}
	return bad
}

// TestCLIBuildsForOtherPlatforms cross-compiles the CLI for the systems
// people run it on besides Linux: it talks to appstored over HTTP only, so
// nothing Linux-specific may creep into it (the daemon runs on Linux and
// also builds for macOS).
func TestCLIBuildsForOtherPlatforms(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	for _, target := range []struct{ goos, goarch string }{{"darwin", "arm64"}, {"windows", "amd64"}} {
		cmd := exec.Command(goBin, "build", "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s GOARCH=%s go build ./cmd/appstore: %v\n%s", target.goos, target.goarch, err, out)
		}
	}
}
