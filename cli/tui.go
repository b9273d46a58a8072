package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/internal/termimage"
	"github.com/appstore-dev/appstore/tui"
)

// runTUIProgram runs the full-screen program; tests replace it to see
// what it would have been given.
var runTUIProgram = tui.Run

// NewCmdTUI is `appstore tui [query]`. `appstore` with no arguments and
// `appstore search` with no terms open the same screen on a terminal.
func NewCmdTUI(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "tui [query]",
		Short: "Search, watch, build and launch apps in a full-screen terminal UI",
		Long: `tui opens the interactive search: type a query and pick completions of
keys, tags and values, each with the number of apps that carry it; Enter
searches, Enter on a result shows the app. The results, the detail view and
build logs follow the daemon's events live.

Keys: Tab accepts a suggestion, ↑/↓ or Ctrl-P/Ctrl-N move, Esc closes the
list, / returns to the search line, l follows the build log, o launches and
opens the app, s stops it, b builds (B without cache), r refreshes, a adds
an app, ? shows every key, q or Ctrl-C quits. See docs/cli.md.

appstore with no arguments, and appstore search with no terms, open it on a
terminal. It needs a terminal on standard input and output; in a pipe, or
with --json, use appstore search <terms>.`,
		Example: `  appstore tui
  appstore tui lang:go framework:`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTUI(cmd.Context(), f, strings.Join(args, " "))
		},
	}
}

// wantsTUI reports whether a command that was given nothing to work on
// should open the TUI: a person is at a terminal on both ends and asked
// for no machine-readable output.
func (f *Factory) wantsTUI() bool {
	return f.IO.IsStdinTTY() && f.IO.IsStdoutTTY() && !f.Flags.JSON && f.Flags.JQ == "" && !f.Flags.Quiet
}

// runTUI opens the TUI with query typed in the search line.
func runTUI(ctx context.Context, f *Factory, query string) error {
	if f.Flags.JSON || f.Flags.JQ != "" || f.Flags.Quiet {
		return usageErrorf("the TUI draws a screen and prints no data: drop --json, --jq and -q, or use appstore search <terms> --json")
	}
	if !f.IO.IsStdinTTY() || !f.IO.IsStdoutTTY() {
		return usageErrorf("the TUI needs a terminal on standard input and output; in a pipe use appstore search <terms> (with --json for data)")
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	opts := tui.Options{
		Source:    tui.ClientSource{C: c},
		ServerURL: c.URL(),
		Query:     query,
		Color:     f.IO.ColorEnabled(),
		// Thumbnails in half blocks: a terminal with an image protocol
		// has true colour too, and the TUI redraws cells, not pictures.
		Images: f.IO.ColorEnabled() && f.ImageProtocol() != termimage.None,
		Open:   tui.BrowserOpener(f.Getenv),
		// A local directory typed in the add form is this machine's.
		ResolveGitURL: resolveGitURL,
	}
	return runTUIProgram(ctx, opts, f.IO.In, f.IO.Out)
}
