package cli

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/tui"
)

// TestTUIDispatch: which invocations open the TUI and which stay plain.
func TestTUIDispatch(t *testing.T) {
	type call struct {
		opened bool
		opts   tui.Options
	}
	run := func(t *testing.T, tty bool, env map[string]string, args ...string) (call, int, string, string) {
		t.Helper()
		var got call
		prev := runTUIProgram
		runTUIProgram = func(_ context.Context, opts tui.Options, _ io.Reader, _ io.Writer) error {
			got = call{opened: true, opts: opts}
			return nil
		}
		t.Cleanup(func() { runTUIProgram = prev })
		ios, out, errOut := TestStreams("")
		ios.SetTTY(tty, tty, tty)
		if env == nil {
			env = map[string]string{}
		}
		code := Main(context.Background(), NewFactory(ios, func(k string) string { return env[k] }), args)
		return got, code, out.String(), errOut.String()
	}

	t.Run("no arguments on a terminal", func(t *testing.T) {
		got, code, _, _ := run(t, true, map[string]string{EnvURL: "http://127.0.0.1:7999"})
		if code != 0 || !got.opened {
			t.Fatalf("exit %d, opened %v", code, got.opened)
		}
		if got.opts.Query != "" || !got.opts.Color || got.opts.ServerURL != "http://127.0.0.1:7999" || got.opts.Source == nil || got.opts.Open == nil {
			t.Errorf("options %+v", got.opts)
		}
	})
	t.Run("NO_COLOR", func(t *testing.T) {
		got, _, _, _ := run(t, true, map[string]string{EnvNoColor: "1"}, "tui")
		if !got.opened || got.opts.Color {
			t.Errorf("opened %v, colour %v; want opened without colour", got.opened, got.opts.Color)
		}
		got, _, _, _ = run(t, true, nil, "--no-color")
		if !got.opened || got.opts.Color {
			t.Errorf("--no-color: opened %v, colour %v", got.opened, got.opts.Color)
		}
	})
	t.Run("tui with a query", func(t *testing.T) {
		got, code, _, _ := run(t, true, nil, "tui", "lang:go", "framework:")
		if code != 0 || got.opts.Query != "lang:go framework:" {
			t.Errorf("exit %d, query %q", code, got.opts.Query)
		}
	})
	t.Run("no arguments in a pipe prints help", func(t *testing.T) {
		got, code, out, _ := run(t, false, nil)
		if got.opened || code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("opened %v, exit %d, out %q", got.opened, code, out)
		}
	})
	t.Run("no arguments with --json prints help", func(t *testing.T) {
		got, code, out, _ := run(t, true, nil, "--json")
		if got.opened || code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("opened %v, exit %d", got.opened, code)
		}
	})
	t.Run("tui in a pipe is a usage error", func(t *testing.T) {
		got, code, _, errOut := run(t, false, nil, "tui")
		if got.opened || code != ExitUsage || !strings.Contains(errOut, "needs a terminal") {
			t.Errorf("opened %v, exit %d, stderr %q", got.opened, code, errOut)
		}
	})
	t.Run("tui with --json is a usage error", func(t *testing.T) {
		got, code, _, errOut := run(t, true, nil, "tui", "--json")
		if got.opened || code != ExitUsage || !strings.Contains(errOut, "drop --json") {
			t.Errorf("opened %v, exit %d, stderr %q", got.opened, code, errOut)
		}
	})
	t.Run("search with no terms on a terminal", func(t *testing.T) {
		got, code, _, _ := run(t, true, nil, "search")
		if code != 0 || !got.opened || got.opts.Query != "" {
			t.Errorf("exit %d, opened %v, query %q", code, got.opened, got.opts.Query)
		}
	})
	t.Run("search stays plain with terms, --json, --limit or in a pipe", func(t *testing.T) {
		for _, c := range []struct {
			tty  bool
			args []string
		}{
			{true, []string{"search", "lang:go"}},
			{true, []string{"search", "--json"}},
			{true, []string{"search", "-q"}},
			{true, []string{"search", "--limit", "5"}},
			{false, []string{"search"}},
		} {
			// Plain search reaches for the daemon (none listens here):
			// what matters is that the TUI did not open.
			got, code, _, _ := run(t, c.tty, map[string]string{EnvURL: "http://127.0.0.1:1"}, c.args...)
			if got.opened {
				t.Errorf("%v (terminal %v) opened the TUI", c.args, c.tty)
			}
			if code != ExitUnreachable {
				t.Errorf("%v (terminal %v): exit %d, want %d (plain search, daemon unreachable)", c.args, c.tty, code, ExitUnreachable)
			}
		}
	})
}
