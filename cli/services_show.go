package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// newCmdServicesShow builds "appstore services show".
func newCmdServicesShow(f *Factory, newOpts func() *ServicesOptions) *cobra.Command {
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
	return showCmd
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
