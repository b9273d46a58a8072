package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// newCmdServicesList builds "appstore services list".
func newCmdServicesList(f *Factory, newOpts func() *ServicesOptions) *cobra.Command {
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
	return listCmd
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
