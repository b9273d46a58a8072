package gitserver

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// clone runs the git CLI against url and returns the work tree.
func clone(t *testing.T, url string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	out, err := runGit("", append(append([]string{"clone", "-q"}, args...), url, dir)...)
	if err != nil {
		t.Fatalf("clone %s: %v (%s)", url, err, out)
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProtocolsServeRepoAndLaterCommits(t *testing.T) {
	repo := NewNamedRepo(t, "hello", map[string]string{"README.md": "hello\n", "src/main.go": "package main\n"})
	httpSrv := HTTP(t, repo)
	daemon := Daemon(t, repo)

	for _, tc := range []struct{ name, url string }{
		{"http", httpSrv.URL(repo)},
		{"git", daemon.URL(repo)},
		{"file", repo.FileURL()},
		{"path", repo.Dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.HasSuffix(tc.url, "hello.git") && tc.name != "file" && tc.name != "path" {
				t.Errorf("URL %q does not end in hello.git", tc.url)
			}
			dir := clone(t, tc.url, "--depth", "1")
			if got := readFile(t, filepath.Join(dir, "src/main.go")); got != "package main\n" {
				t.Errorf("src/main.go = %q", got)
			}
			head, _ := runGit(dir, "rev-parse", "HEAD")
			if head != repo.Head(t) {
				t.Errorf("cloned HEAD %s, repo head %s", head, repo.Head(t))
			}
		})
	}

	// A commit made after the servers started is what the next clone sees.
	sha := repo.Commit(t, map[string]string{"README.md": "hello again\n"}, "update")
	for _, url := range []string{httpSrv.URL(repo), daemon.URL(repo)} {
		out, err := runGit("", "ls-remote", url, "refs/heads/main")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out, sha) {
			t.Errorf("ls-remote %s = %q, want %s", url, out, sha)
		}
	}
}

func TestMissingRepositoryFails(t *testing.T) {
	httpSrv := HTTP(t)
	daemon := Daemon(t)
	for _, url := range []string{httpSrv.Base + "/nope.git", daemon.Base + "/nope.git"} {
		if out, err := runGit("", "ls-remote", url); err == nil {
			t.Errorf("ls-remote %s succeeded: %q", url, out)
		}
	}
}

func TestModesSymlinksAndBranches(t *testing.T) {
	repo := NewRepoFiles(t, "", []File{
		{Name: "run.sh", Content: "#!/bin/sh\necho hi\n", Mode: 0o755},
		{Name: "plain.txt", Content: "x"},
	})
	repo.AddSymlink(t, "escape", "../../etc/passwd")
	dev := repo.CommitOn(t, "dev", map[string]string{"dev.txt": "dev\n"}, "dev work")
	if repo.HeadOf(t, "dev") != dev {
		t.Fatalf("dev head is not the commit CommitOn returned")
	}
	if _, err := os.Stat(filepath.Join(repo.Dir, "dev.txt")); !os.IsNotExist(err) {
		t.Errorf("dev.txt is in the work tree after CommitOn: the repo should be back on main (%v)", err)
	}

	srv := HTTP(t, repo)
	dir := clone(t, srv.URL(repo), "--depth", "1")
	fi, err := os.Stat(filepath.Join(dir, "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh mode %v, want executable", fi.Mode())
	}
	if target, err := os.Readlink(filepath.Join(dir, "escape")); err != nil || target != "../../etc/passwd" {
		t.Errorf("escape: target %q, err %v", target, err)
	}
	devDir := clone(t, srv.URL(repo), "--depth", "1", "--branch", "dev")
	if got := readFile(t, filepath.Join(devDir, "dev.txt")); got != "dev\n" {
		t.Errorf("dev.txt = %q", got)
	}
}

func TestRepoWithSize(t *testing.T) {
	const size = 300 << 10
	repo := NewRepoWithSize(t, "", 3, size, 7)
	var total int
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join(repo.Dir, "data", "file000"+string(rune('0'+i))+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
	}
	if total != size {
		t.Errorf("data files hold %d bytes, want %d", total, size)
	}
	// Incompressible: the packed repository is about as large as the data.
	out, err := runGit(repo.Dir, "count-objects", "-v")
	if err != nil {
		t.Fatal(err)
	}
	var kib int
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "size: "); ok {
			kib, _ = strconv.Atoi(v)
		}
	}
	if kib < size/1024*9/10 {
		t.Errorf("loose objects take %d KiB for %d KiB of data: the content compresses", kib, size/1024)
	}
	if a, b := RandomFiles(2, 100, 1), RandomFiles(2, 100, 1); a["data/file0000.bin"] != b["data/file0000.bin"] {
		t.Error("RandomFiles is not deterministic for one seed")
	}
}

func TestRawTree(t *testing.T) {
	repo := NewRepo(t, map[string]string{"README.md": "x"})
	blob := repo.HashBlob(t, "payload")
	tree := repo.WriteRawTree(t, []RawEntry{{Mode: "100644", Name: "..", Hash: blob}, {Mode: "100644", Name: "a", Hash: blob}, {Mode: "100644", Name: "a", Hash: blob}})
	sha := repo.CommitRawTree(t, tree, "hostile")
	if repo.Head(t) != sha {
		t.Fatalf("head %s, want %s", repo.Head(t), sha)
	}
	out := repo.Git(t, "ls-tree", "--name-only", sha)
	if out != "..\na\na" {
		t.Errorf("ls-tree = %q: the tree was not stored byte for byte", out)
	}
	if _, err := runGit(repo.Dir, "fsck", "--strict"); err == nil {
		t.Error("git fsck accepts the hostile tree; the test trees are not hostile enough")
	}
}
