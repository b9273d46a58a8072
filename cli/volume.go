package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// VolumeOptions are the inputs of the "appstore volume" commands.
type VolumeOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	Now    func() time.Time

	// Slug is the app (ls: optional; rm: required).
	Slug string
	// Yes skips rm's confirmation on a terminal.
	Yes bool
}

// NewCmdVolume builds "appstore volume" and its subcommands.
func NewCmdVolume(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "volume <command>",
		Aliases: []string{"volumes"},
		Short:   "Apps' data volumes (tags.yaml storage:)",
		Long: `An app that declares a data directory in its tags.yaml (storage: /data, or
storage: {path: /data, size: 1g}) keeps it in a Docker volume of its own,
which outlives its containers: sleep and wake, stop and launch, rebuilds,
a restart of appstored. appstore rm keeps it (the same repository added
again gets it back) unless --purge is given.`,
		Args: noUnknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdVolumeLs(f), newCmdVolumeRm(f))
	return cmd
}

func newCmdVolumeLs(f *Factory) *cobra.Command {
	opts := &VolumeOptions{}
	return &cobra.Command{
		Use:   "ls [<slug>]",
		Short: "List the apps' data volumes with their size and last use",
		Long: `List the apps' data volumes: the app, the directory it is mounted at, the
space its files take (and the size the app declared), whether a container
uses it now, and when a launch of the app last ran. An orphaned volume
belongs to an app that was removed without --purge.

In a pipe: tab-separated app, path, used bytes (-1 unknown), declared bytes
(0 none), in use (true/false), last use (RFC 3339, empty if never),
orphaned (true/false), volume name. -q prints the apps, --json the volume
objects.`,
		Example: `  appstore volume ls
  appstore volume ls notes
  appstore volume ls --json | jq -r '.[] | select(.orphaned) | .repository'`,
		Args:              usageArgs(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output, opts.Now = f.IO, f.Client, f.Output(), time.Now
			if len(args) == 1 {
				opts.Slug = args[0]
			}
			return runVolumeLs(cmd.Context(), opts)
		},
	}
}

func runVolumeLs(ctx context.Context, opts *VolumeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.Volumes(ctx, opts.Slug)
	if err != nil {
		return err
	}
	vols := list.Volumes
	if done, err := writeList(ctx, opts.IO, opts.Output, vols, func(v client.Volume) string { return v.Repository }); done {
		return err
	}
	tty := opts.IO.IsStdoutTTY()
	if tty && len(vols) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No data volumes: an app gets one when its tags.yaml declares storage (storage: /data) and it is launched.")
		return nil
	}
	now := opts.Now()
	t := newTable(opts.IO, "APP", "PATH", "SIZE", "IN USE", "LAST USE", "ORPHANED", "VOLUME")
	for _, v := range vols {
		if !tty {
			last := ""
			if v.LastUsedAt != nil {
				last = v.LastUsedAt.UTC().Format(time.RFC3339)
			}
			t.row(cell(v.Repository), cell(v.Path), cell(strconv.FormatInt(v.UsedBytes, 10)), cell(strconv.FormatInt(v.SizeLimitBytes, 10)),
				cell(strconv.FormatBool(v.InUse)), cell(last), cell(strconv.FormatBool(v.Orphaned)), cell(v.Name))
			continue
		}
		size := "?"
		if v.UsedBytes >= 0 {
			size = catalog.FormatSize(v.UsedBytes)
		}
		var sizeColor func(string) string
		if v.SizeLimitBytes > 0 {
			size += " of " + catalog.FormatSize(v.SizeLimitBytes)
			if v.UsedBytes > v.SizeLimitBytes {
				size += " (over)"
				sizeColor = opts.IO.Yellow
			}
		}
		inUse, last := "", "never"
		if v.InUse {
			inUse, last = "yes", "now"
		} else if v.LastUsedAt != nil {
			last = ago(now, *v.LastUsedAt)
		}
		orphaned := ""
		if v.Orphaned {
			orphaned = "app removed"
		}
		t.row(field{text: v.Repository, color: opts.IO.Bold}, cell(v.Path), field{text: size, color: sizeColor},
			cell(inUse), cell(last), field{text: orphaned, color: opts.IO.Yellow}, field{text: v.Name, color: opts.IO.Gray})
	}
	return t.render()
}

func newCmdVolumeRm(f *Factory) *cobra.Command {
	opts := &VolumeOptions{}
	cmd := &cobra.Command{
		Use:   "rm <slug>",
		Short: "Delete an app's data volume and its data",
		Long: `Delete the app's data volume, and with it everything the app saved there.
It is refused while the app runs: stop it first (appstore stop <slug>). The
app's next launch starts with an empty volume.

On a terminal, rm asks for confirmation unless --yes is given.`,
		Example:           `  appstore stop notes && appstore volume rm notes`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			return runVolumeRm(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runVolumeRm(ctx context.Context, opts *VolumeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if !opts.Yes && opts.IO.CanPrompt() {
		ok, err := confirm(opts.IO, fmt.Sprintf("Delete the data volume of %s and everything in it? [y/N] ", opts.Slug))
		if err != nil {
			return err
		}
		if !ok {
			return errCancelled
		}
	}
	if err := c.RemoveVolume(ctx, opts.Slug); err != nil {
		return err
	}
	switch {
	case opts.Output.Quiet:
		fmt.Fprintln(opts.IO.Out, opts.Slug)
	case opts.IO.IsStdoutTTY() && !opts.Output.Machine():
		fmt.Fprintf(opts.IO.Out, "%s Deleted the data volume of %s\n", opts.IO.SuccessIcon(), opts.Slug)
	}
	return nil
}
