package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

type build struct {
	once sync.Once
	path string
	err  error
}

var builds sync.Map // cache key → *build

func cached(key string, do func() (string, error)) (string, error) {
	v, _ := builds.LoadOrStore(key, &build{})
	b := v.(*build)
	b.once.Do(func() { b.path, b.err = do() })
	return b.path, b.err
}

// goTool returns the go command that builds this test binary's toolchain.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// raceEnabled reports whether this test binary was built with -race, so that
// binaries built for it are too.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// Binary builds the main package pkg of this module (a path relative to the
// module root such as "./cmd/appstored", or an import path) once per test
// binary and returns the path of the executable. A build failure fails the
// test with the compiler's output.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	p, err := cached("pkg:"+pkg, func() (string, error) {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir, err := scratchDir()
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256([]byte(pkg))
		out := filepath.Join(dir, path.Base(strings.TrimSuffix(pkg, "/"))+"-"+hex.EncodeToString(sum[:4]))
		args := []string{"build", "-o", out}
		if raceEnabled() {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, pkg)...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
		return out, nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p
}

// StaticBinary compiles a self-contained Go program (package main, standard
// library only) from source into a static linux executable (CGO_ENABLED=0,
// for this machine's architecture) and returns its path; the result is cached
// per test binary by the source's hash. Tests put it into FROM scratch images.
func StaticBinary(t testing.TB, goSource string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(goSource))
	key := hex.EncodeToString(sum[:8])
	p, err := cached("static:"+key, func() (string, error) {
		dir, err := scratchDir()
		if err != nil {
			return "", err
		}
		src := filepath.Join(dir, "static-"+key)
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(goSource), 0o644); err != nil {
			return "", err
		}
		// A module of its own, outside ours: the program needs no dependency,
		// and the go line is old enough for any toolchain to build it locally.
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module staticbin\n\ngo 1.21\n"), 0o644); err != nil {
			return "", err
		}
		out := filepath.Join(src, "app")
		// No -trimpath: it would rebuild the whole standard library once more.
		cmd := exec.Command(goTool(), "build", "-ldflags=-s -w", "-o", out, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(),
			"CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
			"GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build static binary: %w\n%s", err, b)
		}
		return out, nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p
}
