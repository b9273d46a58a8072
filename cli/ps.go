package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// PsOptions are the inputs of "appstore ps".
type PsOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	Now    func() time.Time

	// All includes ended launches and the warm pool.
	All bool
	// App keeps only the launches of this slug.
	App   string
	Limit int
}

// NewCmdPs builds "appstore ps".
func NewCmdPs(f *Factory) *cobra.Command {
	opts := &PsOptions{}
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List running apps (launches)",
		Long: `List launches: by default the ones starting, running or stopping, newest
first; with --all also the ones that ended (stopped, failed, expired, with
why) and the warm pool's containers.

On a terminal: a table. In a pipe: tab-separated id, app, status, profile,
preview URL, started (RFC 3339), expires (RFC 3339), build id, marks
("outdated" when a newer build of the app succeeded, "config-changed" when
its variables or secrets changed since the launch started, comma-separated;
else empty), with --all the reason, and last who started the launch. BY
(and that last field) is the user who launched it; empty for the daemon's
own launches (a wake by a preview request, the warm pool, a redeploy) and
once that account is removed. BUILD marks a launch that runs an
older build than the newest; STATUS says "config changed" for a launch
that runs without the app's latest variables or secrets (` + "`appstore launch <slug> --restart`" + `
applies them). -q prints the launch ids, --json the launch objects
(config_changed, launched_by).`,
		Example: `  appstore ps
  appstore ps --all --app dash
  appstore ps -q | xargs appstore stop
  appstore ps --json | jq -r '.[] | .preview_url'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output, opts.Now = f.IO, f.Client, f.Output(), time.Now
			return runPs(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "include ended launches and warm-pool containers")
	cmd.Flags().StringVar(&opts.App, "app", "", "only the launches of this app (slug)")
	cmd.Flags().IntVar(&opts.Limit, "limit", 100, "at most this many launches (1-1000)")
	_ = cmd.RegisterFlagCompletionFunc("app", completeSlugs(f, -1))
	return cmd
}

func runPs(ctx context.Context, opts *PsOptions) error {
	if opts.Limit < 1 || opts.Limit > 1000 {
		return usageErrorf("--limit %d: want 1 to 1000", opts.Limit)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: opts.App, Active: !opts.All, Limit: opts.Limit})
	if err != nil {
		return err
	}
	ls := make([]client.Launch, 0, len(page.Launches))
	for _, l := range page.Launches {
		if l.Warm && !opts.All {
			continue
		}
		ls = append(ls, l)
	}
	if done, err := writeList(ctx, opts.IO, opts.Output, ls, func(l client.Launch) string { return strconv.FormatInt(l.ID, 10) }); done {
		return err
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	tty := opts.IO.IsStdoutTTY()
	if tty && len(ls) == 0 {
		if opts.All {
			fmt.Fprintln(opts.IO.ErrOut, "No launches yet: start one with `appstore launch <slug>`.")
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "Nothing is running: `appstore launch <slug>` starts an app, `appstore ps --all` shows ended launches.")
		}
		return nil
	}
	header := []string{"ID", "APP", "STATUS", "BY", "PROFILE", "URL", "STARTED", "ENDS", "BUILD"}
	if !tty {
		// Not printed: the fields of a pipe, in their order.
		header = []string{"ID", "APP", "STATUS", "PROFILE", "URL", "STARTED", "ENDS", "BUILD", "OUTDATED"}
	}
	if opts.All {
		header = append(header, "REASON")
	}
	if !tty {
		header = append(header, "BY")
	}
	t := newTable(opts.IO, header...)
	for _, l := range ls {
		status := string(l.Status)
		if l.Warm {
			status += " (warm)"
		}
		if l.ConfigChanged && tty {
			status += " (config changed)"
		}
		started, ends := "", ""
		if tty {
			if l.StartedAt != nil {
				started = ago(now, *l.StartedAt)
			}
			switch {
			case l.StoppedAt != nil:
				ends = "ended " + ago(now, *l.StoppedAt)
			case l.ExpiresAt != nil:
				ends = "in " + until(now, *l.ExpiresAt)
			}
		} else {
			if l.StartedAt != nil {
				started = l.StartedAt.UTC().Format(time.RFC3339)
			}
			if l.ExpiresAt != nil {
				ends = l.ExpiresAt.UTC().Format(time.RFC3339)
			}
		}
		url := l.PreviewURL
		if l.Status.Terminal() && tty {
			url = ""
		}
		row := []field{
			cell(strconv.FormatInt(l.ID, 10)), {text: l.Repository, color: opts.IO.Bold},
			{text: status, color: map[bool]func(string) string{true: opts.IO.Yellow, false: statusColor(opts.IO, string(l.Status))}[l.ConfigChanged]},
		}
		// Who launched it: a column beside the status on a terminal, the
		// last field in a pipe (after the ones scripts already read).
		if tty {
			row = append(row, field{text: l.LaunchedBy, max: 20})
		}
		row = append(row, cell(l.ResourceProfile), cell(url), cell(started), cell(ends))
		build, outdated := "", ""
		if l.BuildID != nil {
			build = strconv.FormatInt(*l.BuildID, 10)
			if tty {
				build = "#" + build
			}
		}
		if l.ConfigChanged {
			outdated = "config-changed"
		}
		if l.Outdated && l.LatestBuildID != nil {
			outdated = strings.TrimSuffix("outdated,"+outdated, ",")
			if tty {
				build += fmt.Sprintf(" (outdated: #%d is newer)", *l.LatestBuildID)
			}
		}
		row = append(row, field{text: build, color: map[bool]func(string) string{true: opts.IO.Yellow}[l.Outdated]})
		if !tty {
			row = append(row, cell(outdated))
		}
		if opts.All {
			row = append(row, field{text: textutil.FirstLine(l.ErrorMessage), max: 60})
		}
		if !tty {
			row = append(row, cell(l.LaunchedBy))
		}
		t.row(row...)
	}
	return t.render()
}
