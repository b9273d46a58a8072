// Package testenv gives tests across the project the real things they run
// against: throwaway PostgreSQL databases (Postgres), private Redis servers
// (Redis, StartRedis), the Docker engine (Docker), freshly built binaries
// (Binary, StaticBinary), a real appstored process (StartAppstored), free
// loopback addresses (FreeAddr), a buffer processes write while the test
// reads it (LockedBuffer), and the rule for missing dependencies (Require):
// locally a test without its dependency is skipped, with CI=true it fails.
//
// Environment:
//
//	CI=true                       missing dependencies fail tests instead of skipping them
//	APPSTORE_TEST_DATABASE_URL    create test databases on this server instead of the shared embedded cluster
//	APPSTORE_TEST_PGDIR           data directory of the shared embedded cluster (default /dev/shm/appstore-testpg-<uid>
//	                              on a roomy tmpfs, else $TMPDIR/appstore-testpg-<uid>)
//	DOCKER_HOST                   the Docker engine (default unix:///var/run/docker.sock)
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where nothing may be
// skipped for lack of a dependency.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Require stops the test when err says that a dependency (what) is missing:
// with CI=true the test fails, since `make test` installs and starts every
// dependency; otherwise it is skipped.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if InCI() {
		t.Fatalf("%s missing: %v; make test installs it (scripts/test-deps.sh)", what, err)
		return
	}
	t.Skipf("%s missing: %v (make test installs it)", what, err)
}

// ModuleRoot returns the directory of the main module's go.mod, found by
// walking up from the test's working directory (its package directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above", dir)
		}
	}
}

var scratch struct {
	once sync.Once
	dir  string
	err  error
}

// scratchDir is a directory for what lives as long as the test binary (built
// binaries): $TMPDIR/appstore-testenv/<pid>. Directories of test binaries that
// are gone are removed when the next one starts.
func scratchDir() (string, error) {
	scratch.once.Do(func() {
		base := filepath.Join(os.TempDir(), "appstore-testenv-"+strconv.Itoa(os.Geteuid()))
		if err := os.MkdirAll(base, 0o755); err != nil {
			scratch.err = err
			return
		}
		ents, _ := os.ReadDir(base)
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err == nil && !pidAlive(pid) {
				_ = os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
		scratch.dir = filepath.Join(base, strconv.Itoa(os.Getpid()))
		scratch.err = os.MkdirAll(scratch.dir, 0o755)
	})
	return scratch.dir, scratch.err
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
