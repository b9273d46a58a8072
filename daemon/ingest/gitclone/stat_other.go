//go:build !linux

package gitclone

import (
	"os"

	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// statIndexEntry leaves the stat(2) fields of git's index empty where
// syscall.Stat_t differs from Linux's: git then re-hashes a kept
// checkout's files once, which is slower but correct.
func statIndexEntry(e *index.Entry, fi os.FileInfo) {}
