package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// StatsOptions are the inputs of "appstore stats".
type StatsOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slug string
	Days int
}

// NewCmdStats builds "appstore stats".
func NewCmdStats(f *Factory) *cobra.Command {
	opts := &StatsOptions{}
	cmd := &cobra.Command{
		Use:   "stats <slug>",
		Short: "Show how an app is used: launches, preview requests, visitors, active minutes per day",
		Long: `Show an app's usage on each of its last days (UTC, today included):
launches, preview requests (pages and assets the preview proxy served),
unique visitors (told apart by a keyed hash of address and user agent that
changes every day: no address is stored) and active minutes (minutes with at
least one preview request).

On a terminal a sparkline of each figure over the days comes first, then
the days with any use; in a pipe, one line a day, oldest first, tab-separated:
day, launches, preview requests, visitors, active minutes. --json prints the
whole answer. appstored keeps --stats-retention of history (400 days by
default).`,
		Example: `  appstore stats dash
  appstore stats dash --days 7
  appstore stats dash --json --jq '.total.visitors'`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			return runStats(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Days, "days", catalog.DefaultStatsDays, fmt.Sprintf("the last `N` days, today included (at most %d)", catalog.MaxStatsDays))
	return cmd
}

func runStats(ctx context.Context, opts *StatsOptions) error {
	if !catalog.ValidSlug(opts.Slug) {
		return usageErrorf("%q is not an app slug: `appstore list -q` lists them", opts.Slug)
	}
	if err := catalog.ValidateStatsDays(opts.Days); err != nil {
		return usageErrorf("--days %d: want 1 to %d", opts.Days, catalog.MaxStatsDays)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := c.Stats(ctx, opts.Slug, client.StatsOptions{Days: opts.Days})
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, opts.IO, opts.Output, st, st.Slug); done {
		return err
	}
	if !opts.IO.IsStdoutTTY() {
		for _, d := range st.Days {
			fmt.Fprintf(opts.IO.Out, "%s\t%d\t%d\t%d\t%d\n", d.Day, d.Launches, d.PreviewRequests, d.Visitors, d.ActiveMinutes)
		}
		return nil
	}
	io := opts.IO
	first, last := "", ""
	if len(st.Days) > 0 {
		first, last = st.Days[0].Day, st.Days[len(st.Days)-1].Day
	}
	fmt.Fprintf(io.Out, "%s  %s to %s (UTC) · %s · %d launches of all time\n\n",
		io.Bold(st.Slug), first, last, starCount(st.StarCount), st.LaunchCount)
	series := []struct {
		name  string
		total int64
		get   func(d client.UsageDay) int64
	}{
		{"launches", st.Total.Launches, func(d client.UsageDay) int64 { return d.Launches }},
		{"preview requests", st.Total.PreviewRequests, func(d client.UsageDay) int64 { return d.PreviewRequests }},
		{"visitors", st.Total.Visitors, func(d client.UsageDay) int64 { return d.Visitors }},
		{"active minutes", st.Total.ActiveMinutes, func(d client.UsageDay) int64 { return d.ActiveMinutes }},
	}
	for _, s := range series {
		vals := make([]int64, len(st.Days))
		for i, d := range st.Days {
			vals[i] = s.get(d)
		}
		fmt.Fprintf(io.Out, "  %-17s %s  %s\n", s.name, io.Green(sparkline(vals)), strconv.FormatInt(s.total, 10))
	}
	var used []client.UsageDay
	for _, d := range st.Days {
		if d.Launches+d.PreviewRequests+d.Visitors+d.ActiveMinutes > 0 {
			used = append(used, d)
		}
	}
	if len(used) == 0 {
		fmt.Fprintf(io.ErrOut, "\nNo use in these %d days: `appstore launch %s` starts it.\n", len(st.Days), st.Slug)
		return nil
	}
	fmt.Fprintln(io.Out)
	t := newTable(io, "DAY", "LAUNCHES", "REQUESTS", "VISITORS", "MINUTES")
	for _, d := range used {
		t.row(cell(d.Day), cell(strconv.FormatInt(d.Launches, 10)), cell(strconv.FormatInt(d.PreviewRequests, 10)),
			cell(strconv.FormatInt(d.Visitors, 10)), cell(strconv.FormatInt(d.ActiveMinutes, 10)))
	}
	return t.render()
}

// sparkBlocks are the eight heights of a sparkline, and a dot for zero.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws vals as one character each: zero as a low dot, the
// others from ▁ to █ in proportion to the largest.
func sparkline(vals []int64) string {
	var top int64
	for _, v := range vals {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range vals {
		if v <= 0 || top == 0 {
			b.WriteRune('·')
			continue
		}
		i := int((v*int64(len(sparkBlocks)) - 1) / top)
		b.WriteRune(sparkBlocks[min(max(i, 0), len(sparkBlocks)-1)])
	}
	return b.String()
}
