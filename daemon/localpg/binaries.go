package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNotInstalled is returned (wrapped) by Start when no PostgreSQL server
// binaries can be found. Callers such as tests may check it with errors.Is.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (pg_ctl, initdb, postgres) not found")

// binaries is one PostgreSQL installation: a directory holding pg_ctl, initdb
// and postgres, and its major version.
type binaries struct {
	dir     string
	major   int
	version string // e.g. "15.18"
}

func (b binaries) path(name string) string { return filepath.Join(b.dir, name) }

// candidateGlobs are where PostgreSQL installs its server binaries outside
// PATH: Debian/Ubuntu, RHEL/PGDG, and Homebrew's keg-only formulae.
var candidateGlobs = []string{
	"/usr/lib/postgresql/*/bin",
	"/usr/pgsql-*/bin",
	"/opt/homebrew/opt/postgresql@*/bin",
	"/usr/local/opt/postgresql@*/bin",
}

// candidateDirs lists the directories that may hold a PostgreSQL installation,
// in order of preference: the one on PATH first (the user's choice), then the
// well-known locations by descending version.
func candidateDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// Resolve symlinks (e.g. /usr/local/bin/pg_ctl -> /usr/lib/postgresql/15/bin)
		// so that initdb and postgres are looked up beside the real pg_ctl.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		add(filepath.Dir(p))
	}
	var globbed []string
	for _, g := range candidateGlobs {
		m, _ := filepath.Glob(g)
		globbed = append(globbed, m...)
	}
	sort.SliceStable(globbed, func(i, j int) bool {
		return versionFromPath(globbed[i]) > versionFromPath(globbed[j])
	})
	for _, d := range globbed {
		add(d)
	}
	return dirs
}

var pathVersionRE = regexp.MustCompile(`(?:postgresql[/@-]|pgsql-)(\d+)`)

func versionFromPath(p string) int {
	m := pathVersionRE.FindStringSubmatch(p)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"pg_ctl", "initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

var pgVersionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?`)

// probeBinaries asks pg_ctl in dir for its version.
func probeBinaries(ctx context.Context, dir string) (binaries, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "pg_ctl"), "--version").CombinedOutput()
	if err != nil {
		return binaries{}, fmt.Errorf("%s --version: %w: %s", filepath.Join(dir, "pg_ctl"), err, strings.TrimSpace(string(out)))
	}
	m := pgVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return binaries{}, fmt.Errorf("%s --version printed %q, which names no PostgreSQL version", filepath.Join(dir, "pg_ctl"), strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(m[1])
	v := m[1]
	if m[2] != "" {
		v += "." + m[2]
	}
	return binaries{dir: dir, major: major, version: v}, nil
}

// findBinaries picks the PostgreSQL installation to run. With override set, only
// that directory is considered. wantMajor, when not zero, is the major version
// of an existing cluster: its files can only be served by that major version.
func findBinaries(ctx context.Context, override string, wantMajor int) (binaries, error) {
	dirs := candidateDirs()
	if override != "" {
		if !hasServerBinaries(override) {
			return binaries{}, fmt.Errorf("%w in %s (the configured PostgreSQL bin directory): point it at a directory holding pg_ctl, initdb and postgres, e.g. /usr/lib/postgresql/15/bin", ErrNotInstalled, override)
		}
		dirs = []string{override}
	}
	var found []binaries
	var probeErrs []error
	for _, d := range dirs {
		if !hasServerBinaries(d) {
			continue
		}
		b, err := probeBinaries(ctx, d)
		if err != nil {
			probeErrs = append(probeErrs, err)
			continue
		}
		if wantMajor == 0 || b.major == wantMajor {
			return b, nil
		}
		found = append(found, b)
	}
	if len(found) > 0 {
		var have []string
		for _, b := range found {
			have = append(have, fmt.Sprintf("%s (%s)", b.version, b.dir))
		}
		return binaries{}, fmt.Errorf("the embedded cluster was created by PostgreSQL %d, but only PostgreSQL %s is installed: install PostgreSQL %d's server (e.g. apt-get install postgresql-%d) or upgrade the cluster with pg_upgrade",
			wantMajor, strings.Join(have, ", "), wantMajor, wantMajor)
	}
	if len(probeErrs) > 0 {
		return binaries{}, errors.Join(append([]error{ErrNotInstalled}, probeErrs...)...)
	}
	return binaries{}, fmt.Errorf("%w on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15), or run appstored against an existing server with --database-url / APPSTORE_DATABASE_URL", ErrNotInstalled)
}

// FindInstallation reports which PostgreSQL installation Start would use for a
// new cluster: the directory of its server binaries and its version. The error
// wraps ErrNotInstalled when there is none. binDir is as Options.BinDir.
func FindInstallation(ctx context.Context, binDir string) (dir, version string, err error) {
	b, err := findBinaries(ctx, binDir, 0)
	return b.dir, b.version, err
}
