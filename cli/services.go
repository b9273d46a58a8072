package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
(APPSTORE_TOKEN).

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

	list := &ServicesOptions{}
	listCmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List services with their health",
		Long: `List services by slug with their health. On a terminal: a table; in a pipe:
tab-separated slug, status, kind, latency in ms, last check (RFC 3339),
health URL and last error.`,
		Example: `  appstore services list
  appstore services list --status unhealthy -q
  appstore services list --capability chat --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.Status, o.Kind, o.Capability = list.Status, list.Kind, list.Capability
			return runServicesList(cmd.Context(), o)
		},
	}
	lf := listCmd.Flags()
	lf.StringVar(&list.Status, "status", "", "only services with `status` unknown, healthy or unhealthy")
	lf.StringVar(&list.Kind, "kind", "", "only services of this `kind`")
	lf.StringVar(&list.Capability, "capability", "", "only services with this `capability`")
	// "appstore services" alone lists, with list's flags.
	cmd.Flags().AddFlagSet(lf)
	cmd.RunE = listCmd.RunE

	showCmd := &cobra.Command{
		Use:               "show <slug>",
		Short:             "Show a service: its declaration and health",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeServiceSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.Slugs = args
			return runServicesShow(cmd.Context(), o)
		},
	}

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

	rm := &ServicesOptions{}
	rmCmd := &cobra.Command{
		Use:     "rm <slug>...",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove services from the registry (needs the service token)",
		Long: `Remove services. On a terminal, rm asks for confirmation unless --yes is
given. A service that a manifest declares comes back with the next import of
that manifest: remove it from the manifest (or import with --prune).`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeServiceSlugs(f, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.Slugs, o.Yes = args, rm.Yes
			return runServicesRm(cmd.Context(), o)
		},
	}
	rmCmd.Flags().BoolVarP(&rm.Yes, "yes", "y", false, "do not ask for confirmation")

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

	cmd.AddCommand(listCmd, showCmd, addCmd, patchCmd, rmCmd, importCmd)
	return cmd
}

// serviceFlags are the declaration flags of add and patch.
type serviceFlags struct {
	name, kind, baseURL, healthURL, metadata, interval string
	capabilities                                       []string
	clearCapabilities                                  bool
}

func (sf *serviceFlags) register(cmd *cobra.Command, patch bool) {
	fl := cmd.Flags()
	fl.StringVar(&sf.name, "name", "", "display name (default: the slug)")
	fl.StringVar(&sf.kind, "kind", "", "kind of service, e.g. llm, search, database")
	if patch {
		fl.StringVar(&sf.baseURL, "base-url", "", "root URL (http or https)")
	}
	fl.StringVar(&sf.healthURL, "health-url", "", "health check URL (default: <base-url>/healthz)")
	fl.StringArrayVar(&sf.capabilities, "capability", nil, "a `capability` such as chat (repeatable)")
	fl.StringVar(&sf.metadata, "metadata", "", "metadata as a JSON `object`, e.g. '{\"owner\":\"ml\"}'")
	help := "check interval of this service, e.g. 10s (default: the daemon's --health-interval)"
	if patch {
		help = "check interval of this service, e.g. 10s; \"default\" goes back to the daemon's"
		fl.BoolVar(&sf.clearCapabilities, "clear-capabilities", false, "remove every capability")
	}
	fl.StringVar(&sf.interval, "health-interval", "", help)
}

func checkMetadataFlag(s string) (json.RawMessage, error) {
	if !json.Valid([]byte(s)) || !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return nil, usageErrorf("--metadata %q: want a JSON object, e.g. '{\"owner\":\"ml\"}'", s)
	}
	return json.RawMessage(s), nil
}

func checkIntervalFlag(s string) error {
	if _, err := time.ParseDuration(s); err != nil {
		return usageErrorf("--health-interval %q: want a duration such as 30s or 5m", s)
	}
	return nil
}

func (sf *serviceFlags) spec(slug, baseURL string) (client.ServiceSpec, error) {
	spec := client.ServiceSpec{Slug: slug, Name: sf.name, Kind: sf.kind, BaseURL: baseURL, HealthURL: sf.healthURL,
		Capabilities: sf.capabilities, HealthInterval: sf.interval}
	if sf.metadata != "" {
		m, err := checkMetadataFlag(sf.metadata)
		if err != nil {
			return spec, err
		}
		spec.Metadata = m
	}
	if sf.interval != "" {
		if err := checkIntervalFlag(sf.interval); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

func (sf *serviceFlags) patch(cmd *cobra.Command) (client.UpdateServiceRequest, error) {
	var p client.UpdateServiceRequest
	fl := cmd.Flags()
	set := func(name string, v *string) *string {
		if fl.Changed(name) {
			return v
		}
		return nil
	}
	p.Name, p.Kind, p.BaseURL, p.HealthURL = set("name", &sf.name), set("kind", &sf.kind), set("base-url", &sf.baseURL), set("health-url", &sf.healthURL)
	if fl.Changed("capability") && sf.clearCapabilities {
		return p, usageErrorf("--capability and --clear-capabilities contradict each other")
	}
	if fl.Changed("capability") {
		p.Capabilities = &sf.capabilities
	}
	if sf.clearCapabilities {
		p.Capabilities = &[]string{}
	}
	if fl.Changed("metadata") {
		m, err := checkMetadataFlag(sf.metadata)
		if err != nil {
			return p, err
		}
		p.Metadata = m
	}
	if fl.Changed("health-interval") {
		iv := sf.interval
		if iv == "default" {
			iv = ""
		} else if err := checkIntervalFlag(iv); err != nil {
			return p, err
		}
		p.HealthInterval = &iv
	}
	if p.Name == nil && p.Kind == nil && p.BaseURL == nil && p.HealthURL == nil && p.Capabilities == nil && p.Metadata == nil && p.HealthInterval == nil {
		return p, usageErrorf("nothing to change: give at least one of --name, --kind, --base-url, --health-url, --capability, --clear-capabilities, --metadata, --health-interval")
	}
	return p, nil
}

// mutator returns the client with the service token.
func (o *ServicesOptions) mutator() (*client.Client, error) {
	c, err := o.Client()
	if err != nil {
		return nil, err
	}
	return c.WithToken(o.Token), nil
}

func runServicesList(ctx context.Context, o *ServicesOptions) error {
	switch o.Status {
	case "", "unknown", "healthy", "unhealthy":
	default:
		return usageErrorf("--status %q: want unknown, healthy or unhealthy", o.Status)
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	list, err := c.Services(ctx, client.ListServicesOptions{Status: o.Status, Kind: o.Kind, Capability: o.Capability})
	if err != nil {
		return err
	}
	if done, err := writeList(ctx, o.IO, o.Output, list, func(s client.Service) string { return s.Slug }); done {
		return err
	}
	tty := o.IO.IsStdoutTTY()
	if len(list) == 0 {
		if tty {
			if o.Status != "" || o.Kind != "" || o.Capability != "" {
				fmt.Fprintln(o.IO.ErrOut, "No services match.")
			} else {
				fmt.Fprintln(o.IO.ErrOut, "No services registered: add one with `appstore services add <slug> <base-url>` or `appstore services import <manifest>`.")
			}
		}
		return nil
	}
	now := o.now()
	t := newTable(o.IO, "SLUG", "STATUS", "KIND", "LATENCY", "CHECKED", "HEALTH URL", "ERROR")
	for _, s := range list {
		latency, checked := "", ""
		if s.LastLatencyMS != nil {
			latency = strconv.FormatFloat(*s.LastLatencyMS, 'f', 1, 64)
			if tty {
				latency += " ms"
			}
		}
		if s.LastCheckedAt != nil {
			checked = s.LastCheckedAt.UTC().Format(time.RFC3339)
			if tty {
				checked = ago(now, *s.LastCheckedAt)
			}
		} else if tty {
			checked = "never"
		}
		t.row(
			field{text: s.Slug, color: o.IO.Bold},
			field{text: string(s.Status), color: statusColor(o.IO, string(s.Status))},
			cell(s.Kind),
			cell(latency),
			field{text: checked, color: o.IO.Gray},
			field{text: s.HealthURL, max: 50},
			field{text: s.LastError, color: o.IO.Red, max: 60},
		)
	}
	return t.render()
}

func (o *ServicesOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func runServicesShow(ctx context.Context, o *ServicesOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	s, err := c.Service(ctx, o.Slugs[0])
	if err != nil {
		return err
	}
	return o.printService(ctx, s)
}

// printService prints a service as "field: value" lines (JSON with --json,
// the slug with -q).
func (o *ServicesOptions) printService(ctx context.Context, s *client.Service) error {
	if done, err := writeObject(ctx, o.IO, o.Output, s, s.Slug); done {
		return err
	}
	ios := o.IO
	d := newDetails(ios, o.now(), "2006-01-02 15:04:05")
	d.add("slug", s.Slug, ios.Bold)
	d.add("name", s.Name, nil)
	d.add("kind", s.Kind, nil)
	d.add("base url", s.BaseURL, nil)
	d.add("health url", s.HealthURL, nil)
	d.add("status", string(s.Status), statusColor(ios, string(s.Status)))
	d.add("error", s.LastError, ios.Red)
	if s.LastLatencyMS != nil {
		d.add("latency", strconv.FormatFloat(*s.LastLatencyMS, 'f', 1, 64)+" ms", nil)
	}
	if s.LastCheckedAt != nil {
		d.add("checked", d.when(*s.LastCheckedAt), nil)
	} else {
		d.add("checked", "never", ios.Gray)
	}
	if s.ConsecutiveFailures > 0 {
		d.add("failures", strconv.Itoa(s.ConsecutiveFailures)+" in a row", ios.Red)
	}
	if s.NextCheckAt != nil {
		next := s.NextCheckAt.UTC().Format(time.RFC3339)
		if d.tty {
			if next = until(d.now, *s.NextCheckAt); next != "now" {
				next = "in " + next
			}
		}
		d.add("next check", next, nil)
	}
	if s.HealthIntervalMS != nil {
		d.add("interval", (time.Duration(*s.HealthIntervalMS) * time.Millisecond).String(), nil)
	}
	d.add("capabilities", strings.Join(s.Capabilities, ","), nil)
	if len(s.Metadata) > 0 {
		d.add("metadata", string(s.Metadata), nil)
	}
	d.add("source", s.Source, nil)
	d.add("created", d.when(s.CreatedAt), nil)
	d.add("updated", d.when(s.UpdatedAt), nil)
	_, err := fmt.Fprint(ios.Out, d.String())
	return err
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

func runServicesRm(ctx context.Context, o *ServicesOptions) error {
	c, err := o.mutator()
	if err != nil {
		return err
	}
	if !o.Yes && o.IO.CanPrompt() {
		ok, err := confirm(o.IO, fmt.Sprintf("Remove service %s? [y/N] ", strings.Join(o.Slugs, ", ")))
		if err != nil {
			return err
		}
		if !ok {
			return errCancelled
		}
	}
	batch := len(o.Slugs) > 1
	var codes []int
	for _, slug := range o.Slugs {
		if err := c.DeleteService(ctx, slug); err != nil {
			if !batch || errors.Is(err, context.Canceled) || client.IsUnreachable(err) || client.IsUnauthorized(err) {
				return err
			}
			fmt.Fprintf(o.IO.ErrOut, "error: %s: %s\n", slug, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
			continue
		}
		if o.IO.IsStdoutTTY() && !o.Output.Quiet && !o.Output.Machine() {
			fmt.Fprintf(o.IO.Out, "%s Removed service %s\n", o.IO.SuccessIcon(), slug)
		}
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
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
