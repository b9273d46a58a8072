package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestPlainCommandsDoNotQueryTheTerminal runs `appstore version` on a
// pseudo-terminal that never answers (script(1) with no input): a command
// that asked the terminal for its colours, as Bubble Tea's init does, would
// write the query (ESC ] 11 ; ?) and wait 5 s for the answer. See
// internal/termbg.
func TestPlainCommandsDoNotQueryTheTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	testenv.Require(t, "script (util-linux)", err)
	bin := testenv.Binary(t, "./cmd/appstore")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qc", bin+" version", "/dev/null")
	// termenv takes any CI variable for "no terminal" and never queries:
	// the command must see what a user's shell gives it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil && !strings.Contains(string(out), "appstore") {
		t.Fatalf("script -c 'appstore version': %v\n%q", err, out)
	}
	if strings.Contains(string(out), "\x1b]11;?") {
		t.Errorf("appstore version asked the terminal for its background colour: %q", out)
	}
	if took > 3*time.Second {
		t.Errorf("appstore version took %s on a terminal that does not answer queries", took.Round(time.Millisecond))
	}
}
