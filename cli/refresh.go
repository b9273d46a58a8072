package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// DefaultWaitTimeout bounds --wait of add and refresh: a clone may take
// its full time limit (5 minutes by default) and be retried.
const DefaultWaitTimeout = 10 * time.Minute

// RefreshOptions are the inputs of "appstore refresh".
type RefreshOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slugs   []string
	Wait    bool
	Timeout time.Duration
}

// NewCmdRefresh builds "appstore refresh".
func NewCmdRefresh(f *Factory) *cobra.Command {
	opts := &RefreshOptions{}
	cmd := &cobra.Command{
		Use:   "refresh <slug>...",
		Short: "Ingest repositories again: clone the newest commit, re-read metadata, queue a build",
		Long: `Queue a new ingestion of each repository: appstored clones the head of its
branch, reads its Dockerfile and metadata again (author and auto tags are
replaced, manual tags and fields you set are kept) and queues a build of the
commit. A repository being ingested starts over on the newest commit.

appstored also re-ingests on its own: on a push webhook, and when the
periodic sync sees a new commit (--sync-interval).

--wait prints the steps of each ingestion as they happen (on standard
error), then streams the log of the build it queued, and exits 1 with the
error when one fails; --timeout bounds the wait.`,
		Example: `  appstore refresh dash
  appstore refresh dash --wait
  appstore list --status failed -q | xargs appstore refresh --wait`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeSlugs(f, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slugs = args
			return runRefresh(cmd.Context(), opts)
		},
	}
	addWaitFlags(cmd, &opts.Wait, &opts.Timeout)
	return cmd
}

func runRefresh(ctx context.Context, opts *RefreshOptions) error {
	if err := checkWaitTimeout(opts.Timeout); err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var (
		out   []client.Repository
		codes []int
		// after is the newest timeline step before the refresh, so that
		// --wait shows only this ingestion's steps.
		after = map[string]int64{}
	)
	batch := len(opts.Slugs) > 1
	since, err := waitCursor(ctx, c, opts.Wait)
	if err != nil {
		return err
	}
	for _, slug := range opts.Slugs {
		if opts.Wait {
			if tl, err := c.Timeline(ctx, slug, client.TimelineOptions{Limit: 1}); err == nil && len(tl) > 0 {
				after[slug] = tl[len(tl)-1].ID
			}
		}
		r, err := c.Refresh(ctx, slug)
		if err != nil {
			if !batch || errors.Is(err, context.Canceled) || client.IsUnreachable(err) {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "error: %s: %s\n", slug, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
			continue
		}
		out = append(out, *r)
		if !opts.Output.Machine() {
			fmt.Fprintln(opts.IO.Out, r.Slug)
		}
	}
	var waitErr error
	if opts.Wait {
		out, codes, waitErr = waitAll(ctx, c, opts.IO, out, after, since, opts.Timeout, batch, codes)
	}
	if opts.Output.Machine() {
		if out == nil {
			out = []client.Repository{}
		}
		var v any = out
		if !batch && len(out) == 1 {
			v = out[0]
		}
		if err := writeJSON(ctx, opts.IO, opts.Output, v); err != nil {
			return err
		}
	}
	if waitErr != nil {
		return waitErr
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
}

// addWaitFlags adds --wait and --timeout, of the commands that can follow
// the ingestions they start (add, refresh).
func addWaitFlags(cmd *cobra.Command, wait *bool, timeout *time.Duration) {
	fl := cmd.Flags()
	fl.BoolVarP(wait, "wait", "w", false, "follow each ingestion until it is ready or failed; exit 1 if one fails")
	fl.DurationVar(timeout, "timeout", DefaultWaitTimeout, "give up waiting after this long (with --wait)")
}

func checkWaitTimeout(d time.Duration) error {
	if d <= 0 {
		return usageErrorf("--timeout %s: want a positive duration such as 10m", d)
	}
	return nil
}

// waitCursor returns, when wait is set, the newest event before the
// command acts: --wait follows the events after it, so none of the
// ingestions' events is missed.
func waitCursor(ctx context.Context, c *client.Client, wait bool) (int64, error) {
	if !wait {
		return 0, nil
	}
	return c.LastEventID(ctx)
}

// waitAll waits for the ingestion of each repository in turn (they run
// in parallel in the daemon; the wait only watches) under one deadline, and
// returns the repositories as they ended. In a batch, failures are printed
// and their exit codes added to codes; alone, the failure is returned.
func waitAll(ctx context.Context, c *client.Client, ios *IOStreams, repos []client.Repository, after map[string]int64,
	since int64, timeout time.Duration, batch bool, codes []int) ([]client.Repository, []int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for i, r := range repos {
		final, err := waitIngestion(ctx, c, ios, r.Slug, after[r.Slug], since)
		if final != nil {
			repos[i] = *final
		}
		if err == nil && final != nil {
			// Ingested: follow the build it queued (see cli/build.go).
			if final, err = waitRepositoryBuild(ctx, c, ios, final); final != nil {
				repos[i] = *final
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = &waitTimeoutError{slug: r.Slug, timeout: timeout, status: repos[i].IngestStatus}
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(ios.ErrOut, "Stopped waiting; the ingestion of %s goes on: `appstore show %s` shows where it stands.\n", r.Slug, r.Slug)
			return repos, codes, err
		}
		if !batch {
			return repos, codes, err
		}
		fmt.Fprintf(ios.ErrOut, "error: %s\n", ErrorMessage(err))
		codes = append(codes, ExitCode(err))
		var timeoutErr *waitTimeoutError
		if errors.As(err, &timeoutErr) || client.IsUnreachable(err) {
			break // the deadline (or the daemon) is gone for the rest too
		}
	}
	return repos, codes, nil
}

// ingestFailedError is an ingestion that ended failed; it exits with 1.
type ingestFailedError struct {
	slug, message string
}

func (e *ingestFailedError) Error() string {
	return fmt.Sprintf("%s: ingestion failed: %s", e.slug, e.message)
}

// waitTimeoutError is a wait that ran out of time; the ingestion goes on.
type waitTimeoutError struct {
	slug    string
	timeout time.Duration
	status  catalog.IngestStatus
}

func (e *waitTimeoutError) Error() string {
	return fmt.Sprintf("%s: still %s after --timeout %s; the ingestion goes on: `appstore show %s` shows where it stands", e.slug, e.status, e.timeout, e.slug)
}

// waitPoll is how soon waitIngestion looks again after a look failed
// (the daemon restarting); otherwise events wake it.
const waitPoll = 250 * time.Millisecond

// waitIngestion follows the ingestion of slug until the repository is
// ready (nil) or failed (*ingestFailedError), printing each timeline step
// after the step id `after` on standard error as it appears. It returns
// the repository as it ended (or as last seen).
//
// It looks at the repository and its timeline whenever an event of the
// repository after since (taken before the action waited for) arrives, so
// no change is missed and nothing is polled.
func waitIngestion(ctx context.Context, c *client.Client, ios *IOStreams, slug string, after, since int64) (*client.Repository, error) {
	changed, failed, stop := watchEvents(ctx, c, client.EventsOptions{
		Since: since, Subject: slug, Topics: []string{"repository", "ingestion"},
	})
	defer stop()
	var last *client.Repository
	failures := 0
	printSteps := func() error {
		steps, err := c.Timeline(ctx, slug, client.TimelineOptions{After: after, Limit: 1000})
		if err != nil {
			return err
		}
		for _, s := range steps {
			printStep(ios, slug, s)
			after = s.ID
		}
		return nil
	}
	for {
		err := printSteps()
		var r *client.Repository
		if err == nil {
			r, err = c.Repository(ctx, slug)
		}
		switch {
		case err == nil:
			failures = 0
			last = r
		case ctx.Err() != nil:
			return last, ctx.Err()
		case client.IsUnreachable(err) && failures < 20:
			// The daemon restarting: its reconciler resumes the
			// ingestion, so keep watching for a while.
			failures++
		default:
			return last, err
		}
		if r != nil && (r.IngestStatus == catalog.IngestReady || r.IngestStatus == catalog.IngestFailed) {
			// The final step commits with the status: print it.
			if err := printSteps(); err != nil {
				return r, err
			}
			if r.IngestStatus == catalog.IngestFailed {
				return r, &ingestFailedError{slug: slug, message: r.IngestError}
			}
			return r, nil
		}
		var retry <-chan time.Time
		if failures > 0 {
			retry = time.After(waitPoll)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-changed:
		case <-retry:
		case err := <-failed:
			return last, err
		}
	}
}

// printStep prints one timeline step: "dash  processing  cloning …". A
// failed step leaves its message to the error that follows.
func printStep(ios *IOStreams, slug string, s client.IngestionEvent) {
	status := string(s.Status)
	if ios.IsStderrTTY() {
		status = statusColor(ios, status)(fmt.Sprintf("%-10s", status))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s", slug, status)
	if s.Message != "" && s.Status != catalog.IngestFailed {
		b.WriteString("  " + plainText(s.Message))
	}
	if s.DurationMS != nil {
		b.WriteString(" (" + formatMillis(*s.DurationMS) + ")")
	}
	fmt.Fprintln(ios.ErrOut, strings.TrimRight(b.String(), " "))
}
