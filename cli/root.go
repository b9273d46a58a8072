// Package cli implements the appstore command line: one cobra command per
// file, each with an Options struct, a NewCmdX constructor and a runX
// function that tests call directly with buffers for streams and a fake or
// real daemon behind the client.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// Environment variables read by the CLI.
const (
	EnvURL     = "APPSTORE_URL"
	EnvToken   = "APPSTORE_TOKEN"
	EnvNoColor = "NO_COLOR"
)

// GlobalFlags are the flags every command has.
type GlobalFlags struct {
	Server  string
	Token   string
	JSON    bool
	JQ      string
	Quiet   bool
	NoColor bool
	// NoImages turns off pictures in the terminal (show, thumbnail, the
	// TUI).
	NoImages bool
}

// Factory gives commands what they need from the outside world. Tests
// build one with TestStreams and a client of a fake or real daemon.
type Factory struct {
	IO *IOStreams
	// Getenv reads the environment (os.Getenv in main).
	Getenv func(string) string
	// Client returns the API client configured by --server/--token and
	// the environment. Tests may replace it.
	Client func() (*client.Client, error)
	// Flags holds the global flags once parsed.
	Flags GlobalFlags
}

// NewFactory returns a Factory whose client follows the global flags and
// the environment.
func NewFactory(ios *IOStreams, getenv func(string) string) *Factory {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	f := &Factory{IO: ios, Getenv: getenv}
	f.Client = f.configuredClient
	return f
}

// configuredClient builds the client from flags, then environment, then
// defaults. It reads the flags when called, after cobra parsed them.
func (f *Factory) configuredClient() (*client.Client, error) {
	server, from := f.Flags.Server, "--server"
	if server == "" {
		server, from = f.Getenv(EnvURL), EnvURL
	}
	u, err := client.ParseBaseURL(server)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("%s: %w", from, err)}
	}
	token := f.Flags.Token
	if token == "" {
		token = f.Getenv(EnvToken)
	}
	return &client.Client{BaseURL: u.String(), Token: token, UserAgent: "appstore/" + versionString()}, nil
}

// Output returns the output flags as commands see them.
func (f *Factory) Output() OutputOptions {
	return OutputOptions{JSON: f.Flags.JSON, JQ: f.Flags.JQ, Quiet: f.Flags.Quiet}
}

// NewRootCmd builds the appstore command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "appstore",
		Short: "Register, find, build and launch self-hosted web apps",
		Long: `appstore talks to appstored, the daemon of a self-hosted app store in
which every app is a Git repository with a Dockerfile.

Output is a table on a terminal and tab-separated text in a pipe; --json
prints the API objects, --jq filters them, -q prints identifiers only.
Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 daemon unreachable,
5 conflict. See docs/cli.md.`,
		Example: `  appstore add https://github.com/acme/dash.git --tag category:dashboard
  appstore add ./myapp
  cat urls.txt | appstore add -
  appstore list --tag lang:go --json | jq -r '.[].slug'
  appstore show dash`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noUnknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && f.wantsTUI() {
				return runTUI(cmd.Context(), f, "") // cli/tui.go
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return f.checkGlobalFlags()
		},
	}
	root.SetVersionTemplate("appstore {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &UsageError{Err: flagError(err)}
	})
	root.CompletionOptions.HiddenDefaultCmd = true

	pf := root.PersistentFlags()
	pf.StringVar(&f.Flags.Server, "server", "", "appstored URL (env "+EnvURL+"; default "+client.DefaultURL+")")
	pf.StringVar(&f.Flags.Token, "token", "", "your personal token, or the daemon token (env "+EnvToken+")")
	pf.BoolVar(&f.Flags.JSON, "json", false, "print the API objects as JSON (arrays for lists)")
	pf.StringVar(&f.Flags.JQ, "jq", "", "filter the JSON output with a jq `expression` (implies --json)")
	pf.BoolVarP(&f.Flags.Quiet, "quiet", "q", false, "print identifiers only, one per line")
	pf.BoolVar(&f.Flags.NoColor, "no-color", false, "no colour in output (env "+EnvNoColor+")")
	pf.BoolVar(&f.Flags.NoImages, "no-images", false, "draw no thumbnails in the terminal")

	// One file per noun: later commands (build, logs, launch, search, …)
	// are added here.
	root.AddCommand(
		NewCmdAdd(f),
		NewCmdList(f),
		NewCmdShow(f), NewCmdRefresh(f), NewCmdEdit(f), NewCmdThumbnail(f),
		NewCmdRm(f),
		NewCmdTag(f),
		NewCmdSearch(f), NewCmdTags(f),
		NewCmdBuild(f), NewCmdBuilds(f), NewCmdLogs(f), NewCmdCancel(f),
		NewCmdServices(f),
		NewCmdLaunch(f), NewCmdPs(f), NewCmdStop(f),
		NewCmdVolume(f),
		NewCmdEnv(f), NewCmdSecret(f),
		NewCmdEvents(f),
		NewCmdStar(f), NewCmdUnstar(f), NewCmdStats(f), NewCmdComments(f), NewCmdComment(f),
		NewCmdUsers(f), NewCmdWhoami(f),
		NewCmdTUI(f),
		NewCmdVersion(f),
		NewCmdCompletion(f),
	)
	return root
}

// checkGlobalFlags refuses contradictory output flags and a bad --jq before
// a command changes anything.
func (f *Factory) checkGlobalFlags() error {
	if f.Flags.NoColor || f.Getenv(EnvNoColor) != "" {
		f.IO.DisableColor()
	}
	if f.Flags.Quiet && (f.Flags.JSON || f.Flags.JQ != "") {
		return usageErrorf("--quiet prints identifiers only and cannot be combined with --json or --jq")
	}
	if f.Flags.JQ != "" {
		if _, err := compileJQ(f.Flags.JQ); err != nil {
			return err
		}
	}
	return nil
}

// noUnknownSubcommand makes "appstore frobnicate" a usage error instead of
// printing help with exit status 0, which cobra does for commands that only
// group others.
func noUnknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &UsageError{Err: errors.New(msg)}
}

// groupCmd is a command that only holds subcommands (e.g. "tag").
func groupCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noUnknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
}

// usageArgs turns cobra's argument count errors into usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &UsageError{Err: fmt.Errorf("%w; usage: %s", err, cmd.UseLine())}
		}
		return nil
	}
}

// Main runs appstore with args (without the program name) and returns the
// exit code. Errors go to f.IO.ErrOut as "error: …".
func Main(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	if ctx.Err() != nil {
		code = ExitInterrupted // whatever the interrupted request said
	}
	if code == ExitInterrupted {
		// Ctrl-C is the user's choice, not a failure: the status says
		// it (130, as shells report SIGINT), without an "error:" line.
		return code
	}
	var rep *reportedError
	if !errors.As(err, &rep) {
		msg := ErrorMessage(err)
		if hint := slugHint(ctx, f, err); hint != "" {
			msg += hint
		}
		fmt.Fprintf(f.IO.ErrOut, "error: %s\n", msg)
		var usage *UsageError
		if errors.As(err, &usage) && cmd != nil {
			fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return code
}
