package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Version and Commit are set at link time:
//
//	go build -ldflags "-X github.com/appstore-dev/appstore/cli.Version=v1.2.0 -X github.com/appstore-dev/appstore/cli.Commit=abc123" ./cmd/appstore
//
// Without them the module's build information is used.
var (
	Version = ""
	Commit  = ""
)

func versionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func commitString() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return textutil.ShortSHA(s.Value)
			}
		}
	}
	return ""
}

// VersionOptions are the inputs of "appstore version".
type VersionOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
}

// ClientVersion describes the appstore binary.
type ClientVersion struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
}

// VersionReport is the JSON output of "appstore version".
type VersionReport struct {
	Client ClientVersion       `json:"client"`
	Server *client.VersionInfo `json:"server"`
	// ServerURL is the daemon asked.
	ServerURL string `json:"server_url"`
	// ServerError says why Server is null.
	ServerError string `json:"server_error,omitempty"`
}

// NewCmdVersion builds "appstore version".
func NewCmdVersion(f *Factory) *cobra.Command {
	opts := &VersionOptions{}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of appstore and of the daemon, if reachable",
		Long: `Print the version of this appstore binary and, when appstored answers,
of the daemon and its API level. An unreachable daemon is reported on
standard error but is not a failure: the exit status is 0.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			return runVersion(cmd.Context(), opts)
		},
	}
}

func runVersion(ctx context.Context, opts *VersionOptions) error {
	rep := VersionReport{Client: ClientVersion{Version: versionString(), Commit: commitString(), Go: runtime.Version()}}
	if opts.Output.Quiet {
		_, err := fmt.Fprintln(opts.IO.Out, rep.Client.Version)
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	rep.ServerURL = c.URL()
	rep.Server, err = c.Version(ctx)
	if err != nil {
		rep.ServerError = ErrorMessage(err)
	}
	if opts.Output.Machine() {
		return writeJSON(ctx, opts.IO, opts.Output, rep)
	}
	line := "appstore " + rep.Client.Version
	if rep.Client.Commit != "" {
		line += " (" + rep.Client.Commit + ")"
	}
	fmt.Fprintf(opts.IO.Out, "%s %s\n", line, rep.Client.Go)
	if rep.Server == nil {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", rep.ServerError)
		return nil
	}
	line = "appstored " + rep.Server.Version
	if rep.Server.Commit != "" {
		line += " (" + rep.Server.Commit + ")"
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s api %d at %s\n", line, rep.Server.API, rep.ServerURL)
	return err
}
