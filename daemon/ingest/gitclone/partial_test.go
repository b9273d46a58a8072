package gitclone

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/internal/gitserver"
)

// TestPartialCloneOfAHostileTree: with Options.Partial, a tree holding an
// entry git refuses still fails as KindMalformed, but the safe files are
// checked out (for the card) and the hostile entries are not.
func TestPartialCloneOfAHostileTree(t *testing.T) {
	outside := t.TempDir()
	for _, c := range hostileTrees(t, outside) {
		t.Run(c.name, func(t *testing.T) {
			repo := gitserver.NewRepo(t, appFiles())
			readme := gitserver.RawEntry{Mode: "100644", Name: "README.md", Hash: repo.HashBlob(t, "# Hostile\n\nStill has a card.\n")}
			repo.CommitRawTree(t, c.tree(repo, readme), "hostile")
			dir := cloneDir(t)
			res, err := Clone(context.Background(), Options{URL: gitserver.HTTP(t, repo).URL(repo), Dir: dir, Policy: local, Partial: true})
			assertKind(t, err, KindMalformed, true, c.mention)
			if res == nil || !res.Partial || res.CommitSHA != repo.Head(t) || res.Skipped == 0 {
				t.Fatalf("result %+v, want a partial checkout of %s that skipped the hostile entry", res, repo.Head(t))
			}
			if got := readFile(t, filepath.Join(dir, "README.md")); !strings.Contains(got, "Still has a card") {
				t.Errorf("README.md = %q", got)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Fatalf("the partial checkout wrote outside its directory: %v", entries)
			}
			for _, bad := range []string{".GIT", "a/pwned", ".git/hooks/post-checkout"} {
				if _, err := os.Lstat(filepath.Join(dir, bad)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was checked out (%v)", bad, err)
				}
			}
		})
	}
}

// TestPartialCloneOverTheTreeLimit: a commit whose files pass the size
// limit once checked out (a small transfer: they compress well) fails as
// KindTooLarge; with Options.Partial the small files are checked out,
// shallowest first, within the limit, and the large one is left out.
func TestPartialCloneOverTheTreeLimit(t *testing.T) {
	files := appFiles()
	files["data/zeros.bin"] = strings.Repeat("\x00", 2<<20)
	files["docs/a/b/c/notes.md"] = "deep\n"
	repo := gitserver.NewRepo(t, files)
	url := gitserver.HTTP(t, repo).URL(repo)

	// Without Partial nothing stays.
	dir := cloneDir(t)
	res, err := Clone(context.Background(), Options{URL: url, Dir: dir, Policy: local, MaxBytes: 256 << 10})
	assertKind(t, err, KindTooLarge, true, "256 KiB")
	if res != nil {
		t.Fatalf("result %+v without Partial", res)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed clone left %s behind", dir)
	}

	dir = cloneDir(t)
	res, err = Clone(context.Background(), Options{URL: url, Dir: dir, Policy: local, MaxBytes: 256 << 10, Partial: true})
	assertKind(t, err, KindTooLarge, true, "256 KiB")
	if res == nil || !res.Partial || res.Skipped != 1 || res.Files != len(files)-1 || res.TreeBytes > 256<<10 {
		t.Fatalf("result %+v, want a partial checkout of %d files without data/zeros.bin", res, len(files)-1)
	}
	for name, content := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case name == "data/zeros.bin" && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s was checked out (%v)", name, err)
		case name != "data/zeros.bin" && string(got) != content:
			t.Errorf("%s = %q (%v), want %q", name, got, err, content)
		}
	}
}
