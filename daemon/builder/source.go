package builder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/ingest/gitclone"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// sources keeps one checkout per repository under dir/<repository id>/
// <commit>, so that a rebuild of a commit (--no-cache, an image pruned
// from the engine, a retry after a crash) does not clone again. A new
// commit is cloned next to the old one and the old one is removed once no
// build uses it. Checkouts appear by rename, so a directory named after a
// commit is always complete.
type sources struct {
	dir      string
	policy   giturl.Policy
	timeout  time.Duration
	maxBytes int64
	logger   *slog.Logger
	// local, when set, names a checkout of the commit that another part
	// of appstored keeps (ingestion's), used as is instead of cloning.
	local LocalCheckout

	mu    sync.Mutex
	inUse map[string]int        // checkout dir → builds using it
	locks map[int64]*sync.Mutex // per repository: one clone at a time
}

// LocalCheckout returns a directory holding the work tree of commit of
// repository id when one exists on this host, and a function to call when
// the build no longer reads it; ok is false when there is none.
type LocalCheckout func(repositoryID int64, commit string) (dir string, release func(), ok bool)

// sourceError is a failure to get a build's source, with whether a retry
// can help.
type sourceError struct {
	msg       string
	permanent bool
	err       error
}

func (e *sourceError) Error() string { return e.msg }
func (e *sourceError) Unwrap() error { return e.err }

func (s *sources) repoLock(id int64) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks == nil {
		s.locks = map[int64]*sync.Mutex{}
	}
	l, ok := s.locks[id]
	if !ok {
		l = &sync.Mutex{}
		s.locks[id] = l
	}
	return l
}

func (s *sources) acquire(dir string) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse == nil {
		s.inUse = map[string]int{}
	}
	s.inUse[dir]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.inUse[dir]--; s.inUse[dir] <= 0 {
				delete(s.inUse, dir)
			}
		})
	}
}

func (s *sources) used(dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse[dir] > 0
}

// checkout returns a directory with the work tree of w's commit and a
// function to call once the build no longer reads it. say receives lines
// for the build log.
func (s *sources) checkout(ctx context.Context, w *store.BuildWork, say func(string, ...any)) (string, func(), error) {
	if w.CommitSHA == "" {
		return "", nil, &sourceError{permanent: true, msg: "the build names no commit: refresh the repository so that ingestion records one"}
	}
	lock := s.repoLock(w.RepositoryID)
	lock.Lock()
	defer lock.Unlock()

	repoDir := filepath.Join(s.dir, strconv.FormatInt(w.RepositoryID, 10))
	dir := filepath.Join(repoDir, w.CommitSHA)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		say("Using the cached checkout of %s", textutil.ShortSHA(w.CommitSHA))
		return dir, s.acquire(dir), nil
	}
	if err := os.MkdirAll(repoDir, 0o700); err != nil {
		return "", nil, &sourceError{msg: fmt.Sprintf("create the source cache %s: %v", repoDir, err), err: err}
	}
	if s.local != nil {
		if local, releaseLocal, ok := s.local(w.RepositoryID, w.CommitSHA); ok {
			// Adopt ingestion's clone into the cache, so that a
			// rebuild of this commit finds it too.
			if err := os.Rename(local, dir); err != nil {
				say("Using the checkout of %s that ingestion kept", textutil.ShortSHA(w.CommitSHA))
				return local, releaseLocal, nil
			}
			releaseLocal()
			say("Using the checkout of %s that ingestion kept", textutil.ShortSHA(w.CommitSHA))
			release := s.acquire(dir)
			s.removeOthers(repoDir, dir)
			return dir, release, nil
		}
	}
	tmp := filepath.Join(repoDir, ".clone-"+randomHex(6))
	branch := w.Branch
	say("Cloning %s%s", w.GitURL, map[bool]string{true: " (branch " + branch + ")", false: ""}[branch != ""])
	res, err := gitclone.Clone(ctx, gitclone.Options{
		URL: w.GitURL, Branch: branch, Dir: tmp, Timeout: s.timeout, MaxBytes: s.maxBytes,
		Policy: s.policy, Logger: s.logger,
	})
	if err != nil {
		_ = os.RemoveAll(tmp)
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		return "", nil, &sourceError{msg: "clone for the build: " + err.Error(), permanent: gitclone.IsPermanent(err), err: err}
	}
	if res.CommitSHA != w.CommitSHA {
		_ = os.RemoveAll(tmp)
		where := "the remote's default branch"
		if branch != "" {
			where = "branch " + branch
		}
		return "", nil, &sourceError{permanent: true, msg: fmt.Sprintf(
			"commit %s is no longer the tip of %s in %s (it is now %s: a newer push, or a rewritten history): builds clone the tip that ingestion recorded, so refresh %s to ingest and build %s",
			textutil.ShortSHA(w.CommitSHA), where, w.GitURL, textutil.ShortSHA(res.CommitSHA), w.Repository, textutil.ShortSHA(res.CommitSHA))}
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return "", nil, &sourceError{msg: fmt.Sprintf("move the checkout into the source cache: %v", err), err: err}
	}
	say("Cloned %s in %s (%s)", textutil.ShortSHA(res.CommitSHA), res.Duration.Round(time.Millisecond), formatBytes(res.TreeBytes))
	release := s.acquire(dir)
	s.removeOthers(repoDir, dir)
	return dir, release, nil
}

// removeOthers deletes the checkouts of other commits of a repository
// that no build is reading. The caller holds the repository's lock.
func (s *sources) removeOthers(repoDir, keep string) {
	entries, err := os.ReadDir(repoDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(repoDir, e.Name())
		if p == keep || s.used(p) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			s.logger.Warn("removing an old checkout failed", "dir", p, "err", err)
		}
	}
}

// prune removes the checkouts of repositories that no longer exist.
func (s *sources) prune(exists map[int64]bool) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		id, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || exists[id] {
			continue
		}
		lock := s.repoLock(id)
		lock.Lock()
		p := filepath.Join(s.dir, e.Name())
		busy := false
		s.mu.Lock()
		for d := range s.inUse {
			if strings.HasPrefix(d, p+string(filepath.Separator)) {
				busy = true
			}
		}
		s.mu.Unlock()
		if !busy {
			if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.logger.Warn("removing the checkouts of a deleted repository failed", "dir", p, "err", err)
			}
		}
		lock.Unlock()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
