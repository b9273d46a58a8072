package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/termimage"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// ShowOptions are the inputs of "appstore show".
type ShowOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	// Now is the time relative times are computed from (tests fix it).
	Now func() time.Time
	// Protocol draws the thumbnail (none: not drawn).
	Protocol termimage.Protocol

	Slug string
}

// NewCmdShow builds "appstore show".
func NewCmdShow(f *Factory) *cobra.Command {
	opts := &ShowOptions{}
	cmd := &cobra.Command{
		Use:   "show <slug>",
		Short: "Show one repository: its status, build, tags and where they came from, and its ingestion timeline",
		Example: `  appstore show dash
  appstore show dash --json | jq '.tags'
  appstore show dash --jq '.latest_build.status'`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output, opts.Now, opts.Protocol = f.IO, f.Client, f.Output(), time.Now, f.ImageProtocol()
			opts.Slug = args[0]
			return runShow(cmd.Context(), opts)
		},
	}
	return cmd
}

func runShow(ctx context.Context, opts *ShowOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.Repository(ctx, opts.Slug)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, opts.IO, opts.Output, r, r.Slug); done {
		return err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	// The picture first, as a card shows it; a thumbnail that cannot be
	// drawn is not worth failing the command for.
	if r.ThumbnailURL != "" && opts.Protocol != termimage.None {
		if err := drawThumbnail(ctx, opts.IO, c, r.Slug, opts.Protocol); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "%s\n", opts.IO.Gray("(cannot draw the thumbnail: "+err.Error()+")"))
		}
	}
	if err := printRepository(opts.IO, r, now()); err != nil {
		return err
	}
	// What runs, and whether it is the newest build: extra too.
	var active []client.Launch
	if page, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: r.Slug, Active: true, Limit: 20}); err == nil {
		active = page.Launches
	}
	printLaunchLines(opts.IO, r, active)
	// Who starred it: extra too.
	if r.StarCount > 0 {
		if sg, err := c.Stargazers(ctx, r.Slug, 0); err == nil {
			printStargazers(opts.IO, sg)
		}
	}
	// The space its data volume takes: extra too.
	if hasStorage(r) {
		if list, err := c.Volumes(ctx, r.Slug); err == nil {
			printStorageUse(opts.IO, r.Slug, list.Volumes)
		}
	}
	// The configuration it declares and what is set: extra too.
	if cfg, err := c.AppConfig(ctx, r.Slug); err == nil {
		printConfigLines(opts.IO, r.Slug, cfg)
	}
	// The timeline is extra: a daemon that cannot give it still shows
	// the repository.
	steps, err := c.Timeline(ctx, r.Slug, client.TimelineOptions{Limit: showTimelineSteps})
	if err != nil || len(steps) == 0 {
		return nil
	}
	return printTimeline(opts.IO, steps, now())
}

// printLaunchLines prints the app's active launches, each with the build it
// runs, marked outdated when a newer build succeeded, and whether a new
// build replaces it by itself: on a terminal "launch: 7 running, build #2
// (outdated: #16 is newer; redeploy off), <url>, by ann"; in a pipe
// "launch:\t<id>\t<status>\t<build id>\t<outdated or empty>\t<preview URL>\t<launched by>".
func printLaunchLines(ios *IOStreams, r *client.Repository, ls []client.Launch) {
	if !r.Redeploy {
		if ios.IsStdoutTTY() {
			fmt.Fprintf(ios.Out, "%-14s %s\n", "redeploy:", "off: a new build does not replace the running launch (`appstore edit "+r.Slug+" --redeploy=true`)")
		} else {
			fmt.Fprintf(ios.Out, "redeploy:\toff\n")
		}
	}
	for _, l := range ls {
		if l.Warm {
			continue
		}
		build := ""
		if l.BuildID != nil {
			build = strconv.FormatInt(*l.BuildID, 10)
		}
		if !ios.IsStdoutTTY() {
			var marks []string
			if l.Outdated {
				marks = append(marks, "outdated")
			}
			if l.ConfigChanged {
				marks = append(marks, "config-changed")
			}
			outdated := strings.Join(marks, ",")
			fmt.Fprintf(ios.Out, "launch:\t%d\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Status, build, outdated, l.PreviewURL, plainText(l.LaunchedBy))
			continue
		}
		line := fmt.Sprintf("%d %s", l.ID, l.Status)
		if build != "" {
			line += ", build #" + build
		}
		if l.Outdated && l.LatestBuildID != nil {
			note := fmt.Sprintf(" (outdated: #%d is newer", *l.LatestBuildID)
			if !r.Redeploy {
				note += fmt.Sprintf("; redeploy is off: `appstore launch %s` switches", r.Slug)
			}
			line += ios.Yellow(note + ")")
		}
		if l.ConfigChanged {
			line += ios.Yellow(fmt.Sprintf(" (variables or secrets changed since it started: `appstore launch %s --restart` applies them)", r.Slug))
		}
		if l.PreviewURL != "" {
			line += ", " + l.PreviewURL
		}
		if l.LaunchedBy != "" {
			line += ios.Gray(", by " + plainText(l.LaunchedBy))
		}
		fmt.Fprintf(ios.Out, "%-14s %s\n", "launch:", line)
	}
}

// showTimelineSteps is how many of the newest ingestion steps show prints.
const showTimelineSteps = 10

// printTimeline prints the newest ingestion steps, oldest first: on a
// terminal indented under "timeline:", in a pipe as
// "step:\t<time>\t<status>\t<attempt>\t<commit>\t<duration ms>\t<message>\t<actor>".
func printTimeline(ios *IOStreams, steps []client.IngestionEvent, now time.Time) error {
	var b strings.Builder
	if !ios.IsStdoutTTY() {
		for _, s := range steps {
			ms := ""
			if s.DurationMS != nil {
				ms = strconv.FormatInt(*s.DurationMS, 10)
			}
			fmt.Fprintf(&b, "step:\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.CreatedAt.UTC().Format(time.RFC3339), s.Status,
				s.Attempt, s.CommitSHA, ms, plainText(s.Message), plainText(s.Actor))
		}
		_, err := fmt.Fprint(ios.Out, b.String())
		return err
	}
	b.WriteString("timeline:\n")
	for _, s := range steps {
		status := statusColor(ios, string(s.Status))(fmt.Sprintf("%-10s", s.Status))
		line := fmt.Sprintf("  %-14s %s", ago(now, s.CreatedAt), status)
		if s.CommitSHA != "" {
			line += " " + textutil.ShortSHA(s.CommitSHA)
		}
		if s.Message != "" {
			line += "  " + plainText(s.Message)
		}
		if s.DurationMS != nil {
			line += ios.Gray(" (" + formatMillis(*s.DurationMS) + ")")
		}
		if s.Actor != "" {
			line += ios.Gray(" by " + plainText(s.Actor))
		}
		b.WriteString(line + "\n")
	}
	_, err := fmt.Fprint(ios.Out, b.String())
	return err
}

// printRepository prints a repository as "field: value" lines: aligned,
// with relative times and colours on a terminal; "field:\tvalue" with
// RFC 3339 times in a pipe. Empty fields are left out.
func printRepository(ios *IOStreams, r *client.Repository, now time.Time) error {
	d := newDetails(ios, now, "2006-01-02 15:04")
	// On a terminal, a field set by hand (appstore edit) says so; a pipe
	// gets a "manual" line instead.
	manual := func(field, v string) string {
		if d.tty && v != "" && slices.Contains(r.ManualFields, field) {
			return v + " (manual)"
		}
		return v
	}
	d.add("slug", r.Slug, ios.Bold)
	d.add("name", manual("name", r.Name), nil)
	d.add("emoji", r.Emoji, nil)
	d.add("description", manual("description", r.Description), nil)
	d.add("git url", r.GitURL, nil)
	branch := r.Branch
	if branch == "" && r.DefaultBranch != "" {
		branch = r.DefaultBranch + " (default)"
	}
	d.add("branch", manual("branch", branch), nil)
	d.add("homepage", manual("homepage", r.Homepage), nil)
	d.add("git owner", r.Owner, nil)
	d.add("owned by", r.OwnedBy, nil)
	d.add("registered by", r.RegisteredBy, nil)
	d.add("status", string(r.IngestStatus), statusColor(ios, string(r.IngestStatus)))
	d.add("ingest error", r.IngestError, ios.Red)
	if r.IngestAttempts > 0 {
		d.add("attempts", strconv.Itoa(r.IngestAttempts), nil)
	}
	if r.LastIngestedAt != nil {
		d.add("last ingested", d.when(*r.LastIngestedAt), nil)
	}
	d.add("commit", r.LastCommitSHA, nil)
	dockerfile := r.DockerfilePath
	if dockerfile == "" && r.RequestedDockerfile != "" {
		dockerfile = r.RequestedDockerfile + " (requested)"
	}
	d.add("dockerfile", manual("dockerfile", dockerfile), nil)
	d.add("context", manual("context", r.ContextPath), nil)
	// The card's metadata says why this Dockerfile; an older or unknown
	// shape shows nothing.
	var meta catalog.RepositoryMetadata
	if len(r.Metadata) > 0 {
		_ = json.Unmarshal(r.Metadata, &meta)
	}
	if b := meta.Build; b != nil && r.DockerfilePath != "" {
		d.add("stage", manual("target", b.Target), nil)
		d.add("build args", buildArgsText(b.Args), nil)
		d.add("chosen because", b.Reason, nil)
	}
	if r.AppPort > 0 {
		port := strconv.Itoa(r.AppPort)
		if r.PortSource != "" {
			port += " (from " + r.PortSource
			if d.tty {
				port += ": " + catalog.PortSourceText(r.PortSource)
			}
			port += ")"
		}
		d.add("port", port, nil)
	}
	d.add("profile", manual("profile", r.Profile), nil)
	if !d.tty && len(r.ManualFields) > 0 {
		d.add("manual", strings.Join(r.ManualFields, ","), nil)
	}
	if st := meta.Storage; st != nil {
		v := st.Path + " (kept in a volume: `appstore volume ls " + r.Slug + "`)"
		if st.SizeBytes > 0 {
			v = st.Path + ", " + catalog.FormatSize(st.SizeBytes) + " (kept in a volume: `appstore volume ls " + r.Slug + "`)"
		}
		if !d.tty {
			v = st.Path
		}
		d.add("storage", v, nil)
	}
	if b := r.LatestBuild; b != nil {
		s := fmt.Sprintf("#%d %s", b.ID, b.Status)
		if b.CommitSHA != "" {
			s += " at " + textutil.ShortSHA(b.CommitSHA)
		}
		if b.Cached {
			s += " (cached)"
		} else if b.Builder != "" {
			s += " with " + builderName(b.Builder)
		}
		d.add("latest build", s, statusColor(ios, string(b.Status)))
		d.add("image", b.ImageTag, nil)
	}
	if r.LaunchCount > 0 {
		d.add("launches", strconv.FormatInt(r.LaunchCount, 10), nil)
	}
	if r.StarCount > 0 {
		d.add("stars", strconv.FormatInt(r.StarCount, 10), nil)
	}
	d.add("created", d.when(r.CreatedAt), nil)
	d.add("updated", d.when(r.UpdatedAt), nil)

	var b strings.Builder
	b.WriteString(d.String())
	// The other Dockerfiles, each with why it is not the one built.
	if m := meta.Build; m != nil && len(m.Others) > 0 && r.DockerfilePath != "" {
		if !d.tty {
			for _, o := range m.Others {
				fmt.Fprintf(&b, "other dockerfile:\t%s\t%s\n", plainText(o.Path), plainText(o.Why))
			}
		} else {
			b.WriteString("other dockerfiles:\n")
			w := 0
			for _, o := range m.Others {
				w = max(w, len(o.Path))
			}
			for _, o := range m.Others {
				fmt.Fprintf(&b, "  %-*s  %s\n", w, plainText(o.Path), ios.Gray(plainText(o.Why)))
			}
		}
	}
	// Tags come last, one per line with their source, since a repository
	// may have dozens.
	if !d.tty {
		for _, t := range r.Tags {
			fmt.Fprintf(&b, "tag:\t%s\t%s\n", t.String(), t.Source)
		}
	} else if len(r.Tags) > 0 {
		fmt.Fprintf(&b, "%s\n", "tags:")
		tw := 0
		for _, t := range r.Tags {
			tw = max(tw, len(t.String()))
		}
		for _, t := range r.Tags {
			fmt.Fprintf(&b, "  %-*s  %s\n", tw, t.String(), ios.Gray(string(t.Source)))
		}
	} else {
		fmt.Fprintf(&b, "%-*s %s\n", d.keyWidth(), "tags:", ios.Gray("none yet"))
	}
	_, err := fmt.Fprint(ios.Out, b.String())
	return err
}

// ago says how long before now t was, in the largest whole unit.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		return "just now"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	case d < 365*24*time.Hour:
		return plural(int(d/(30*24*time.Hour)), "month") + " ago"
	}
	return plural(int(d/(365*24*time.Hour)), "year") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// showStargazers is how many names show prints on a terminal.
const showStargazers = 10

// printStargazers says who starred the app, newest first: on a terminal
// "starred by: bob, ann and 3 more"; in a pipe a line
// "starred by:\t<user>\t<time (RFC 3339)>" each (the daemon's page: the
// newest 100).
func printStargazers(ios *IOStreams, sg *client.Stargazers) {
	if len(sg.Users) == 0 {
		return
	}
	if !ios.IsStdoutTTY() {
		for _, u := range sg.Users {
			fmt.Fprintf(ios.Out, "starred by:\t%s\t%s\n", plainText(u.User), u.StarredAt.UTC().Format(time.RFC3339))
		}
		return
	}
	var names []string
	for _, u := range sg.Users[:min(len(sg.Users), showStargazers)] {
		names = append(names, plainText(u.User))
	}
	line := strings.Join(names, ", ")
	if more := sg.StarCount - int64(len(names)); more > 0 {
		line += fmt.Sprintf(" and %d more", more)
	}
	fmt.Fprintf(ios.Out, "%-14s %s\n", "starred by:", line)
}
