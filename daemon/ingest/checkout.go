package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Checkouts kept for builds.
//
// A successful ingestion has just made a shallow clone of exactly the commit
// its build needs. When the process also builds (runner role), the worker
// keeps that clone at
//
//	<data-dir>/checkouts/<repository id>/<commit sha>
//
// instead of deleting it, and a build on the same host takes it with
// TakeCheckout rather than cloning again. Taking is a rename, so it is
// atomic: a checkout is either taken by one build or pruned, never both,
// and nobody reads a directory that is being deleted. A build that finds
// nothing (another host, pruned, a different commit) clones itself.
//
// Only the newest checkout of a repository is kept, and PruneCheckouts
// (the reconciler, every minute) removes those older than CheckoutTTL.

// CheckoutTTL is how long an untaken checkout is kept.
const CheckoutTTL = time.Hour

func checkoutRoot(dataDir string) string { return filepath.Join(dataDir, "checkouts") }

// CheckoutPath is where the checkout of commit of a repository is kept.
// It returns "" for a commit that is not a hexadecimal object name, so a
// path can never be steered outside the directory.
func CheckoutPath(dataDir string, repositoryID int64, commit string) string {
	if !validSHA(commit) || repositoryID <= 0 {
		return ""
	}
	return filepath.Join(checkoutRoot(dataDir), strconv.FormatInt(repositoryID, 10), commit)
}

func validSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// TakeCheckout moves the kept checkout of commit into dest, which must not
// exist and must be on the same file system (somewhere under the data
// directory). It reports false, with no error, when there is no such
// checkout. The caller owns dest afterwards and removes it when done. The
// checkout is the work tree of a depth-1 clone, with its .git directory.
func TakeCheckout(dataDir string, repositoryID int64, commit, dest string) (bool, error) {
	src := CheckoutPath(dataDir, repositoryID, commit)
	if src == "" {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return false, err
	}
	err := os.Rename(src, dest)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("take checkout of %s: %w", commit, err)
}

// keepCheckout moves a finished clone to its checkout path and drops the
// repository's older checkouts.
func keepCheckout(dataDir string, repositoryID int64, commit, dir string) error {
	dst := CheckoutPath(dataDir, repositoryID, commit)
	if dst == "" {
		return fmt.Errorf("commit %q is not an object name", commit)
	}
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	// A checkout of this commit may exist (a refresh): the newer one wins.
	if err := discard(dataDir, dst); err != nil {
		return err
	}
	if err := os.Rename(dir, dst); err != nil {
		return err
	}
	// The age PruneCheckouts reads is the time it was kept.
	now := time.Now()
	_ = os.Chtimes(dst, now, now)
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.Name() != commit {
			_ = discard(dataDir, filepath.Join(parent, e.Name()))
		}
	}
	return nil
}

// discard removes a checkout without racing TakeCheckout: it is renamed
// away first (atomic: either the build's rename or this one wins), so a
// build never sees a checkout being deleted under it. A missing one is fine.
func discard(dataDir, path string) error {
	trash, err := os.MkdirTemp(checkoutRoot(dataDir), ".trash-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(trash)
	err = os.Rename(path, filepath.Join(trash, "x"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// PruneCheckouts removes kept checkouts older than ttl (by the time they
// were kept) and empty repository directories; it returns how many
// checkouts it removed.
func PruneCheckouts(dataDir string, ttl time.Duration) (int, error) {
	root := checkoutRoot(dataDir)
	repos, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range repos {
		if strings.HasPrefix(r.Name(), ".trash-") {
			_ = os.RemoveAll(filepath.Join(root, r.Name())) // left by a crash
			continue
		}
		if !r.IsDir() || strings.HasPrefix(r.Name(), ".") {
			continue // .taken belongs to running builds
		}
		dir := filepath.Join(root, r.Name())
		commits, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		left := len(commits)
		for _, c := range commits {
			info, err := c.Info()
			if err != nil || time.Since(info.ModTime()) < ttl {
				continue
			}
			if discard(dataDir, filepath.Join(dir, c.Name())) == nil {
				n++
				left--
			}
		}
		if left == 0 {
			_ = os.Remove(dir)
		}
	}
	return n, nil
}

// LocalCheckout adapts TakeCheckout to the build worker's hook
// (build.Options.LocalCheckout): a build takes the kept checkout of the
// commit into a directory of its own under <data-dir>/checkouts/taken, reads
// it as long as it likes, and release removes it.
func LocalCheckout(dataDir string) func(repositoryID int64, commit string) (dir string, release func(), ok bool) {
	return func(repositoryID int64, commit string) (string, func(), bool) {
		takenRoot := filepath.Join(checkoutRoot(dataDir), ".taken")
		if err := os.MkdirAll(takenRoot, 0o700); err != nil {
			return "", nil, false
		}
		parent, err := os.MkdirTemp(takenRoot, strconv.FormatInt(repositoryID, 10)+"-")
		if err != nil {
			return "", nil, false
		}
		dir := filepath.Join(parent, "src")
		ok, err := TakeCheckout(dataDir, repositoryID, commit, dir)
		if err != nil || !ok {
			_ = os.RemoveAll(parent)
			return "", nil, false
		}
		return dir, func() { _ = os.RemoveAll(parent) }, true
	}
}
