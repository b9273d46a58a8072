package scripts

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestSourcesAreGofmted keeps every Go file of the module as gofmt writes
// it, so that a change never carries formatting noise.
func TestSourcesAreGofmted(t *testing.T) {
	gofmt := filepath.Join(strings.TrimSpace(goEnv(t, "GOROOT")), "bin", "gofmt")
	root := testenv.ModuleRoot(t)
	files, err := exec.Command("git", "-C", root, "ls-files", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	list := strings.Fields(string(files))
	if len(list) < 100 {
		t.Fatalf("git ls-files found %d Go files; the check would prove nothing", len(list))
	}
	cmd := exec.Command(gofmt, append([]string{"-l"}, list...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt -l: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("not gofmt-formatted (run gofmt -w on them):\n%s", s)
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return string(out)
}
