package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// newCmdServicesAdd builds "appstore services add".
func newCmdServicesAdd(f *Factory, newOpts func() *ServicesOptions) *cobra.Command {
	add := &serviceFlags{}
	addCmd := &cobra.Command{
		Use:   "add <slug> <base-url>",
		Short: "Register a service (needs the service token)",
		Long: `Register a service. Its health URL defaults to <base-url>/healthz; appstored
checks it every --health-interval (or the service's own). Registering the
same declaration again changes nothing; a different one under a taken slug
is a conflict (exit 5): change it with patch.`,
		Example: `  appstore services add llm http://10.0.0.5:8080 --name "LLM gateway" --kind llm --capability chat --capability embeddings
  appstore services add search http://search:9200 --health-url http://search:9200/_cluster/health --health-interval 1m`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			spec, err := add.spec(args[0], args[1])
			if err != nil {
				return err
			}
			o.Spec = spec
			return runServicesAdd(cmd.Context(), o)
		},
	}
	add.register(addCmd, false)
	return addCmd
}

func runServicesAdd(ctx context.Context, o *ServicesOptions) error {
	c, err := o.mutator()
	if err != nil {
		return err
	}
	s, created, err := c.CreateService(ctx, o.Spec)
	if err != nil {
		return err
	}
	if o.Output.Machine() {
		return writeJSON(ctx, o.IO, o.Output, s)
	}
	if !o.IO.IsStdoutTTY() || o.Output.Quiet {
		_, err := fmt.Fprintln(o.IO.Out, s.Slug)
		return err
	}
	verb := "Registered"
	if !created {
		verb = "Already registered, unchanged:"
	}
	_, err = fmt.Fprintf(o.IO.Out, "%s %s %s (health: %s)\n", o.IO.SuccessIcon(), verb, o.IO.Bold(s.Slug), s.HealthURL)
	return err
}
