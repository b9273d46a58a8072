package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/termimage"
)

// thumbnailColumns is how wide show and thumbnail draw a thumbnail, at
// most: 40 cells, a third of a wide terminal.
const thumbnailColumns = 40

// ImageProtocol is how this terminal draws pictures: none with --no-images
// or when stdout is not a terminal, else what its environment says
// (termimage.Detect; no query is sent to the terminal).
func (f *Factory) ImageProtocol() termimage.Protocol {
	if f.Flags.NoImages || !f.IO.IsStdoutTTY() {
		return termimage.None
	}
	return termimage.Detect(f.Getenv)
}

// ThumbnailOptions are the inputs of "appstore thumbnail".
type ThumbnailOptions struct {
	IO       *IOStreams
	Client   func() (*client.Client, error)
	Output   OutputOptions
	Protocol termimage.Protocol

	Slug    string
	Refresh bool
	Size    string
	File    string // --output: write the image there ("-": stdout)
	Timeout time.Duration
}

// NewCmdThumbnail builds "appstore thumbnail".
func NewCmdThumbnail(f *Factory) *cobra.Command {
	opts := &ThumbnailOptions{}
	cmd := &cobra.Command{
		Use:   "thumbnail <slug>",
		Short: "Show an app's thumbnail, save it, or take a new one (--refresh)",
		Long: `Thumbnails are screenshots of an app's page, taken by appstored's headless
Chromium when a launch of a new build first answers. On a terminal that
draws pictures (kitty, iTerm2, sixel, or true colour for half blocks) the
thumbnail is drawn; elsewhere its URL is printed. --refresh takes a new
one, launching the app if it does not run, and waits for it.`,
		Example: `  appstore thumbnail dash
  appstore thumbnail dash --refresh
  appstore thumbnail dash --size 2x -o dash.webp`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output, opts.Protocol = f.IO, f.Client, f.Output(), f.ImageProtocol()
			opts.Slug = args[0]
			if opts.Size != client.ThumbnailSize1x && opts.Size != client.ThumbnailSize2x {
				return usageErrorf("--size %q: use 1x (320×200) or 2x (640×400)", opts.Size)
			}
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout %v: want a positive duration such as 2m", opts.Timeout)
			}
			return runThumbnail(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Refresh, "refresh", false, "take a new thumbnail (launching the app if it does not run) and wait for it")
	cmd.Flags().StringVar(&opts.Size, "size", client.ThumbnailSize1x, "1x (320×200) or 2x (640×400), for --output")
	cmd.Flags().StringVarP(&opts.File, "output", "o", "", "write the image (WebP) to `file` (- for stdout)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 3*time.Minute, "how long --refresh waits for the new thumbnail")
	return cmd
}

// thumbnailInfo is what thumbnail --json prints.
type thumbnailInfo struct {
	Repository   string `json:"repository"`
	ThumbnailURL string `json:"thumbnail_url"`
	URL          string `json:"url"`
	LaunchID     int64  `json:"launch_id,omitempty"`
	Launched     bool   `json:"launched,omitempty"`
}

func runThumbnail(ctx context.Context, opts *ThumbnailOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	info := thumbnailInfo{Repository: opts.Slug}
	if opts.Refresh {
		if err := refreshThumbnail(ctx, c, opts, &info); err != nil {
			return err
		}
	}
	r, err := c.Repository(ctx, opts.Slug)
	if err != nil {
		return err
	}
	if r.ThumbnailURL == "" {
		return notFoundf("%s has no thumbnail yet: one is taken when a launch of a new build first answers; `appstore thumbnail %s --refresh` takes one now", r.Slug, r.Slug)
	}
	info.ThumbnailURL = r.ThumbnailURL
	info.URL = strings.TrimRight(c.URL(), "/") + r.ThumbnailURL
	if opts.File != "" {
		img, err := c.Thumbnail(ctx, r.Slug, opts.Size)
		if err != nil {
			return err
		}
		if opts.File == "-" {
			_, err = opts.IO.Out.Write(img.Data)
			return err
		}
		if err := os.WriteFile(opts.File, img.Data, 0o644); err != nil {
			return fmt.Errorf("write the thumbnail: %w", err)
		}
		if !opts.Output.Machine() && !opts.Output.Quiet {
			fmt.Fprintf(opts.IO.ErrOut, "%s wrote %s (%d bytes, %s)\n", opts.IO.SuccessIcon(), opts.File, len(img.Data), img.ContentType)
		}
	}
	if done, err := writeObject(ctx, opts.IO, opts.Output, info, info.URL); done {
		return err
	}
	if opts.File != "" {
		return nil
	}
	if opts.Protocol != termimage.None {
		if err := drawThumbnail(ctx, opts.IO, c, r.Slug, opts.Protocol); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "cannot draw the thumbnail: %v\n", err)
		}
	}
	_, err = fmt.Fprintln(opts.IO.Out, info.URL)
	return err
}

// refreshThumbnail asks for a new thumbnail and waits for the event that
// says how it went.
func refreshThumbnail(ctx context.Context, c *client.Client, opts *ThumbnailOptions, info *thumbnailInfo) error {
	since, err := c.LastEventID(ctx)
	if err != nil {
		return err
	}
	res, err := c.RefreshThumbnail(ctx, opts.Slug)
	if err != nil {
		return err
	}
	info.LaunchID, info.Launched = res.LaunchID, res.Launched
	if opts.IO.IsStderrTTY() && !opts.Output.Machine() {
		what := "running launch"
		if res.Launched {
			what = "new launch (started for it)"
		}
		fmt.Fprintf(opts.IO.ErrOut, "Taking a thumbnail of %s's %s %d…\n", opts.Slug, what, res.LaunchID)
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var warning string
	err = waitFor(wctx, c, client.EventsOptions{Since: since, Topics: []string{"repository", "ingestion", "launch"}, Subject: opts.Slug}, func(e client.Event) (bool, error) {
		var d struct {
			Changed  []string `json:"changed"`
			Source   string   `json:"source"`
			Message  string   `json:"message"`
			LaunchID int64    `json:"launch_id"`
			Error    string   `json:"error"`
		}
		_ = json.Unmarshal(e.Data, &d)
		switch {
		case e.Type == "repository.updated" && contains(d.Changed, "thumbnail"):
			return true, nil
		case e.Type == "ingestion.warning" && d.Source == "thumbnail":
			warning = d.Message
			return true, nil
		case e.Type == "repository.deleted":
			return true, notFoundf("%s was removed", opts.Slug)
		case e.Type == "launch.failed" && d.LaunchID == res.LaunchID:
			l, lerr := c.Launch(ctx, res.LaunchID)
			if lerr == nil {
				return true, fmt.Errorf("no thumbnail: launch %d of %s failed: %s", l.ID, opts.Slug, l.ErrorMessage)
			}
			return true, fmt.Errorf("no thumbnail: launch %d of %s failed", res.LaunchID, opts.Slug)
		}
		return false, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("no new thumbnail of %s after %v; `appstore show %s` shows its timeline", opts.Slug, opts.Timeout, opts.Slug)
	}
	if err != nil {
		return err
	}
	if warning != "" {
		return errors.New(warning)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// drawThumbnail fetches the thumbnail of slug (2x for image protocols,
// which draw real pixels) and draws it.
func drawThumbnail(ctx context.Context, ios *IOStreams, c *client.Client, slug string, p termimage.Protocol) error {
	size := client.ThumbnailSize2x
	if p == termimage.HalfBlocks {
		size = client.ThumbnailSize1x
	}
	th, err := c.Thumbnail(ctx, slug, size)
	if err != nil {
		return err
	}
	img, err := termimage.Decode(th.Data)
	if err != nil {
		return fmt.Errorf("decode the thumbnail: %w", err)
	}
	return termimage.Write(ios.Out, img, thumbnailColumns, p)
}
