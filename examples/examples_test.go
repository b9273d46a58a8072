// Package examples holds the demo's apps, each a module of its own; this
// test checks what their READMEs promise.
package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/internal/testenv"
)

// buildBlockRE finds the shell block after "Build it by hand with:".
var buildBlockRE = regexp.MustCompile("(?s)Build it by hand with:\\s*```sh\\n(.*?)```")

// imageRE finds the image a build instruction tags.
var imageRE = regexp.MustCompile(`docker build -t (\S+)`)

// TestBuildInstructionsWorkInACopy runs each example's build instruction,
// as its README gives it, in a copy of the example outside this repository
// (as someone who copied the directory would): it must compile and build
// the image.
func TestBuildInstructionsWorkInACopy(t *testing.T) {
	testenv.Docker(t)
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Require(t, "go", err)
	}
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		readme, err := os.ReadFile(filepath.Join(e.Name(), "README.md"))
		if err != nil {
			continue
		}
		n++
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			m := buildBlockRE.FindSubmatch(readme)
			if m == nil {
				t.Fatalf("%s/README.md has no \"Build it by hand with:\" sh block", name)
			}
			script := strings.TrimSpace(string(m[1]))
			copyDir := filepath.Join(t.TempDir(), name)
			if err := os.CopyFS(copyDir, os.DirFS(name)); err != nil {
				t.Fatal(err)
			}
			_ = os.Remove(filepath.Join(copyDir, "app")) // a binary make demo left
			if im := imageRE.FindStringSubmatch(script); im != nil {
				t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", im[1]).Run() })
			}
			cmd := exec.Command("sh", "-ec", script)
			cmd.Dir = copyDir
			// Outside this module: no go.work or GOFLAGS of ours may help.
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %q in a copy of the example: %v\n%s", name, script, err, out)
			}
			if _, err := os.Stat(filepath.Join(copyDir, "app")); err != nil {
				t.Errorf("no binary after the build: %v", err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no examples found")
	}
}
