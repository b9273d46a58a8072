package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// BuildOptions are the inputs of "appstore build".
type BuildOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slug    string
	NoCache bool
	// Wait streams the log until the build ends; the exit status is then
	// the build's result.
	Wait bool
}

// NewCmdBuild builds "appstore build".
func NewCmdBuild(f *Factory) *cobra.Command {
	opts := &BuildOptions{}
	cmd := &cobra.Command{
		Use:   "build <slug>",
		Short: "Build a repository's image from its ingested commit",
		Long: `Queue an image build of the commit that ingestion last recorded, with its
Dockerfile and build context, and print the build id.

When the same commit, Dockerfile and context were built before and the image
is still on the Docker engine, the build finishes at once from that image
(marked cached). --no-cache builds again from scratch, without the engine's
layer cache either. When an equal build is already queued or running, that
build is the answer.

--wait streams the build's log until it ends (on standard error with --json,
--jq or -q) and exits with its result: 0 succeeded, 1 failed or cancelled.
Ctrl-C stops waiting, not the build: ` + "`appstore cancel <id>`" + ` cancels it.`,
		Example: `  appstore build dash
  appstore build dash --wait
  appstore build dash --no-cache --wait --json | jq .image_tag
  appstore list --tag lang:go -q | xargs -n1 appstore build`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			return runBuild(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.NoCache, "no-cache", false, "build from scratch: no earlier image, no layer cache")
	fl.BoolVarP(&opts.Wait, "wait", "w", false, "stream the log until the build ends; exit with its result")
	return cmd
}

func runBuild(ctx context.Context, opts *BuildOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	b, err := c.CreateBuild(ctx, opts.Slug, client.CreateBuildRequest{NoCache: opts.NoCache})
	if err != nil {
		return err
	}
	if !opts.Wait {
		switch {
		case opts.Output.Machine():
			return writeJSON(ctx, opts.IO, opts.Output, b)
		case opts.Output.Quiet || !opts.IO.IsStdoutTTY():
			_, err := fmt.Fprintln(opts.IO.Out, b.ID)
			return err
		}
		_, err := fmt.Fprintf(opts.IO.Out, "Build #%d of %s %s at %s: follow it with `appstore logs %d -f`\n",
			b.ID, b.Repository, b.Status, textutil.ShortSHA(b.CommitSHA), b.ID)
		return err
	}
	if opts.IO.IsStderrTTY() && !opts.Output.Machine() && !opts.Output.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "%s\n", opts.IO.Gray(fmt.Sprintf("Build #%d of %s at %s", b.ID, b.Repository, textutil.ShortSHA(b.CommitSHA))))
	}
	if b.Status == catalog.BuildQueued {
		if _, msg := buildEngine(ctx, c); msg != "" {
			fmt.Fprintf(opts.IO.ErrOut, "Build #%d waits for the Docker engine: %s\n", b.ID, msg)
		}
	}
	return waitBuild(ctx, opts.IO, opts.Output, c, b.ID)
}

// waitBuild streams a build's log until it ends and reports its result:
// the final build as JSON (--json), its id (-q) or a summary line, and a
// *buildError when it did not succeed. The log goes to standard output,
// or to standard error when standard output carries JSON or ids.
func waitBuild(ctx context.Context, ios *IOStreams, out OutputOptions, c *client.Client, id int64) error {
	logTo := ios.Out
	if out.Machine() || out.Quiet {
		logTo = ios.ErrOut
	}
	b, err := followBuild(ctx, c, id, func(l client.LogLine) error {
		_, err := fmt.Fprintln(logTo, l.Line)
		return err
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(ios.ErrOut, "Stopped waiting; build #%d goes on: `appstore logs %d -f` follows it again.\n", id, id)
		}
		return err
	}
	switch {
	case out.Machine():
		if err := writeJSON(ctx, ios, out, b); err != nil {
			return err
		}
	case out.Quiet:
		fmt.Fprintln(ios.Out, b.ID)
	case b.Status == catalog.BuildSucceeded:
		fmt.Fprintln(ios.ErrOut, buildSummary(ios, b))
	}
	return buildResult(b)
}

// buildSummary is the line printed when a build succeeded.
func buildSummary(ios *IOStreams, b *client.Build) string {
	s := fmt.Sprintf("%s Build #%d of %s succeeded", ios.SuccessIcon(), b.ID, b.Repository)
	if b.DurationMS != nil {
		s += " in " + formatMillis(*b.DurationMS)
	}
	s += ": " + b.ImageTag
	if b.Cached {
		s += " (cached)"
	}
	return s
}

// buildError is a build that ended without an image; it exits with 1.
type buildError struct{ b *client.Build }

func (e *buildError) Error() string {
	what := "failed"
	if e.b.Status == catalog.BuildCancelled {
		what = "was cancelled"
	}
	msg := fmt.Sprintf("build #%d of %s %s", e.b.ID, e.b.Repository, what)
	if e.b.ErrorMessage != "" {
		msg += ": " + e.b.ErrorMessage
	}
	return msg
}

// buildResult is nil for a succeeded build (or one still going) and a
// *buildError for a failed or cancelled one.
func buildResult(b *client.Build) error {
	if b.Status == catalog.BuildFailed || b.Status == catalog.BuildCancelled {
		return &buildError{b: b}
	}
	return nil
}

// followBuild calls emit with each line of the build's log, live, until
// the build ends, and returns the ended build. A stream that breaks (the
// daemon restarting) is resumed after the last line received.
func followBuild(ctx context.Context, c *client.Client, id int64, emit func(client.LogLine) error) (*client.Build, error) {
	var since int64
	failures := 0
	for {
		var streamErr error
		for l, err := range c.BuildLogs(ctx, id, client.BuildLogOptions{Follow: true, Since: since}) {
			if err != nil {
				streamErr = err
				break
			}
			if err := emit(l); err != nil {
				return nil, err
			}
			since = l.ID
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if streamErr != nil && (client.IsNotFound(streamErr) || client.IsInvalid(streamErr) || client.IsUnauthorized(streamErr)) {
			return nil, streamErr
		}
		b, err := c.Build(ctx, id)
		if err != nil && !client.IsUnreachable(err) {
			return nil, err
		}
		if err == nil && b.Status.Terminal() {
			if streamErr != nil {
				// The stream broke near the end: fetch what it missed.
				for l, err := range c.BuildLogs(ctx, id, client.BuildLogOptions{Since: since}) {
					if err != nil {
						return nil, err
					}
					if err := emit(l); err != nil {
						return nil, err
					}
				}
			}
			return b, nil
		}
		if streamErr == nil && err == nil {
			// The daemon ended the stream before the build ended (it
			// is shutting down, say): resume shortly.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if streamErr == nil {
			streamErr = err
		}
		{
			failures++
			if failures > 6 {
				return nil, streamErr
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(failures) * 500 * time.Millisecond):
			}
		}
	}
}

// formatMillis prints a duration in milliseconds the way people read it:
// 850ms, 12.3s, 4m05s.
func formatMillis(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// writeJSONLine prints v as one line of compact JSON (a stream of log
// lines), or through --jq.
func writeJSONLine(ctx context.Context, ios *IOStreams, o OutputOptions, v any) error {
	if o.JQ != "" {
		return writeJSON(ctx, ios, o, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = io.WriteString(ios.Out, string(b)+"\n")
	return err
}

// waitRepositoryBuild follows the build that the ingestion of r queued
// (its latest build, of the ingested commit) until it ends, streaming
// its log on standard error with the slug in front of each line, as the
// ingestion steps are printed. It returns the repository as it is after
// the build, and a *buildError when the build did not succeed. A
// repository whose ingestion queued no build is returned as it is.
func waitRepositoryBuild(ctx context.Context, c *client.Client, ios *IOStreams, r *client.Repository) (*client.Repository, error) {
	lb := r.LatestBuild
	if lb == nil || lb.CommitSHA != r.LastCommitSHA {
		return r, nil
	}
	bar := "| "
	if ios.IsStderrTTY() {
		bar = ios.Gray("│ ")
	}
	step := func(status, text string) {
		if ios.IsStderrTTY() {
			status = statusColor(ios, status)(fmt.Sprintf("%-10s", status))
		}
		fmt.Fprintf(ios.ErrOut, "%s  %s  %s\n", r.Slug, status, text)
	}
	engine := ""
	if lb.Status == catalog.BuildQueued {
		// A daemon without the runner role (and, without Redis, no other
		// process) never starts it: say so rather than wait.
		var builds bool
		if builds, engine = buildEngine(ctx, c); !builds {
			step(string(lb.Status), fmt.Sprintf("build #%d waits for a runner (this appstored does not build): `appstore logs %d -f` follows it", lb.ID, lb.ID))
			return r, nil
		}
	}
	step("building", fmt.Sprintf("build #%d at %s", lb.ID, textutil.ShortSHA(lb.CommitSHA)))
	if engine != "" {
		step("waiting", fmt.Sprintf("build #%d waits for the Docker engine: %s", lb.ID, engine))
	}
	b, err := followBuild(ctx, c, lb.ID, func(l client.LogLine) error {
		_, err := fmt.Fprintf(ios.ErrOut, "%s  %s%s\n", r.Slug, bar, l.Line)
		return err
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return r, &buildWaitTimeoutError{slug: r.Slug, id: lb.ID}
		}
		return r, err
	}
	if b.Status == catalog.BuildSucceeded {
		text := b.ImageTag
		if b.DurationMS != nil {
			text += " (" + formatMillis(*b.DurationMS)
			if b.Cached {
				text += ", cached"
			}
			text += ")"
		}
		step(string(b.Status), text)
	}
	if updated, err := c.Repository(ctx, r.Slug); err == nil {
		r = updated
	}
	return r, buildResult(b)
}

// buildEngine reads the daemon's /readyz "docker" check: builds is false when
// the daemon has none (it does not build: no runner role), and down is why
// its engine does not answer (the check's message says how to fix it), ""
// when it answers. A queued build waits for the engine without a word in its
// log, so a --wait would otherwise look hung. A /readyz that cannot be read
// tells nothing: builds true, down "".
func buildEngine(ctx context.Context, c *client.Client) (builds bool, down string) {
	h, err := c.Ready(ctx)
	if err != nil {
		return true, ""
	}
	check, ok := h.Checks["docker"]
	if !ok {
		return false, ""
	}
	if !check.OK {
		return true, cmp.Or(check.Message, "not reachable")
	}
	return true, ""
}

// buildWaitTimeoutError is a wait for a build that ran out of time; the
// build goes on.
type buildWaitTimeoutError struct {
	slug string
	id   int64
}

func (e *buildWaitTimeoutError) Error() string {
	return fmt.Sprintf("%s: build #%d still running after --timeout; it goes on: `appstore logs %d -f` follows it", e.slug, e.id, e.id)
}
