package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// SecretOptions are the inputs of the "appstore secret" commands.
type SecretOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	Now    func() time.Time
	// ReadPassword reads a line from the terminal without echo; tests
	// replace it.
	ReadPassword func() ([]byte, error)

	Slug  string
	Names []string
	// FromFile reads the value from this file ("-": standard input).
	FromFile string
}

// NewCmdSecret builds "appstore secret" and its subcommands.
func NewCmdSecret(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "secret <command>",
		Aliases: []string{"secrets"},
		Short:   "An app's secrets: API keys and passwords",
		Long: `Secrets are given to an app's container as environment variables, like
` + "`appstore env`" + `'s variables, from its next launch, and to its builds as
BuildKit secrets (RUN --mount=type=secret,id=NAME). appstored keeps them
encrypted, never answers their values (ls shows names and update times), and
replaces them by "[secret NAME]" in build logs, launch output and error
messages. Changes need the app's owner or an admin (` + "`appstore users`" + `).`,
		Example: `  appstore secret set rag OPENAI_API_KEY
  pass show openai | appstore secret set rag OPENAI_API_KEY
  appstore secret set rag TLS_KEY --from-file key.pem
  appstore secret ls rag
  appstore secret rm rag OPENAI_API_KEY`,
		Args: noUnknownSubcommand,
	}
	newOpts := func(args []string) *SecretOptions {
		return &SecretOptions{IO: f.IO, Client: f.Client, Output: f.Output(), Now: time.Now, Slug: args[0], Names: args[1:],
			ReadPassword: func() ([]byte, error) { return term.ReadPassword(os.Stdin.Fd()) }}
	}
	var fromFile string
	set := &cobra.Command{
		Use:   "set <slug> NAME",
		Short: "Set a secret of an app; the value is read from standard input",
		Long: `Set a secret of an app. The value is read from standard input: typed without
echo on a terminal, else everything up to the end of the input (one final
newline is dropped). --from-file reads a file instead. The value never
appears on the command line, so it stays out of shell history and process
lists. It applies from the app's next launch and build.`,
		Args:              usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts(args)
			o.FromFile = fromFile
			return runSecretSet(cmd.Context(), o)
		},
	}
	set.Flags().StringVar(&fromFile, "from-file", "", "read the value from this file (one final newline is dropped)")
	ls := &cobra.Command{
		Use:     "ls <slug>",
		Aliases: []string{"list"},
		Short:   "List an app's secrets (names and update times, never values)",
		Long: `List the names of an app's secrets and when each was set; values are never
shown. On a terminal a table, in a pipe name and update time (RFC 3339)
tab-separated, --json the secret objects, -q the names.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSecretLs(cmd.Context(), newOpts(args))
		},
	}
	rm := &cobra.Command{
		Use:               "rm <slug> NAME...",
		Aliases:           []string{"remove", "unset"},
		Short:             "Remove secrets of an app (from its next launch)",
		Args:              usageArgs(cobra.MinimumNArgs(2)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSecretRm(cmd.Context(), newOpts(args))
		},
	}
	cmd.AddCommand(set, ls, rm)
	return cmd
}

// readSecret reads a secret's value: from --from-file, typed without echo
// on a terminal, or all of standard input. One final newline (\n or \r\n)
// is dropped: echo and editors add it.
func readSecret(o *SecretOptions, name string) (string, error) {
	var b []byte
	var err error
	switch {
	case o.FromFile != "" && o.FromFile != "-":
		b, err = os.ReadFile(o.FromFile)
		if err != nil {
			return "", usageErrorf("--from-file: %v", err)
		}
	case o.FromFile == "" && o.IO.IsStdinTTY():
		fmt.Fprintf(o.IO.ErrOut, "Value of %s (not shown; Enter ends it): ", name)
		b, err = o.ReadPassword()
		fmt.Fprintln(o.IO.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read the secret from the terminal: %w", err)
		}
	default:
		b, err = io.ReadAll(io.LimitReader(o.IO.In, catalog.MaxSecretLen+3))
		if err != nil {
			return "", fmt.Errorf("read the secret from standard input: %w", err)
		}
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", usageErrorf("the value of %s is empty: type it, pipe it in, or give --from-file", name)
	}
	if err := catalog.ValidateSecretValue(name, []byte(s)); err != nil {
		return "", &UsageError{Err: err}
	}
	return s, nil
}

func runSecretSet(ctx context.Context, o *SecretOptions) error {
	if err := checkSlug(o.Slug); err != nil {
		return err
	}
	name := o.Names[0]
	if err := catalog.ValidateEnvName(name); err != nil {
		return &UsageError{Err: err}
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	value, err := readSecret(o, name)
	if err != nil {
		return err
	}
	info, err := c.SetSecret(ctx, o.Slug, name, value)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, o.IO, o.Output, info, info.Name); done {
		return err
	}
	if o.IO.IsStdoutTTY() {
		fmt.Fprintf(o.IO.Out, "%s Set secret %s on %s\n", o.IO.SuccessIcon(), name, o.IO.Bold(o.Slug))
		cfg, err := c.AppConfig(ctx, o.Slug)
		if err == nil {
			printConfigNextSteps(ctx, o.IO, c, o.Slug, cfg)
		}
	}
	return nil
}

func runSecretLs(ctx context.Context, o *SecretOptions) error {
	if err := checkSlug(o.Slug); err != nil {
		return err
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	list, err := c.Secrets(ctx, o.Slug)
	if err != nil {
		return err
	}
	if done, err := writeList(ctx, o.IO, o.Output, list.Secrets, func(s client.SecretInfo) string { return s.Name }); done {
		return err
	}
	if o.IO.IsStdoutTTY() && len(list.Secrets) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "%s has no secrets: `appstore secret set %s NAME` sets one.\n", o.Slug, o.Slug)
		return nil
	}
	now := o.Now()
	t := newTable(o.IO, "NAME", "UPDATED")
	for _, s := range list.Secrets {
		when := s.UpdatedAt.UTC().Format(time.RFC3339)
		if o.IO.IsStdoutTTY() {
			when = ago(now, s.UpdatedAt)
		}
		t.row(field{text: s.Name, color: o.IO.Bold}, cell(when))
	}
	return t.render()
}

func runSecretRm(ctx context.Context, o *SecretOptions) error {
	if err := checkSlug(o.Slug); err != nil {
		return err
	}
	for _, n := range o.Names {
		if err := catalog.ValidateEnvName(n); err != nil {
			return &UsageError{Err: err}
		}
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	var codes []int
	for _, n := range o.Names {
		if err := c.DeleteSecret(ctx, o.Slug, n); err != nil {
			if len(o.Names) == 1 || client.IsUnreachable(err) || client.IsUnauthorized(err) {
				return err
			}
			fmt.Fprintf(o.IO.ErrOut, "error: %s: %s\n", n, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
			continue
		}
		if o.IO.IsStdoutTTY() && !o.Output.Quiet && !o.Output.Machine() {
			fmt.Fprintf(o.IO.Out, "%s Removed secret %s from %s\n", o.IO.SuccessIcon(), n, o.IO.Bold(o.Slug))
		}
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
}
