package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// EditOptions are the inputs of "appstore edit": a repository's settings.
// Each setting is a pointer, nil when its flag was not given, so that only
// what was asked changes; a new setting is a field here, a flag in
// NewCmdEdit and a line in editRequest.
type EditOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slug string
	// Redeploy turns on or off the replacement of the app's running launch
	// when a newer build succeeds.
	Redeploy *bool
	// Name … Profile override what ingestion found (manual fields).
	Name, Description, Homepage, Branch, Dockerfile, Context, Profile *string
	Port                                                              *int
	// Target is the stage of the Dockerfile builds stop at.
	Target *string
	// Reset makes these fields automatic again (catalog.EditableFields).
	Reset []string
	// Owner hands the app over to another user (admins only).
	Owner *string
}

// NewCmdEdit builds "appstore edit".
func NewCmdEdit(f *Factory) *cobra.Command {
	opts := &EditOptions{}
	var redeploy bool
	var port int
	var owner string
	strs := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "edit <slug> [flags]",
		Short: "Change a repository's settings and correct what ingestion found",
		Long: `Change a repository's settings; only the flags given change.

--name, --description, --homepage, --branch, --dockerfile, --context,
--target, --port and --profile set a field by hand: it becomes manual, and
ingestion leaves it alone from then on (show marks it). --reset FIELD
(repeatable, or comma-separated) makes a field automatic again: ingestion
decides it anew. --target names the stage of the Dockerfile to build (FROM …
AS <name>), over the stage a compose service's build.target names; --reset
target builds what ingestion finds again (the compose service's stage, else
the final one).
A change of the branch, the Dockerfile, the context or the stage, or a reset
of a field ingestion reads, queues a new ingestion (and so a build) so that it takes
effect; port and profile apply from the next launch.

--redeploy (on by default) replaces the app's running launch by one of the
new build when a newer build succeeds: the new container answers before the
old one stops. --redeploy=false keeps the running launch; ps and show then
mark it outdated, and ` + "`appstore launch <slug>`" + ` switches by hand.

--owner hands the app over to another user, who may then edit and remove
it (admins only; the user who registers an app owns it).

On a terminal it says what the settings are now; in a pipe it prints
"setting<TAB>value" lines; --json prints the repository.`,
		Example: `  appstore edit dash --port 3000 --profile medium
  appstore edit dash --context web --dockerfile web/Dockerfile
  appstore edit dash --target production
  appstore edit dash --name "Team dashboard" --description "Metrics at a glance"
  appstore edit dash --reset port,name
  appstore edit dash --redeploy=false
  appstore edit dash --owner alice`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			if cmd.Flags().Changed("redeploy") {
				opts.Redeploy = &redeploy
			}
			if cmd.Flags().Changed("port") {
				opts.Port = &port
			}
			if cmd.Flags().Changed("owner") {
				opts.Owner = &owner
			}
			for name, p := range map[string]**string{"name": &opts.Name, "description": &opts.Description, "homepage": &opts.Homepage,
				"branch": &opts.Branch, "dockerfile": &opts.Dockerfile, "context": &opts.Context, "profile": &opts.Profile, "target": &opts.Target} {
				if cmd.Flags().Changed(name) {
					*p = strs[name]
				}
			}
			return runEdit(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&redeploy, "redeploy", true, "replace the running launch when a newer build succeeds (--redeploy=false: by hand)")
	for _, s := range []struct{ name, help string }{
		{"name", "the app's name"},
		{"description", "the app's description"},
		{"homepage", "the app's homepage (http or https URL; \"\" clears it)"},
		{"branch", "the branch to clone and build (\"\": the remote's default)"},
		{"dockerfile", "the Dockerfile to build, relative to the repository root"},
		{"context", "the build context, a directory relative to the repository root (. is the root)"},
		{"target", "the stage of the Dockerfile to build (FROM … AS `name`), over a compose service's build.target"},
		{"profile", "the resource profile of launches that name none: small, medium or large"},
	} {
		v := new(string)
		strs[s.name] = v
		fl.StringVar(v, s.name, "", s.help)
	}
	fl.IntVar(&port, "port", 0, "the port the app serves on (1-65535), over what ingestion found")
	fl.StringVar(&owner, "owner", "", "hand the app over to the user `name` (admins only)")
	fl.StringSliceVar(&opts.Reset, "reset", nil, "make `FIELD` automatic again: "+strings.Join(catalog.EditableFields, ", ")+" (repeatable)")
	return cmd
}

// editRequest is the PATCH that opts ask for; ok is false when no setting
// was given.
func editRequest(opts *EditOptions) (req client.UpdateRepositoryRequest, ok bool) {
	req = client.UpdateRepositoryRequest{
		Redeploy: opts.Redeploy, Name: opts.Name, Description: opts.Description, Homepage: opts.Homepage,
		Branch: opts.Branch, Dockerfile: opts.Dockerfile, Context: opts.Context, Port: opts.Port, Profile: opts.Profile,
		Target: opts.Target, Reset: opts.Reset, OwnedBy: opts.Owner,
	}
	ok = len(editedFields(opts)) > 0 || len(opts.Reset) > 0
	return req, ok
}

// editedFields are the settings opts set, in the order of the flags.
func editedFields(opts *EditOptions) []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"name", opts.Name != nil}, {"description", opts.Description != nil}, {"homepage", opts.Homepage != nil},
		{"branch", opts.Branch != nil}, {"dockerfile", opts.Dockerfile != nil}, {"context", opts.Context != nil},
		{"target", opts.Target != nil}, {"port", opts.Port != nil}, {"profile", opts.Profile != nil}, {"redeploy", opts.Redeploy != nil}, {"owner", opts.Owner != nil}} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

func runEdit(ctx context.Context, opts *EditOptions) error {
	req, ok := editRequest(opts)
	if !ok {
		return usageErrorf("give a setting to change, e.g. `appstore edit %s --port 3000` or `appstore edit %s --redeploy=false`", opts.Slug, opts.Slug)
	}
	reset, err := catalog.CheckResetFields(opts.Reset)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("--reset: %s", strings.TrimPrefix(err.Error(), "reset: "))}
	}
	for _, f := range reset {
		if slices.Contains(editedFields(opts), f) {
			return usageErrorf("--%s and --reset %s: give one or the other", f, f)
		}
	}
	req.Reset = reset
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.UpdateRepository(ctx, opts.Slug, req)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, opts.IO, opts.Output, r, r.Slug); done {
		return err
	}
	fields := append(editedFields(opts), reset...)
	if opts.IO.IsStdoutTTY() {
		var parts []string
		for _, f := range fields {
			v := editValue(r, f)
			if f == "target" && opts.Target != nil {
				v = *opts.Target // the stage ingestion takes up next
			}
			switch {
			case f == "redeploy" && r.Redeploy:
				v = "on: a newer build replaces the running launch"
			case f == "redeploy":
				v = "off: a newer build waits for `appstore launch " + r.Slug + "`"
			case f == "owner":
				v = "owned by " + v
				f = ""
			case slices.Contains(reset, f):
				v += " (automatic)"
			default:
				v += " (manual)"
			}
			parts = append(parts, strings.TrimSpace(f+" "+v))
		}
		fmt.Fprintf(opts.IO.Out, "%s %s: %s\n", opts.IO.SuccessIcon(), r.Slug, strings.Join(parts, "; "))
		if r.IngestStatus == catalog.IngestQueued || r.IngestStatus == catalog.IngestProcessing {
			fmt.Fprintf(opts.IO.Out, "  ingesting again to apply it: `appstore show %s` follows it\n", r.Slug)
		}
		return nil
	}
	for _, f := range fields {
		key, v := f, editValue(r, f)
		if f == "owner" {
			key = "owned by"
		}
		if f == "target" && opts.Target != nil {
			v = *opts.Target
		}
		fmt.Fprintf(opts.IO.Out, "%s\t%s\n", key, v)
	}
	return nil
}

// editValue is the repository's current value of an editable setting.
func editValue(r *client.Repository, field string) string {
	switch field {
	case "name":
		return r.Name
	case "description":
		return r.Description
	case "homepage":
		return r.Homepage
	case "branch":
		return r.Branch
	case "dockerfile":
		return cmpOr(r.RequestedDockerfile, r.DockerfilePath)
	case "context":
		return r.ContextPath
	case "target":
		var meta catalog.RepositoryMetadata
		if json.Unmarshal(r.Metadata, &meta) == nil && meta.Build != nil {
			return meta.Build.Target
		}
		return ""
	case "port":
		if r.AppPort == 0 {
			return ""
		}
		return strconv.Itoa(r.AppPort)
	case "profile":
		return r.Profile
	case "redeploy":
		return strconv.FormatBool(r.Redeploy)
	case "owner":
		return r.OwnedBy
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
