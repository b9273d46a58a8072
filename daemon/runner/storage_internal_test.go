package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWalkSize: the files' bytes, a file with two links once, directories
// and symbolic links' targets not counted; the walk stops at the limit and
// at its entry bound, saying it did not finish.
func TestWalkSize(t *testing.T) {
	root := t.TempDir()
	write := func(name string, n int) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 1000)
	write("sub/b", 2000)
	write("sub/deeper/c", 3000)
	if err := os.Link(filepath.Join(root, "a"), filepath.Join(root, "sub", "a-again")); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(outside, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	later := time.Now().Add(time.Minute)

	n, complete, err := walkSize(ctx, root, 0, 1000, later)
	linkSize := int64(len(outside))
	if err != nil || !complete || n != 6000+linkSize {
		t.Errorf("walk: %d bytes, complete %v, %v; want %d", n, complete, err, 6000+linkSize)
	}
	if n, complete, err := walkSize(ctx, root, 2500, 1000, later); err != nil || complete || n <= 2500 {
		t.Errorf("walk with a limit of 2500: %d bytes, complete %v, %v; want past the limit, not complete", n, complete, err)
	}
	if _, complete, err := walkSize(ctx, root, 0, 3, later); err != nil || complete {
		t.Errorf("walk of 3 entries: complete %v, %v; want stopped", complete, err)
	}
	if _, _, err := walkSize(ctx, filepath.Join(root, "missing"), 0, 1000, later); err == nil {
		t.Error("a missing root measured")
	}
}
