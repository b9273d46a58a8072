package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/tui"
)

// LaunchOptions are the inputs of "appstore launch".
type LaunchOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	// OpenBrowser opens a URL (xdg-open, open); tests replace it.
	OpenBrowser func(url string) error

	Slug    string
	TTL     time.Duration
	Profile string
	NoOpen  bool
	// NoWait returns as soon as the daemon accepted the launch.
	NoWait bool
	// Restart starts a new launch even when the app already runs (to
	// apply changed variables or secrets).
	Restart bool
}

// NewCmdLaunch builds "appstore launch".
func NewCmdLaunch(f *Factory) *cobra.Command {
	opts := &LaunchOptions{}
	cmd := &cobra.Command{
		Use:   "launch <slug>",
		Short: "Start an app and print its preview URL",
		Long: `Start the latest succeeded build of an app in a sandboxed container and
print its preview URL, http://<slug>.localhost:<port>/, once the app answers.

On a terminal it shows progress, then opens the URL in the browser (unless
--no-open); in a pipe it prints only the URL (what was done goes to
standard error). An app already running the same build and profile is
reused, and says so: --ttl then sets its expiry (sooner or later), without
--ttl its expiry is extended to the default. Another --profile (or a newer
build) starts a new launch that replaces the running one once it answers,
and says which. An app kept warm by the daemon's warm pool starts at once.
Variables and secrets (` + "`appstore env`, `appstore secret`" + `) apply from the next
launch: --restart starts a new one even when the app runs, and it replaces
the running one once it answers.

The launch ends when its time to live runs out (--ttl, default the
daemon's --launch-ttl, 1h), when it serves no request for the daemon's
--idle-timeout (it then starts again on the next request to its URL), or
with ` + "`appstore stop`" + `.

Profiles: small (256 MiB, 0.5 CPU, 128 processes; the default), medium
(512 MiB, 1 CPU, 256), large (1 GiB, 2 CPUs, 512).

Exit status: 0 running, 1 failed to start (the reason and the app's last
output are printed), 2 a required variable or secret is not set (the
message says what to run), 3 unknown app, 5 no succeeded build yet.`,
		Example: `  appstore launch dash
  appstore launch dash --ttl 30m --profile medium --no-open
  appstore env set dash GREETING=hi && appstore launch dash --restart
  url=$(appstore launch dash) && curl -s "$url"
  appstore launch dash --json | jq -r .preview_url`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.OpenBrowser = tui.BrowserOpener(f.Getenv)
			opts.Slug = args[0]
			return runLaunch(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.TTL, "ttl", 0, "how long the launch lives, e.g. 30m or 2h (default: the daemon's --launch-ttl)")
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "resource profile: small, medium or large (default: the app's, else small)")
	cmd.Flags().BoolVar(&opts.NoOpen, "no-open", false, "do not open the browser")
	cmd.Flags().BoolVar(&opts.NoWait, "no-wait", false, "return once the launch is accepted, without waiting for the app to answer")
	cmd.Flags().BoolVar(&opts.Restart, "restart", false, "start a new launch even if the app runs (to apply changed variables or secrets); it replaces the running one once it answers")
	_ = cmd.RegisterFlagCompletionFunc("profile", cobra.FixedCompletions([]string{"small", "medium", "large"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runLaunch(ctx context.Context, opts *LaunchOptions) error {
	if !catalog.ValidSlug(opts.Slug) {
		return usageErrorf("%q is not an app slug (see `appstore list`)", opts.Slug)
	}
	if opts.TTL < 0 {
		return usageErrorf("--ttl %v: want a positive duration such as 30m", opts.TTL)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	req := client.LaunchRequest{Profile: opts.Profile, Restart: opts.Restart}
	if opts.TTL > 0 {
		req.TTL = opts.TTL.String()
	}
	// The wait follows the launch's events; every change after the start
	// comes after this id (see waitFor), whatever process runs the launch.
	var since int64
	if !opts.NoWait {
		if since, err = c.LastEventID(ctx); err != nil {
			return err
		}
	}
	l, err := c.StartLaunch(ctx, opts.Slug, req)
	if err != nil {
		return err
	}
	human := !opts.Output.Machine() && !opts.Output.Quiet
	if l.Status == catalog.LaunchStarting && !opts.NoWait {
		if l, err = waitLaunch(ctx, c, opts.IO, l, human, since); err != nil {
			if errors.Is(err, context.Canceled) {
				fmt.Fprintf(opts.IO.ErrOut, "Stopped waiting; launch %d goes on (`appstore ps`, `appstore stop %d`).\n", l.ID, l.ID)
			}
			return err
		}
	}
	switch {
	case opts.Output.Machine():
		if err := writeJSON(ctx, opts.IO, opts.Output, l); err != nil {
			return err
		}
	case opts.Output.Quiet:
		fmt.Fprintln(opts.IO.Out, l.ID)
	case !opts.IO.IsStdoutTTY():
		if l.Status == catalog.LaunchRunning || l.Status == catalog.LaunchStarting {
			fmt.Fprintln(opts.IO.Out, l.PreviewURL)
			// Standard output carries only the URL; what was done goes
			// to standard error.
			if note := launchNote(l, time.Now()); note != "" {
				fmt.Fprintf(opts.IO.ErrOut, "%s: %s\n", l.Repository, note)
			}
		}
	default:
		printLaunched(opts.IO, c, l)
	}
	if err := launchResult(l); err != nil {
		return err
	}
	if l.Status == catalog.LaunchRunning && human && opts.IO.IsStdoutTTY() && !opts.NoOpen && opts.OpenBrowser != nil {
		if err := opts.OpenBrowser(l.PreviewURL); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "Could not open a browser (%v); open %s yourself.\n", err, l.PreviewURL)
		}
	}
	return nil
}

// launchError is a launch that did not start; it exits with 1.
type launchError struct{ l *client.Launch }

func (e *launchError) Error() string {
	msg := fmt.Sprintf("launch %d of %s %s", e.l.ID, e.l.Repository, e.l.Status)
	if e.l.ErrorMessage != "" {
		msg += ": " + e.l.ErrorMessage
	}
	return msg
}

func launchResult(l *client.Launch) error {
	switch l.Status {
	case catalog.LaunchRunning, catalog.LaunchStarting:
		return nil
	}
	return &launchError{l: l}
}

// waitLaunch follows a starting launch until it runs or ends, with a
// spinner on a terminal's standard error. since is an event id read before
// the launch started.
func waitLaunch(ctx context.Context, c *client.Client, ios *IOStreams, l *client.Launch, human bool, since int64) (*client.Launch, error) {
	spin := human && ios.IsStderrTTY()
	if human && !spin {
		fmt.Fprintf(ios.ErrOut, "Starting %s (launch %d, profile %s)…\n", l.Repository, l.ID, l.ResourceProfile)
	}
	type result struct {
		l   *client.Launch
		err error
	}
	done := make(chan result, 1)
	go func() {
		cur, err := awaitLaunchEvents(ctx, c, l, since)
		if err != nil && ctx.Err() == nil && !client.IsUnreachable(err) {
			// The stream is refused or failing while the API answers (its
			// hub may be down): the daemon's long poll still knows.
			err = nil
			for err == nil && cur.Status == catalog.LaunchStarting {
				var next *client.Launch
				if next, err = c.WaitLaunch(ctx, l.ID, 30*time.Second); err == nil {
					cur = next
				}
			}
		}
		done <- result{cur, err}
	}()
	start := time.Now()
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case r := <-done:
			if spin {
				fmt.Fprint(ios.ErrOut, "\r\x1b[K")
			}
			return r.l, r.err
		case <-tick.C:
			if spin {
				fmt.Fprintf(ios.ErrOut, "\r\x1b[K%s Starting %s (launch %d, profile %s)… %s", frames[i%len(frames)], l.Repository, l.ID, l.ResourceProfile,
					time.Since(start).Round(100*time.Millisecond))
			}
		}
	}
}

// awaitLaunchEvents follows the launch events of l's app after since and
// returns l as it is once an event of its own says it is no longer
// starting (running, failed, stopped, expired).
func awaitLaunchEvents(ctx context.Context, c *client.Client, l *client.Launch, since int64) (*client.Launch, error) {
	cur := l
	err := waitFor(ctx, c, client.EventsOptions{Since: since, Topics: []string{"launch"}, Subject: l.Repository}, func(e client.Event) (bool, error) {
		var d struct {
			LaunchID int64 `json:"launch_id"`
		}
		if e.Type == "launch.starting" || json.Unmarshal(e.Data, &d) != nil || d.LaunchID != l.ID {
			return false, nil // another launch of the app, or not news
		}
		// The event carries no preview URL: the launch itself does.
		next, err := c.Launch(ctx, l.ID)
		if err != nil {
			return false, err
		}
		cur = next
		return cur.Status != catalog.LaunchStarting, nil
	})
	return cur, err
}

// printLaunched tells a person where the app is and what to do next.
func printLaunched(ios *IOStreams, c *client.Client, l *client.Launch) {
	if l.Status != catalog.LaunchRunning && l.Status != catalog.LaunchStarting {
		return // the error says it
	}
	state := "is running"
	switch {
	case l.Status == catalog.LaunchStarting:
		state = "is starting"
	case l.Origin == "reused":
		state = "is already running"
	}
	now := time.Now()
	fmt.Fprintf(ios.Out, "%s %s %s at %s\n", ios.SuccessIcon(), ios.Bold(l.Repository), state, ios.Bold(l.PreviewURL))
	details := []string{fmt.Sprintf("launch %d", l.ID), "profile " + l.ResourceProfile}
	if l.BuildID != nil {
		details = append(details, fmt.Sprintf("build #%d", *l.BuildID))
	}
	if l.ExpiresAt != nil && l.Origin != "reused" {
		details = append(details, "ends in "+until(now, *l.ExpiresAt))
	}
	fmt.Fprintf(ios.Out, "  %s\n", ios.Gray(strings.Join(details, ", ")))
	if note := launchNote(l, now); note != "" {
		fmt.Fprintf(ios.Out, "  %s\n", note)
	}
	if base := c.URL(); base != "" {
		fmt.Fprintf(ios.Out, "  %s %s/apps/%s/\n", ios.Gray("also at"), base, l.Repository)
	}
	fmt.Fprintf(ios.Out, "  %s appstore logs %s --app -f   %s appstore stop %s\n", ios.Gray("output:"), l.Repository, ios.Gray("stop:"), l.Repository)
}

// launchNote says what a launch request did besides starting the app: it
// joined the launch already running (with its new expiry), or replaced
// another launch of the app (another profile or build). "" for a plain
// start.
func launchNote(l *client.Launch, now time.Time) string {
	switch {
	case l.Origin == "reused":
		note := fmt.Sprintf("reused launch %d", l.ID)
		if l.StartedAt != nil {
			note = fmt.Sprintf("already running since %s (%s); reused launch %d", l.StartedAt.Local().Format("15:04"), ago(now, *l.StartedAt), l.ID)
		}
		if l.ExpiresAt != nil {
			note += fmt.Sprintf("; expiry now %s (in %s)", l.ExpiresAt.Local().Format("15:04"), until(now, *l.ExpiresAt))
		}
		if l.ConfigChanged {
			note += fmt.Sprintf("; its variables or secrets changed since it started: `appstore launch %s --restart` applies them", l.Repository)
		}
		return note
	case l.Replaces != nil:
		return fmt.Sprintf("replaced launch %d (it stops once this one answers)", *l.Replaces)
	}
	return ""
}

// runAppLogs prints the output of an app's container: "appstore logs
// <slug|launch-id> --app". The app's standard error goes to standard error.
func runAppLogs(ctx context.Context, opts *LogsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	id, err := resolveLaunch(ctx, c, opts.Target)
	if err != nil {
		return err
	}
	for line, err := range c.LaunchLogs(ctx, id, client.LaunchLogsOptions{Follow: opts.Follow}) {
		if err != nil {
			return err
		}
		if opts.Output.Machine() {
			if err := writeJSONLine(ctx, opts.IO, opts.Output, line); err != nil {
				return err
			}
			continue
		}
		w := opts.IO.Out
		if line.Stream == "stderr" {
			w = opts.IO.ErrOut
		}
		if _, err := fmt.Fprintln(w, line.Line); err != nil {
			return err
		}
	}
	return nil
}

// resolveLaunch turns a launch id, or a slug, into a launch id: the slug's
// newest active launch, else its newest launch.
func resolveLaunch(ctx context.Context, c *client.Client, target string) (int64, error) {
	if id, err := strconv.ParseInt(target, 10, 64); err == nil {
		if id <= 0 {
			return 0, usageErrorf("launch id %d: want a positive number, or an app slug", id)
		}
		return id, nil
	}
	if !catalog.ValidSlug(target) {
		return 0, usageErrorf("%q is neither a launch id nor an app slug", target)
	}
	active, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: target, Active: true, Limit: 20})
	if err != nil {
		return 0, err
	}
	for _, l := range active.Launches {
		if !l.Warm {
			return l.ID, nil
		}
	}
	latest, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: target, Limit: 1})
	if err != nil {
		return 0, err
	}
	if len(latest.Launches) == 0 {
		return 0, notFoundf("%s was never launched: start it with `appstore launch %s`", target, target)
	}
	return latest.Launches[0].ID, nil
}
