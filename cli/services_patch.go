package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// newCmdServicesPatch builds "appstore services patch".
func newCmdServicesPatch(f *Factory, newOpts func() *ServicesOptions) *cobra.Command {
	patch := &serviceFlags{}
	patchCmd := &cobra.Command{
		Use:   "patch <slug>",
		Short: "Change a service (needs the service token)",
		Long: `Change the fields given by flags; the others stay. --capability replaces the
whole list (--clear-capabilities empties it), --metadata the whole object.
--health-url "" and --health-interval default go back to the defaults.
Changing the health URL resets the health to unknown until the next check.`,
		Example: `  appstore services patch llm --base-url http://10.0.0.9:8080
  appstore services patch llm --capability chat --health-interval 10s`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeServiceSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			p, err := patch.patch(cmd)
			if err != nil {
				return err
			}
			o.Slugs, o.Patch = args, p
			return runServicesPatch(cmd.Context(), o)
		},
	}
	patch.register(patchCmd, true)
	return patchCmd
}

func runServicesPatch(ctx context.Context, o *ServicesOptions) error {
	c, err := o.mutator()
	if err != nil {
		return err
	}
	s, err := c.UpdateService(ctx, o.Slugs[0], o.Patch)
	if err != nil {
		return err
	}
	return o.printService(ctx, s)
}
