package gitclone

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// writeTree checks out tree into dir and returns the index entries that
// describe it.
//
// It replaces go-git's Worktree.Reset, which spent most of a clone in
// path checks: every file went through billy's BoundOS (a symlink
// evaluation of the whole path), symlink clearing and repeated Lstat
// calls. Here every directory is opened once as an os.Root and each file
// is created inside it with one openat(O_CREAT|O_EXCL): the kernel
// refuses anything that would leave the directory, names are checked as
// git's own checkout checks them, and duplicate entries (a malformed tree
// trying to write through a symlink it just made) are refused.
func writeTree(ctx context.Context, s storer.EncodedObjectStorer, tree *object.Tree, dir string) ([]*index.Entry, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	w := &treeWriter{ctx: ctx, s: s, buf: make([]byte, 64<<10)}
	if err := w.walk(root, tree, ""); err != nil {
		return nil, err
	}
	// The index is sorted by path bytes, the tree walk is not (a tree
	// sorts "a/" after "a.txt").
	slices.SortFunc(w.entries, func(a, b *index.Entry) int { return strings.Compare(a.Name, b.Name) })
	return w.entries, nil
}

type treeWriter struct {
	ctx     context.Context
	s       storer.EncodedObjectStorer
	buf     []byte
	entries []*index.Entry
	n       int
}

func (w *treeWriter) walk(root *os.Root, tree *object.Tree, prefix string) error {
	seen := make(map[string]bool, len(tree.Entries))
	for _, e := range tree.Entries {
		if err := checkName(e.Name, prefix); err != nil {
			return err
		}
		if seen[e.Name] {
			return malformed("%q appears twice in %q", e.Name, "/"+prefix)
		}
		seen[e.Name] = true
		path := prefix + e.Name
		if w.n++; w.n%256 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		switch e.Mode {
		case filemode.Dir:
			if err := root.Mkdir(e.Name, 0o755); err != nil {
				return err
			}
			sub, err := root.OpenRoot(e.Name)
			if err != nil {
				return err
			}
			subtree, err := object.GetTree(w.s, e.Hash)
			if err == nil {
				err = w.walk(sub, subtree, path+"/")
			}
			sub.Close()
			if err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			if err := w.file(root, e, path); err != nil {
				return err
			}
		case filemode.Symlink:
			if err := w.symlink(root, e, path); err != nil {
				return err
			}
		case filemode.Submodule:
			// As git does: an empty directory where the submodule goes.
			if err := root.Mkdir(e.Name, 0o755); err != nil {
				return err
			}
			w.entries = append(w.entries, &index.Entry{Name: path, Hash: e.Hash, Mode: filemode.Submodule})
		default:
			return malformed("%q has unknown mode %o", path, uint32(e.Mode))
		}
	}
	return nil
}

func (w *treeWriter) file(root *os.Root, e object.TreeEntry, path string) error {
	blob, err := object.GetBlob(w.s, e.Hash)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	r, err := blob.Reader()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	defer r.Close()
	perm := os.FileMode(0o644)
	if e.Mode == filemode.Executable {
		perm = 0o755
	}
	f, err := root.OpenFile(e.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(onlyWriter{f}, r, w.buf)
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	mode := filemode.Regular
	if e.Mode == filemode.Executable {
		mode = filemode.Executable
	}
	w.entries = append(w.entries, indexEntry(path, e.Hash, mode, fi))
	return nil
}

// maxSymlinkTarget is PATH_MAX: a longer target cannot be a path.
const maxSymlinkTarget = 4096

func (w *treeWriter) symlink(root *os.Root, e object.TreeEntry, path string) error {
	blob, err := object.GetBlob(w.s, e.Hash)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if blob.Size > maxSymlinkTarget {
		return malformed("symlink %q has a %d-byte target", path, blob.Size)
	}
	r, err := blob.Reader()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	target, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if len(target) == 0 || strings.IndexByte(string(target), 0) >= 0 {
		return malformed("symlink %q has an empty target or one with a NUL byte", path)
	}
	// The target is stored as the repository has it, even when it points
	// outside: ingestion resolves links itself and refuses those that
	// leave the repository.
	if err := root.Symlink(string(target), e.Name); err != nil {
		return err
	}
	fi, err := root.Lstat(e.Name)
	if err != nil {
		return err
	}
	w.entries = append(w.entries, indexEntry(path, e.Hash, filemode.Symlink, fi))
	return nil
}

// checkName refuses the tree entry names git's checkout refuses
// (verify_path): empty, ".", "..", ".git" in any case, and names with a
// slash or NUL, which a well-formed tree never holds.
func checkName(name, prefix string) error {
	switch {
	case name == "", name == ".", name == "..", strings.EqualFold(name, ".git"),
		strings.ContainsAny(name, "/\x00"):
		return malformed("unsafe path %q in %q", name, "/"+prefix)
	}
	return nil
}

// indexEntry records what git's index keeps about a checked-out file, so
// that `git status` in the clone sees it unchanged without re-hashing it.
func indexEntry(path string, hash plumbing.Hash, mode filemode.FileMode, fi os.FileInfo) *index.Entry {
	e := &index.Entry{Name: path, Hash: hash, Mode: mode, ModifiedAt: fi.ModTime(), Size: uint32(fi.Size())}
	statIndexEntry(e, fi)
	return e
}

// onlyWriter hides *os.File's ReadFrom, whose fallback would allocate its
// own buffer for every file instead of using ours.
type onlyWriter struct{ io.Writer }
