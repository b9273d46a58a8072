package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// AddOptions are the inputs of "appstore add".
type AddOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	// Inputs are Git URLs, local directories, or "-" for one URL per line
	// of standard input.
	Inputs     []string
	Name       string
	Branch     string
	Dockerfile string
	Tags       []string
	// Wait follows each ingestion until it is ready or failed (see
	// waitIngestion), under Timeout.
	Wait    bool
	Timeout time.Duration
}

// NewCmdAdd builds "appstore add".
func NewCmdAdd(f *Factory) *cobra.Command {
	opts := &AddOptions{}
	cmd := &cobra.Command{
		Use:   "add <git-url|path|->...",
		Short: "Register Git repositories as apps",
		Long: `Register one or more Git repositories. Each is given a slug (printed, one
per line) and queued for ingestion: appstored clones it, reads its metadata
into tags and finds its Dockerfile.

An argument is a Git URL (https://, ssh://, git://, git@host:owner/repo.git),
or a local directory (relative or absolute), which is sent as an absolute
file:// URL (the daemon accepts those only while bound to loopback).
"-" reads one URL or path per line from standard input; blank lines and
lines starting with # are skipped.

With several repositories, a failure is reported on standard error and the
others are still added; the exit status is then that of the failures if
they all agree (5 when all were already registered), else 1.

--wait follows each ingestion and prints its steps as they happen (queued,
processing, ready or failed, with their messages) on standard error, then
follows the image build the ingestion queued, streaming its log there too;
it exits 1 with the error when an ingestion or a build fails. With --json
the repositories are printed as they ended. --timeout bounds the wait.`,
		Example: `  appstore add https://github.com/acme/dash.git --tag category:dashboard
  appstore add git@github.com:acme/dash.git --branch main --dockerfile deploy/Dockerfile
  appstore add ./examples/hello --wait
  cat urls.txt | appstore add -
  appstore add - --json < urls.txt | jq -r '.[].slug'`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Inputs = args
			return runAdd(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "display name (default: from the repository); one repository only")
	fl.StringVar(&opts.Branch, "branch", "", "branch to build (default: the remote's HEAD)")
	fl.StringVar(&opts.Dockerfile, "dockerfile", "", "Dockerfile path inside the repository (default: found by ingestion)")
	fl.StringArrayVarP(&opts.Tags, "tag", "t", nil, "manual tag `key:value` (repeatable)")
	addWaitFlags(cmd, &opts.Wait, &opts.Timeout)
	return cmd
}

func runAdd(ctx context.Context, opts *AddOptions) error {
	tags, err := parseTags(opts.Tags)
	if err != nil {
		return err
	}
	stdin := 0
	for _, in := range opts.Inputs {
		if in == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf(`"-" (standard input) is given more than once`)
	}
	batch := stdin > 0 || len(opts.Inputs) > 1
	if opts.Name != "" && batch {
		return usageErrorf("--name names one repository; it cannot be used with several or with -")
	}
	if opts.Name != "" {
		if err := catalog.ValidateName(opts.Name); err != nil {
			return &UsageError{Err: fmt.Errorf("--name: %w", err)}
		}
	}
	if err := catalog.ValidateRelPath("--dockerfile", opts.Dockerfile); err != nil {
		return &UsageError{Err: err}
	}
	if err := checkWaitTimeout(opts.Timeout); opts.Wait && err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if stdin > 0 && opts.IO.IsStdinTTY() {
		fmt.Fprintln(opts.IO.ErrOut, "Reading Git URLs from standard input, one per line; end with Ctrl-D.")
	}

	var (
		added []client.Repository
		codes []int
		fatal error
	)
	since, err := waitCursor(ctx, c, opts.Wait)
	if err != nil {
		return err
	}
	for in, readErr := range addInputs(opts.Inputs, opts.IO.In) {
		if readErr != nil {
			fmt.Fprintf(opts.IO.ErrOut, "error: %s\n", ErrorMessage(readErr))
			codes = append(codes, ExitError)
			break
		}
		repo, err := addOne(ctx, c, opts, in, tags)
		if err != nil {
			if !batch {
				if opts.Output.Machine() {
					// --json always prints JSON: nothing was added.
					if werr := writeJSON(ctx, opts.IO, opts.Output, []client.Repository{}); werr != nil {
						return werr
					}
				}
				return err
			}
			if errors.Is(err, context.Canceled) || client.IsUnreachable(err) {
				// Nothing further can succeed: stop rather than repeat
				// the same error for every remaining line.
				fatal = err
				break
			}
			fmt.Fprintf(opts.IO.ErrOut, "error: %s: %s\n", in, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
			continue
		}
		added = append(added, *repo)
		if !opts.Output.Machine() {
			fmt.Fprintln(opts.IO.Out, repo.Slug)
		}
		if note := renamedNote(in, opts.Name, repo); note != "" && !opts.Output.Quiet {
			fmt.Fprintln(opts.IO.ErrOut, note)
		}
	}
	var waitErr error
	if opts.Wait && fatal == nil {
		added, codes, waitErr = waitAll(ctx, c, opts.IO, added, nil, since, opts.Timeout, batch, codes)
	}
	if opts.Output.Machine() {
		if added == nil {
			added = []client.Repository{}
		}
		if err := writeJSON(ctx, opts.IO, opts.Output, added); err != nil {
			return err
		}
	}
	if fatal != nil {
		return fatal
	}
	if waitErr != nil {
		return waitErr
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
}

func addOne(ctx context.Context, c *client.Client, opts *AddOptions, input string, tags []string) (*client.Repository, error) {
	gitURL, err := resolveGitURL(input)
	if err != nil {
		return nil, err
	}
	return c.AddRepository(ctx, client.AddRepositoryRequest{
		GitURL: gitURL, Name: opts.Name, Branch: opts.Branch, Dockerfile: opts.Dockerfile, Tags: tags,
	})
}

// renamedNote says when the slug the daemon gave is not the name the user
// gave (--name, or the repository's name in the URL), and why: "2048"
// becomes "app-2048" since slugs start with a letter; a taken slug gets
// "-2". "" when the slug is what was asked for.
func renamedNote(input, name string, repo *client.Repository) string {
	asked := name
	if asked == "" {
		u := strings.TrimRight(filepath.ToSlash(input), "/")
		if i := strings.LastIndexAny(u, "/:"); i >= 0 {
			u = u[i+1:]
		}
		asked = strings.TrimSuffix(u, ".git")
	}
	if asked == "" || asked == repo.Slug {
		return ""
	}
	base := catalog.Slugify(asked)
	switch {
	case base == repo.Slug:
		// "My App" → my-app is the slug as expected; "2048" → app-2048
		// is not.
		if !strings.HasPrefix(base, "app-") || strings.HasPrefix(strings.ToLower(asked), "app") {
			return ""
		}
		return fmt.Sprintf("note: %q is registered as %s: a slug cannot be only digits", asked, repo.Slug)
	case strings.HasPrefix(repo.Slug, base+"-"):
		return fmt.Sprintf("note: %q is registered as %s: the slug %s is taken by another app", asked, repo.Slug, base)
	}
	return fmt.Sprintf("note: %q is registered as %s", asked, repo.Slug)
}

// addInputs yields the arguments in order, with "-" replaced by the lines
// of stdin as they are read (so a slow producer is handled line by line).
func addInputs(args []string, stdin io.Reader) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for _, a := range args {
			if a != "-" {
				if !yield(a, nil) {
					return
				}
				continue
			}
			sc := bufio.NewScanner(stdin)
			sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				if !yield(line, nil) {
					return
				}
			}
			if err := sc.Err(); err != nil {
				yield("", fmt.Errorf("read standard input: %w", err))
				return
			}
		}
	}
}

// resolveGitURL turns a local directory into an absolute file:// URL and
// leaves anything else for the daemon to validate. A directory on this
// machine is what the user means by a path, even a relative one; something
// written as a path that does not exist is refused here, with the reason.
func resolveGitURL(input string) (string, error) {
	if strings.Contains(input, "://") {
		return input, nil
	}
	looksLikePath := input == "." || input == ".." || strings.HasPrefix(input, "/") ||
		strings.HasPrefix(input, "./") || strings.HasPrefix(input, "../") || strings.HasPrefix(input, "~")
	fi, err := os.Stat(input)
	if err == nil && fi.IsDir() && filepath.Base(filepath.Clean(input)) == ".git" {
		// The .git directory of a work tree: the repository is the work
		// tree (its URL would end in "/.git", which names nothing).
		input = filepath.Dir(filepath.Clean(input))
	}
	switch {
	case err == nil && fi.IsDir():
		abs, err := filepath.Abs(input)
		if err != nil {
			return "", fmt.Errorf("local path %q: %w", input, err)
		}
		// Resolve symlinks so that two spellings of one directory are
		// one repository for the daemon.
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		if err := checkGitDir(input, abs); err != nil {
			return "", err
		}
		return "file://" + filepath.ToSlash(abs), nil
	case err == nil:
		return "", &UsageError{Err: fmt.Errorf("local path %q is a file, not a directory: give the repository's directory or a Git URL", input)}
	case looksLikePath:
		return "", &UsageError{Err: fmt.Errorf("local path %q: no such directory (a Git URL needs a scheme, e.g. https://…)", input)}
	}
	return input, nil
}

// checkGitDir refuses a directory that is not the top of a Git repository
// (a work tree with .git, or a bare repository) before anything is sent: the
// daemon would register it and only its clone would fail, with a message about
// a URL the user never typed. A directory inside a repository (examples/hello
// of a checkout) is the common mistake, so the message names the top.
func checkGitDir(input, abs string) error {
	if isGitDir(abs) {
		return nil
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if isGitDir(dir) {
			return &UsageError{Err: fmt.Errorf("local path %q is a directory inside the Git repository %s, not its top: "+
				"register %s, or make %s a repository of its own (git init && git add -A && git commit -m init)",
				input, dir, dir, input)}
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	return &UsageError{Err: fmt.Errorf("local path %q is not a Git repository (no .git in %s): appstore registers Git repositories; "+
		"run git init && git add -A && git commit -m init there first", input, abs)}
}

// isGitDir reports whether dir is a work tree (.git directory, or a .git file
// of a linked work tree or submodule) or a bare repository.
func isGitDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return true
	}
	for _, p := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// parseTags checks tags given on the command line and returns them
// normalised ("Lang:Go" → "lang:go"). A malformed tag is a usage error.
func parseTags(raw []string) ([]string, error) {
	var out []string
	for _, r := range raw {
		t, err := catalog.ParseTag(r)
		if err != nil {
			return nil, &UsageError{Err: err}
		}
		out = append(out, t.String())
	}
	return out, nil
}
