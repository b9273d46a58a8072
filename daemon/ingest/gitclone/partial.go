package gitclone

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// partialCheckout writes what can be read safely of a commit whose full
// checkout failed (over the size limit, or an entry git refuses): regular
// files of at most PartialFileBytes, budget bytes in all, symbolic links
// (ingestion refuses those that leave the repository), shallowest folders
// first and, in a folder, its files before its sub-folders, so that the
// files an app's card is read from (README, tags.yaml, Dockerfile,
// manifests) come first. Unsafe names, duplicates, unknown modes and files
// over the bounds are skipped and counted in res.Skipped. Whatever the
// full checkout wrote is removed first.
func partialCheckout(ctx context.Context, repo *git.Repository, commit plumbing.Hash, dir string, budget int64, res *Result) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != git.GitDirName {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	c, err := repo.CommitObject(commit)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", commit, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("reading the tree of %s: %w", commit, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	w := &treeWriter{ctx: ctx, s: repo.Storer, buf: make([]byte, 64<<10)}
	type folder struct {
		tree   *object.Tree
		prefix string // "" or "a/b/"
		depth  int
	}
	queue := []folder{{tree: tree}}
	var written int64
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		if err := ctx.Err(); err != nil {
			return err
		}
		at := root
		if f.prefix != "" {
			if at, err = root.OpenRoot(f.prefix[:len(f.prefix)-1]); err != nil {
				res.Skipped += len(f.tree.Entries)
				continue
			}
		}
		seen := make(map[string]bool, len(f.tree.Entries))
		var subdirs []object.TreeEntry
		for _, e := range f.tree.Entries {
			if checkName(e.Name, f.prefix) != nil || seen[e.Name] {
				res.Skipped++
				continue
			}
			seen[e.Name] = true
			p := f.prefix + e.Name
			switch e.Mode {
			case filemode.Dir:
				subdirs = append(subdirs, e)
			case filemode.Regular, filemode.Deprecated, filemode.Executable:
				size, err := repo.Storer.EncodedObjectSize(e.Hash)
				if err != nil || size > PartialFileBytes || written+size > budget || w.file(at, e, p) != nil {
					res.Skipped++
					continue
				}
				written += size
				res.Files++
			case filemode.Symlink:
				if w.symlink(at, e, p) != nil {
					res.Skipped++
					continue
				}
				res.Files++
			case filemode.Submodule:
				// Nothing to read in an empty folder.
			default:
				res.Skipped++
			}
		}
		for _, e := range subdirs {
			sub, err := object.GetTree(repo.Storer, e.Hash)
			if f.depth >= partialDepth || err != nil || at.Mkdir(e.Name, 0o755) != nil {
				res.Skipped++
				continue
			}
			queue = append(queue, folder{tree: sub, prefix: f.prefix + e.Name + "/", depth: f.depth + 1})
		}
		if at != root {
			at.Close()
		}
	}
	res.TreeBytes = written
	res.Partial = true
	return nil
}
