package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// newCmdServicesImport builds "appstore services import".
func newCmdServicesImport(f *Factory, newOpts func() *ServicesOptions) *cobra.Command {
	imp := &ServicesOptions{}
	importCmd := &cobra.Command{
		Use:   "import <file|->",
		Short: "Apply a JSON manifest of services in one transaction (needs the service token)",
		Long: `Apply a manifest, {"services":[{"slug","base_url","name"?,"kind"?,"health_url"?,
"capabilities"?,"metadata"?,"health_interval"?},…]}, read from a file or from
standard input (-). Each service is created, updated or left unchanged; with
--prune, services that came from a manifest and are not in this one are
removed (services registered with add never are). When an entry is invalid
nothing is applied and every bad entry is reported (exit 2).

Prints "slug<TAB>action" per service in a pipe, a summary on a terminal.`,
		Example: `  appstore services import services.json
  appstore services import --prune services.json
  generate-manifest | appstore services import -`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.File, o.Prune = args[0], imp.Prune
			return runServicesImport(cmd.Context(), o)
		},
	}
	importCmd.Flags().BoolVar(&imp.Prune, "prune", false, "remove services that came from a manifest and are not in this one")
	return importCmd
}

func runServicesImport(ctx context.Context, o *ServicesOptions) error {
	var data []byte
	var err error
	if o.File == "-" {
		if o.IO.IsStdinTTY() {
			fmt.Fprintln(o.IO.ErrOut, `Reading a JSON manifest {"services":[…]} from standard input; end with Ctrl-D.`)
		}
		data, err = client.ReadManifest(o.IO.In, "standard input")
	} else {
		var f *os.File
		if f, err = os.Open(o.File); err != nil {
			return &UsageError{Err: fmt.Errorf("manifest: %w", err)}
		}
		data, err = client.ReadManifest(f, o.File)
		f.Close()
	}
	if err != nil {
		return &UsageError{Err: err}
	}
	c, err := o.mutator()
	if err != nil {
		return err
	}
	res, err := c.ImportServicesJSON(ctx, data, client.ImportServicesOptions{Prune: o.Prune})
	var me *client.ManifestError
	if errors.As(err, &me) {
		name := o.File
		if name == "-" {
			name = "standard input"
		}
		invalid := fmt.Sprintf("%d entries of the manifest are", len(me.Entries))
		if len(me.Entries) == 1 {
			invalid = "1 entry of the manifest is"
		}
		fmt.Fprintf(o.IO.ErrOut, "error: %s: %s invalid; nothing was applied:\n", name, invalid)
		for _, e := range me.Entries {
			fmt.Fprintf(o.IO.ErrOut, "  %s\n", e.String())
		}
		return &reportedError{code: ExitUsage}
	}
	if err != nil {
		return err
	}
	if o.Output.Machine() {
		return writeJSON(ctx, o.IO, o.Output, res)
	}
	if o.Output.Quiet {
		for _, e := range res.Services {
			if e.Action != "deleted" {
				fmt.Fprintln(o.IO.Out, e.Slug)
			}
		}
		return nil
	}
	if !o.IO.IsStdoutTTY() {
		for _, e := range res.Services {
			fmt.Fprintf(o.IO.Out, "%s\t%s\n", e.Slug, e.Action)
		}
		return nil
	}
	for _, e := range res.Services {
		if e.Action == "unchanged" {
			continue
		}
		detail := ""
		if len(e.Changed) > 0 {
			detail = o.IO.Gray(" (" + strings.Join(e.Changed, ", ") + ")")
		}
		fmt.Fprintf(o.IO.Out, "  %-9s %s%s\n", e.Action, o.IO.Bold(e.Slug), detail)
	}
	_, err = fmt.Fprintf(o.IO.Out, "%s %d created, %d updated, %d unchanged, %d deleted\n",
		o.IO.SuccessIcon(), res.Created, res.Updated, res.Unchanged, res.Deleted)
	return err
}
