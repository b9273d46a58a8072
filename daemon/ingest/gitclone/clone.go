// Package gitclone makes the shallow clones that ingestion reads, and asks
// remotes for their head commit for periodic sync. It uses go-git, guards
// every connection with the URL policy (giturl.Policy), and bounds each
// clone in time and size.
//
// Transports: https/http (smart HTTP) and git:// are guarded at connect
// time; ssh is checked before connecting (best effort: go-git's ssh client
// resolves again); file:// and local paths need Policy.AllowLocal and the
// git CLI's git-upload-pack.
package gitclone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

const (
	// DefaultTimeout bounds a clone when Options.Timeout is zero.
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxBytes bounds a clone when Options.MaxBytes is zero.
	DefaultMaxBytes int64 = 200 << 20
)

// Options describe one clone.
type Options struct {
	URL    string // as registered; parsed and checked again here
	Branch string // "" = the remote's HEAD
	// Dir receives the work tree (and Dir/.git). It must not exist or be
	// empty; on failure it is removed again, so nothing half-cloned stays.
	Dir string
	// Timeout bounds the whole clone; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBytes bounds both the bytes received and the size of the checked
	// out files; 0 means DefaultMaxBytes, a negative value no limit.
	MaxBytes int64
	Policy   giturl.Policy
	Logger   *slog.Logger // nil discards
	// Partial asks, when the commit's files are over MaxBytes or its tree
	// holds entries that cannot be checked out safely (both permanent
	// failures, KindTooLarge and KindMalformed, found after the transfer),
	// for what can be read safely: Clone then checks out the files of at
	// most PartialFileBytes each, PartialBytes (or MaxBytes) in all,
	// shallowest first, skipping unsafe entries, and returns a Result with
	// Partial set together with the error. Dir is then left for the
	// caller to remove. Ingestion reads the app's card from it.
	Partial bool
}

const (
	// PartialBytes bounds the files a partial checkout writes (Options.Partial).
	PartialBytes int64 = 16 << 20
	// PartialFileBytes bounds each file a partial checkout writes.
	PartialFileBytes int64 = 1 << 20
	// partialDepth bounds the folders a partial checkout descends into.
	partialDepth = 8
)

// Result describes a finished clone.
type Result struct {
	CommitSHA string
	Branch    string        // the branch cloned, resolved from HEAD when none was asked for
	Bytes     int64         // packfile bytes received
	TreeBytes int64         // bytes of the checked-out files
	Files     int           // files checked out (symlinks count)
	Duration  time.Duration // wall time of the clone
	// Partial says only part of the commit was checked out, for a clone
	// that failed (see Options.Partial); Skipped counts the entries left
	// out.
	Partial bool
	Skipped int
}

// Clone makes a shallow (depth 1), single-branch clone of opts.URL into
// opts.Dir. Failures are *Error values; see IsPermanent.
func Clone(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	limit := opts.MaxBytes
	if limit == 0 {
		limit = DefaultMaxBytes
	}
	// The time limit covers everything, name resolution included.
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	res, err := cloneChecked(ctx, opts, limit)
	if err != nil {
		ce := classify(err, parent, ctx, redactedURL(opts.URL), opts.Branch, timeout.String(), limit)
		log.Info("clone failed", "url", ce.URL, "branch", opts.Branch, "kind", ce.Kind,
			"permanent", IsPermanent(ce), "duration", time.Since(start), "err", err)
		if res != nil && res.Partial {
			res.Duration = time.Since(start)
			log.Info("checked out part of the failed clone", "files", res.Files, "tree_bytes", res.TreeBytes, "skipped", res.Skipped)
			return res, ce
		}
		return nil, ce
	}
	res.Duration = time.Since(start)
	log.Info("cloned", "url", redactedURL(opts.URL), "branch", res.Branch, "commit", res.CommitSHA,
		"bytes", res.Bytes, "tree_bytes", res.TreeBytes, "files", res.Files, "duration", res.Duration)
	return res, nil
}

// cloneChecked runs the checks, then the clone, and removes what it made
// of opts.Dir when anything fails.
func cloneChecked(ctx context.Context, opts Options, limit int64) (*Result, error) {
	u, cloneURL, ref, err := prepare(ctx, opts.URL, opts.Branch, opts.Policy)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, &Error{Kind: KindInvalid, URL: u.CloneURL(), Message: "gitclone: no target directory given"}
	}
	cleanup, err := prepareDir(opts.Dir)
	if err != nil {
		return nil, &Error{Kind: KindFailed, URL: u.CloneURL(), Message: fmt.Sprintf("cannot clone into %s: %v", opts.Dir, err), Err: err}
	}
	state := newCallState(opts.Policy)
	defer state.close()
	res, err := clone(withState(ctx, state), cloneURL, ref, opts.Dir, limit, opts.Partial)
	if err != nil {
		if res != nil && res.Partial {
			return res, err
		}
		cleanup()
		return nil, err
	}
	return res, nil
}

// redactedURL is raw cleaned by giturl when it parses (it refuses
// credentials), and a placeholder when it does not, so that an error or
// a log line never repeats a password someone pasted.
func redactedURL(raw string) string {
	if u, err := giturl.Parse(raw); err == nil {
		return u.CloneURL()
	}
	return "the given URL"
}

// prepare parses and checks the URL and branch, and returns the URL to
// hand to go-git (for git:// pinned to the checked address) and the ref to
// clone.
func prepare(ctx context.Context, rawURL, branch string, p giturl.Policy) (*giturl.URL, string, plumbing.ReferenceName, error) {
	u, err := giturl.Parse(rawURL)
	if err != nil {
		return nil, "", "", &Error{Kind: KindInvalid, Message: err.Error(), Err: err}
	}
	ref, err := branchRef(branch)
	if err != nil {
		return nil, "", "", &Error{Kind: KindInvalid, URL: u.CloneURL(), Message: err.Error(), Err: err}
	}
	if err := p.Check(ctx, u); err != nil {
		return nil, "", "", err // a *giturl.PolicyError: classify makes it KindPolicy
	}
	cloneURL := u.CloneURL()
	if u.Scheme == "git" {
		// go-git's git:// client dials by name with no hook: connect it to
		// the address just checked, so DNS cannot change it in between.
		addrs, err := p.Resolve(ctx, u.Host)
		if err != nil {
			return nil, "", "", &Error{Kind: KindPolicy, URL: u.CloneURL(), Message: err.Error(), Err: err}
		}
		pinned := *u
		pinned.Host = pickAddr(addrs).String()
		cloneURL = pinned.CloneURL()
	}
	return u, cloneURL, ref, nil
}

// pickAddr prefers IPv4, which every git daemon listens on.
func pickAddr(addrs []netip.Addr) netip.Addr {
	for _, a := range addrs {
		if a.Is4() {
			return a
		}
	}
	return addrs[0]
}

func branchRef(branch string) (plumbing.ReferenceName, error) {
	if branch == "" {
		return plumbing.HEAD, nil
	}
	b := strings.TrimPrefix(branch, "refs/heads/")
	ref := plumbing.NewBranchReferenceName(b)
	if strings.HasPrefix(b, "-") || ref.Validate() != nil {
		return "", fmt.Errorf("branch %q is not a valid branch name: give a name like main or release/1.2", branch)
	}
	return ref, nil
}

// prepareDir makes dir ready and returns how to undo it on failure.
func prepareDir(dir string) (func(), error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return func() { _ = os.RemoveAll(dir) }, nil
	case err != nil:
		return nil, err
	case len(entries) > 0:
		return nil, fmt.Errorf("directory is not empty")
	}
	return func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}, nil
}

func clone(ctx context.Context, cloneURL string, ref plumbing.ReferenceName, dir string, limit int64, partial bool) (*Result, error) {
	fs := filesystem.NewStorageWithOptions(
		osfs.New(filepath.Join(dir, git.GitDirName), osfs.WithBoundOS()),
		cache.NewObjectLRUDefault(),
		// Nothing else touches the directory while we clone: let go-git
		// cache what it reads instead of re-checking the file system, and
		// keep the pack open instead of reopening it for every object.
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true},
	)
	defer fs.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st := &limitedStorage{Storage: fs, limit: limit, cancel: cancel}
	wt := osfs.New(dir, osfs.WithBoundOS())

	repo, err := git.CloneContext(ctx, st, wt, &git.CloneOptions{
		URL:           cloneURL,
		ReferenceName: ref,
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
		// The tree is checked against the size limit before anything is
		// written; see checkout.
		NoCheckout: true,
	})
	if tl := st.exceeded.Load(); tl != nil {
		return nil, tl
	}
	if err != nil {
		return nil, err
	}
	head, err := repo.Head()
	if err != nil {
		return nil, fmt.Errorf("reading HEAD of the clone: %w", err)
	}
	res := &Result{CommitSHA: head.Hash().String(), Branch: head.Name().Short(), Bytes: st.received.Load()}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkout(ctx, repo, head.Hash(), dir, limit, res); err != nil {
		var tl *errTooLarge
		var bad *errMalformed
		if partial && (errors.As(err, &tl) || errors.As(err, &bad)) {
			budget := PartialBytes
			if limit > 0 && limit < budget {
				budget = limit
			}
			p := &Result{CommitSHA: res.CommitSHA, Branch: res.Branch, Bytes: res.Bytes}
			if perr := partialCheckout(ctx, repo, head.Hash(), dir, budget, p); perr == nil {
				return p, err
			}
		}
		return nil, err
	}
	return res, nil
}

// checkout sums the sizes of the commit's files from the object headers
// and refuses a tree over the limit before writing any of it (a few KiB
// of compressed zeros can expand to gigabytes), then writes the files
// and the index.
func checkout(ctx context.Context, repo *git.Repository, commit plumbing.Hash, dir string, limit int64, res *Result) error {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", commit, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("reading the tree of %s: %w", commit, err)
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		_, entry, err := walker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// go-git's walker refuses the names git refuses (".git",
			// "..", slashes) before we get to see them.
			return malformed("tree of %s: %w", commit.String()[:12], err)
		}
		if entry.Mode == filemode.Dir || entry.Mode == filemode.Submodule {
			continue
		}
		size, err := repo.Storer.EncodedObjectSize(entry.Hash)
		if err != nil {
			return fmt.Errorf("reading object %s: %w", entry.Hash, err)
		}
		res.TreeBytes += size
		res.Files++
		if limit > 0 && res.TreeBytes > limit {
			return &errTooLarge{limit: limit, what: "checked-out tree"}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := writeTree(ctx, repo.Storer, tree, dir)
	if err != nil {
		return fmt.Errorf("checking out %s: %w", commit, err)
	}
	if err := repo.Storer.SetIndex(&index.Index{Version: 2, Entries: entries}); err != nil {
		return fmt.Errorf("writing the index: %w", err)
	}
	return nil
}

// limitedStorage counts the packfile bytes as go-git writes them and
// stops the clone once they pass the limit. Every transport's pack goes
// through PackfileWriter, so this bounds file, git:// and ssh clones as
// well as HTTP, and the clone stops while the data is still arriving.
//
// It stops the clone by cancelling its context, not by failing the write:
// go-git then kills the file transport's git-upload-pack. A failed write
// alone makes go-git close the session and wait for upload-pack, which
// waits for someone to read its output: a deadlock.
type limitedStorage struct {
	*filesystem.Storage
	limit    int64
	cancel   context.CancelCauseFunc
	received atomic.Int64
	exceeded atomic.Pointer[errTooLarge]
}

func (s *limitedStorage) PackfileWriter() (io.WriteCloser, error) {
	w, err := s.Storage.PackfileWriter()
	if err != nil {
		return nil, err
	}
	return &countingWriter{w: w, s: s}, nil
}

type countingWriter struct {
	w io.WriteCloser
	s *limitedStorage
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n := c.s.received.Add(int64(len(p)))
	if c.s.limit > 0 && n > c.s.limit {
		tl := &errTooLarge{limit: c.s.limit, what: "transfer"}
		if c.s.exceeded.CompareAndSwap(nil, tl) {
			c.s.cancel(tl)
		}
		return len(p), nil // dropped: the cancelled read ends the copy
	}
	return c.w.Write(p)
}

func (c *countingWriter) Close() error { return c.w.Close() }
