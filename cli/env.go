package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// EnvOptions are the inputs of the "appstore env" commands.
type EnvOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	Now    func() time.Time

	Slug string
	// Set are NAME=value pairs (env set); Names are the names of env unset.
	Set   []string
	Names []string
}

// NewCmdEnv builds "appstore env" and its subcommands.
func NewCmdEnv(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "env <command>",
		Aliases: []string{"var", "vars"},
		Short:   "An app's environment variables",
		Long: `Variables are given to an app's container as environment variables, from its
next launch: a running launch keeps the ones it started with (` + "`appstore ps`" + `
and ` + "`appstore show`" + ` mark it "config changed"; ` + "`appstore launch <slug> --restart`" + `
replaces it). Names are letters, digits and _, not starting with a digit;
PORT is appstore's. Values are shown to anyone who can read the catalog: use
` + "`appstore secret`" + ` for keys and passwords. Changes need the app's owner or an
admin (` + "`appstore users`" + `).`,
		Example: `  appstore env set rag MODEL=gpt-4o-mini TOP_K=5
  appstore env ls rag
  appstore env unset rag TOP_K`,
		Args: noUnknownSubcommand,
	}
	newOpts := func(args []string) *EnvOptions {
		return &EnvOptions{IO: f.IO, Client: f.Client, Output: f.Output(), Now: time.Now, Slug: args[0]}
	}
	set := &cobra.Command{
		Use:   "set <slug> NAME=value...",
		Short: "Set variables of an app (from its next launch)",
		Long: `Set variables of an app, all or none: one bad name or value changes nothing.
They apply from the app's next launch; ` + "`appstore launch <slug> --restart`" + ` applies
them to a running app.`,
		Args:              usageArgs(cobra.MinimumNArgs(2)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts(args)
			o.Set = args[1:]
			return runEnvSet(cmd.Context(), o)
		},
	}
	ls := &cobra.Command{
		Use:     "ls <slug>",
		Aliases: []string{"list"},
		Short:   "List an app's variables",
		Long: `List an app's variables with their values. On a terminal: a table, and the
declared variables that nothing sets; in a pipe: NAME=value lines (what a
shell or env file reads); --json the variable objects; -q the names.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvLs(cmd.Context(), newOpts(args))
		},
	}
	unset := &cobra.Command{
		Use:               "unset <slug> NAME...",
		Aliases:           []string{"rm"},
		Short:             "Remove variables of an app (from its next launch)",
		Args:              usageArgs(cobra.MinimumNArgs(2)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts(args)
			o.Names = args[1:]
			return runEnvUnset(cmd.Context(), o)
		},
	}
	cmd.AddCommand(set, ls, unset)
	return cmd
}

func checkSlug(slug string) error {
	if !catalog.ValidSlug(slug) {
		return usageErrorf("%q is not an app slug (see `appstore list`)", slug)
	}
	return nil
}

func runEnvSet(ctx context.Context, o *EnvOptions) error {
	if err := checkSlug(o.Slug); err != nil {
		return err
	}
	vars := map[string]string{}
	for _, kv := range o.Set {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return usageErrorf("%q: give NAME=value (an empty value is NAME=)", kv)
		}
		if err := catalog.ValidateEnvName(name); err != nil {
			return &UsageError{Err: err}
		}
		if err := catalog.ValidateEnvValue(name, value); err != nil {
			return &UsageError{Err: err}
		}
		if _, dup := vars[name]; dup {
			return usageErrorf("%s is given twice", name)
		}
		vars[name] = value
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	cfg, err := c.SetEnv(ctx, o.Slug, vars)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, o.IO, o.Output, cfg, o.Slug); done {
		return err
	}
	if o.IO.IsStdoutTTY() {
		names := make([]string, 0, len(vars))
		for _, kv := range o.Set {
			name, _, _ := strings.Cut(kv, "=")
			names = append(names, name)
		}
		fmt.Fprintf(o.IO.Out, "%s Set %s on %s\n", o.IO.SuccessIcon(), strings.Join(names, ", "), o.IO.Bold(o.Slug))
		printConfigNextSteps(ctx, o.IO, c, o.Slug, cfg)
	}
	return nil
}

// printConfigNextSteps tells a person what a change of configuration does
// to the running app, and what is still missing.
func printConfigNextSteps(ctx context.Context, ios *IOStreams, c *client.Client, slug string, cfg *client.AppConfig) {
	if page, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: slug, Active: true, Limit: 10}); err == nil {
		for _, l := range page.Launches {
			if l.ConfigChanged && !l.Warm {
				fmt.Fprintf(ios.Out, "  %s launch %d runs with the previous configuration: `appstore launch %s --restart` applies it\n", ios.Gray("note:"), l.ID, slug)
				break
			}
		}
	}
	if cfg != nil && len(cfg.Missing) > 0 {
		fmt.Fprintf(ios.Out, "  %s %s still needs %s before it can launch\n", ios.Yellow("missing:"), slug, strings.Join(cfg.Missing, ", "))
	}
}

func runEnvLs(ctx context.Context, o *EnvOptions) error {
	if err := checkSlug(o.Slug); err != nil {
		return err
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	cfg, err := c.AppConfig(ctx, o.Slug)
	if err != nil {
		return err
	}
	if done, err := writeList(ctx, o.IO, o.Output, cfg.Variables, func(v client.EnvVar) string { return v.Name }); done {
		return err
	}
	if !o.IO.IsStdoutTTY() {
		for _, v := range cfg.Variables {
			fmt.Fprintf(o.IO.Out, "%s=%s\n", v.Name, v.Value)
		}
		return nil
	}
	if len(cfg.Variables) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "%s has no variables: `appstore env set %s NAME=value` sets one.\n", o.Slug, o.Slug)
	} else {
		now := o.Now()
		t := newTable(o.IO, "NAME", "VALUE", "UPDATED")
		for _, v := range cfg.Variables {
			t.row(field{text: v.Name, color: o.IO.Bold}, field{text: plainText(v.Value), max: 60}, cell(ago(now, v.UpdatedAt)))
		}
		if err := t.render(); err != nil {
			return err
		}
	}
	printDeclaredUnset(o.IO, o.Slug, cfg)
	return nil
}

// printDeclaredUnset lists, on a terminal, the declared names that nothing
// sets.
func printDeclaredUnset(ios *IOStreams, slug string, cfg *client.AppConfig) {
	for _, d := range cfg.Declared {
		if d.SetBy != "" {
			continue
		}
		how := fmt.Sprintf("appstore env set %s %s=…", slug, d.Name)
		if d.Secret {
			how = fmt.Sprintf("appstore secret set %s %s", slug, d.Name)
		}
		what := "optional"
		if d.Required {
			what = ios.Yellow("required")
		}
		fmt.Fprintf(ios.ErrOut, "%s %s (%s, declared in %s) is not set: %s\n", ios.Gray("note:"), d.Name, what, d.Source, how)
	}
}

func runEnvUnset(ctx context.Context, o *EnvOptions) error {
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
	cfg, err := c.UnsetEnv(ctx, o.Slug, o.Names)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, o.IO, o.Output, cfg, o.Slug); done {
		return err
	}
	for _, n := range cfg.NotSet {
		fmt.Fprintf(o.IO.ErrOut, "%s: %s was not set\n", o.Slug, n)
	}
	if o.IO.IsStdoutTTY() && len(cfg.NotSet) < len(o.Names) {
		fmt.Fprintf(o.IO.Out, "%s Removed variables from %s\n", o.IO.SuccessIcon(), o.IO.Bold(o.Slug))
		printConfigNextSteps(ctx, o.IO, c, o.Slug, cfg)
	}
	if len(cfg.NotSet) == len(o.Names) {
		return notFoundf("none of %s is a variable of %s (`appstore env ls %s`)", strings.Join(o.Names, ", "), o.Slug, o.Slug)
	}
	return nil
}
