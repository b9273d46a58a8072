package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// EnvServiceToken is the service token the services commands send on
// mutating calls (--service-token wins).
const EnvServiceToken = "APPSTORE_SERVICE_TOKEN"

// ServicesOptions are the inputs of the "appstore services" commands.
type ServicesOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	// Token is the service token for add, patch, rm and import.
	Token string
	// Now is the time relative times are computed from (tests fix it).
	Now func() time.Time

	// list filters
	Status, Kind, Capability string

	Slugs []string
	// add and patch
	Spec  client.ServiceSpec
	Patch client.UpdateServiceRequest
	// rm
	Yes bool
	// import: a file name or "-" for standard input.
	File  string
	Prune bool
}

// NewCmdServices builds "appstore services" and its subcommands.
func NewCmdServices(f *Factory) *cobra.Command {
	token := ""
	cmd := &cobra.Command{
		Use:     "services [command]",
		Aliases: []string{"service", "svc"},
		Short:   "The service registry: auxiliary services and their health",
		Long: `The service registry lists the auxiliary services apps use (model gateways,
search, vector stores…) with their health, which appstored checks on an
interval. Without a command, services lists them.

Reading is open. add, patch, rm and import need the service token that
appstored was started with (--service-token): pass it with --service-token or
` + EnvServiceToken + `. It is a different secret from the daemon token
(APPSTORE_TOKEN). Admins may use their personal token instead: without a
service token, the one in APPSTORE_TOKEN is sent.

Manifests are JSON: {"services":[{"slug":…,"base_url":…},…]}. import applies
one in a single transaction: all of it, or nothing when an entry is invalid
(each bad entry is reported). Importing the same manifest again changes
nothing. See docs/cli.md and docs/api.md.`,
		Example: `  appstore services
  appstore services show llm
  APPSTORE_SERVICE_TOKEN=… appstore services add llm http://10.0.0.5:8080 --capability chat
  appstore services import services.json --prune
  appstore services list --status unhealthy -q`,
		Args: noUnknownSubcommand,
	}
	cmd.PersistentFlags().StringVar(&token, "service-token", "", "service token for add, patch, rm and import (env "+EnvServiceToken+")")
	newOpts := func() *ServicesOptions {
		t := token
		if t == "" {
			t = f.Getenv(EnvServiceToken)
		}
		return &ServicesOptions{IO: f.IO, Client: f.Client, Output: f.Output(), Token: t, Now: time.Now}
	}

	listCmd := newCmdServicesList(f, newOpts)
	// "appstore services" alone lists, with list's flags.
	cmd.Flags().AddFlagSet(listCmd.Flags())
	cmd.RunE = listCmd.RunE
	cmd.AddCommand(listCmd,
		newCmdServicesShow(f, newOpts),
		newCmdServicesAdd(f, newOpts),
		newCmdServicesPatch(f, newOpts),
		newCmdServicesRm(f, newOpts),
		newCmdServicesImport(f, newOpts))
	return cmd
}

// mutator returns the client with the service token; without one, a
// personal token in APPSTORE_TOKEN (--token) is sent instead: an admin's
// opens the registry. The daemon token is never sent here (the registry
// refuses it, and the refusal would count against this client).
func (o *ServicesOptions) mutator() (*client.Client, error) {
	c, err := o.Client()
	if err != nil {
		return nil, err
	}
	if o.Token == "" && strings.HasPrefix(c.Token, catalog.UserTokenPrefix) {
		return c, nil
	}
	return c.WithToken(o.Token), nil
}

func (o *ServicesOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// until says how long after now t is, rounded like ago ("now" when due).
func until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return plural(int((d+time.Second-1)/time.Second), "second")
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d/time.Hour), "hour")
}

// completeServiceSlugs completes the first n arguments (all when n < 0)
// with the slugs of registered services.
func completeServiceSlugs(f *Factory, n int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if n >= 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := c.Services(cmd.Context(), client.ListServicesOptions{})
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("list services: %v", err), true)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, s := range list {
			if strings.HasPrefix(s.Slug, toComplete) {
				out = append(out, s.Slug+"\t"+s.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
