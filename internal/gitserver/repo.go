// Package gitserver gives tests real Git repositories and serves them over
// the real protocols: smart HTTP through git-http-backend, the git:// daemon
// and plain file paths. Everything runs the machine's git CLI with a
// private configuration, so tests need neither a HOME nor a global
// ~/.gitconfig, and nothing reaches the network beyond 127.0.0.1.
package gitserver

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// DefaultBranch is the branch that NewRepo commits to.
const DefaultBranch = "main"

// File is one entry to commit.
type File struct {
	Name    string // slash-separated path inside the repository
	Content string // the bytes of the file, or the link target for a symlink
	// Mode is 0 for a regular 0644 file; 0o755 for an executable;
	// fs.ModeSymlink for a symbolic link whose target is Content.
	Mode fs.FileMode
}

// Repo is a non-bare repository in a temporary directory. The servers
// serve it in place, so commits made after a server started are visible
// to the next clone.
type Repo struct {
	Dir    string // the work tree; the repository is Dir/.git
	Name   string // the name servers publish it under (URL path "<Name>.git")
	Branch string // the default branch, DefaultBranch
}

var repoSeq atomic.Int64

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// NewRepo creates a repository holding files (name → content, mode 0644)
// in one commit on DefaultBranch.
func NewRepo(t testing.TB, files map[string]string) *Repo {
	t.Helper()
	return NewNamedRepo(t, "", files)
}

// NewNamedRepo is NewRepo with the name the servers publish it under, so a
// test can control what the URL looks like ("dash" → …/dash.git). An empty
// name picks a unique one.
func NewNamedRepo(t testing.TB, name string, files map[string]string) *Repo {
	t.Helper()
	return NewRepoFiles(t, name, mapFiles(files))
}

// NewRepoFiles creates a repository from files with modes and symlinks.
func NewRepoFiles(t testing.TB, name string, files []File) *Repo {
	t.Helper()
	RequireGit(t)
	seq := repoSeq.Add(1)
	if name == "" {
		name = fmt.Sprintf("repo%d", seq)
	}
	if !nameRE.MatchString(name) {
		t.Fatalf("gitserver: repository name %q: want %s", name, nameRE)
	}
	// Each repository gets its own parent so that names may repeat across
	// tests while Dir's base stays the published name.
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("%d", seq), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	r := &Repo{Dir: dir, Name: name, Branch: DefaultBranch}
	r.git(t, "init", "-q", "-b", DefaultBranch)
	if len(files) > 0 {
		r.CommitFiles(t, files, "initial commit")
	}
	return r
}

// NewRepoWithSize creates a repository of n files holding size bytes in
// all, plus a small Dockerfile. Content is pseudo-random from seed, so it
// does not compress: size is close to what travels over the wire.
func NewRepoWithSize(t testing.TB, name string, n, size int, seed uint64) *Repo {
	t.Helper()
	files := RandomFiles(n, size, seed)
	files["Dockerfile"] = "FROM scratch\nCOPY . /app\n"
	return NewNamedRepo(t, name, files)
}

// RandomFiles returns n files ("data/fileNNNN.bin") of incompressible
// content summing to size bytes, derived from seed.
func RandomFiles(n, size int, seed uint64) map[string]string {
	if n <= 0 {
		n = 1
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	files := make(map[string]string, n)
	for i := range n {
		sz := size / n
		if i == n-1 {
			sz = size - (n-1)*(size/n)
		}
		b := make([]byte, sz)
		for j := 0; j < len(b); j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < len(b); k++ {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		files[fmt.Sprintf("data/file%04d.bin", i)] = string(b)
	}
	return files
}

// Commit writes files (mode 0644) into the work tree on the current branch
// and commits them; it returns the new commit's SHA.
func (r *Repo) Commit(t testing.TB, files map[string]string, msg string) string {
	t.Helper()
	return r.CommitFiles(t, mapFiles(files), msg)
}

// CommitFiles is Commit with modes and symlinks.
func (r *Repo) CommitFiles(t testing.TB, files []File, msg string) string {
	t.Helper()
	for _, f := range files {
		r.write(t, f)
	}
	r.git(t, "add", "-A")
	r.git(t, "commit", "-q", "--allow-empty", "--no-verify", "-m", msg)
	return r.git(t, "rev-parse", "HEAD")
}

// AddSymlink commits a symbolic link name → target and returns the SHA.
// target is stored as given: it may point outside the repository, which is
// what tests of the ingestion's path checks need.
func (r *Repo) AddSymlink(t testing.TB, name, target string) string {
	t.Helper()
	return r.CommitFiles(t, []File{{Name: name, Content: target, Mode: fs.ModeSymlink}}, "add symlink "+name)
}

// CommitOn commits files on branch (created from the default branch's
// head when it does not exist) and returns the SHA. The work tree is back
// on the default branch afterwards, so later Commits go there.
func (r *Repo) CommitOn(t testing.TB, branch string, files map[string]string, msg string) string {
	t.Helper()
	if strings.HasPrefix(branch, "-") {
		t.Fatalf("gitserver: branch %q starts with '-'", branch)
	}
	if r.tryGit("rev-parse", "--verify", "-q", "refs/heads/"+branch) == nil {
		r.git(t, "checkout", "-q", branch, "--")
	} else {
		r.git(t, "checkout", "-q", "-b", branch, r.Branch, "--")
	}
	sha := r.Commit(t, files, msg)
	r.git(t, "checkout", "-q", r.Branch, "--")
	return sha
}

// Head returns the SHA at the tip of the default branch.
func (r *Repo) Head(t testing.TB) string {
	t.Helper()
	return r.git(t, "rev-parse", "refs/heads/"+r.Branch)
}

// HeadOf returns the SHA at the tip of branch.
func (r *Repo) HeadOf(t testing.TB, branch string) string {
	t.Helper()
	return r.git(t, "rev-parse", "refs/heads/"+branch)
}

// FileURL is the file:// URL of the repository.
func (r *Repo) FileURL() string { return "file://" + r.Dir }

// Git runs git with args in the repository and returns its trimmed
// standard output; a failure fails the test.
func (r *Repo) Git(t testing.TB, args ...string) string {
	t.Helper()
	return r.git(t, args...)
}

func (r *Repo) write(t testing.TB, f File) {
	t.Helper()
	clean := filepath.Clean(filepath.FromSlash(f.Name))
	if f.Name == "" || filepath.IsAbs(clean) || clean == "." || strings.HasPrefix(clean, "..") {
		t.Fatalf("gitserver: file name %q must be a relative path inside the repository", f.Name)
	}
	p := filepath.Join(r.Dir, clean)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	_ = os.Remove(p) // a symlink or a file of another mode may stand there
	var err error
	switch {
	case f.Mode&fs.ModeSymlink != 0:
		err = os.Symlink(f.Content, p)
	case f.Mode&0o111 != 0:
		err = os.WriteFile(p, []byte(f.Content), 0o755)
		if err == nil {
			err = os.Chmod(p, 0o755) // WriteFile's mode is masked by the umask
		}
	default:
		err = os.WriteFile(p, []byte(f.Content), 0o644)
	}
	if err != nil {
		t.Fatalf("gitserver: write %s: %v", f.Name, err)
	}
}

func (r *Repo) git(t testing.TB, args ...string) string {
	t.Helper()
	out, err := runGit(r.Dir, args...)
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	return out
}

func (r *Repo) tryGit(args ...string) error {
	_, err := runGit(r.Dir, args...)
	return err
}

// Env is the environment every git process of this package runs with: no
// system or global configuration, a fixed identity, no prompts.
func Env() []string {
	env := []string{
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=appstore tests",
		"GIT_AUTHOR_EMAIL=tests@appstore.invalid",
		"GIT_COMMITTER_NAME=appstore tests",
		"GIT_COMMITTER_EMAIL=tests@appstore.invalid",
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		// Inherit what finds programs and temp space; drop any GIT_* that
		// would point git at another repository or configuration.
		switch k {
		case "PATH", "TMPDIR", "LANG", "LC_ALL":
			env = append(env, kv)
		}
	}
	return env
}

func runGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// RequireGit skips the test when the git CLI is missing, or fails it when
// CI=true: CI must never pass by skipping the real thing.
func RequireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("gitserver: git CLI not found (%v); install git (apt-get install git)", err)
		}
		t.Skipf("gitserver: git CLI not found (%v)", err)
	}
}

func mapFiles(files map[string]string) []File {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]File, 0, len(files))
	for _, n := range names {
		out = append(out, File{Name: n, Content: files[n]})
	}
	return out
}

// RawEntry is one entry of a tree written byte for byte by WriteRawTree:
// nothing checks it, so tests can build the malformed trees (".." or
// ".git" names, duplicates, slashes) that a hostile remote could send.
type RawEntry struct {
	Mode string // octal as git writes it: "100644", "100755", "120000", "40000", "160000"
	Name string
	Hash string // hex object id, e.g. from HashBlob or WriteRawTree
}

// HashBlob stores content as a blob and returns its id.
func (r *Repo) HashBlob(t testing.TB, content string) string {
	t.Helper()
	return r.hashObject(t, "blob", []byte(content))
}

// WriteRawTree stores a tree with exactly these entries, in this order,
// bypassing git's checks (hash-object --literally), and returns its id.
func (r *Repo) WriteRawTree(t testing.TB, entries []RawEntry) string {
	t.Helper()
	var buf bytes.Buffer
	for _, e := range entries {
		id, err := hex.DecodeString(e.Hash)
		if err != nil || len(id) != 20 {
			t.Fatalf("gitserver: raw tree entry %q: hash %q is not a SHA-1", e.Name, e.Hash)
		}
		buf.WriteString(e.Mode + " " + e.Name + "\x00")
		buf.Write(id)
	}
	return r.hashObject(t, "tree", buf.Bytes())
}

// CommitRawTree makes a commit of tree (from WriteRawTree) on top of the
// default branch and moves the branch to it; it returns the commit's id.
// The work tree is not updated: make this the repository's last commit.
func (r *Repo) CommitRawTree(t testing.TB, tree, msg string) string {
	t.Helper()
	sha := r.git(t, "commit-tree", tree, "-p", "refs/heads/"+r.Branch, "-m", msg)
	r.git(t, "update-ref", "refs/heads/"+r.Branch, sha)
	return sha
}

func (r *Repo) hashObject(t testing.TB, typ string, content []byte) string {
	t.Helper()
	cmd := exec.Command("git", "hash-object", "-w", "--literally", "-t", typ, "--stdin")
	cmd.Dir = r.Dir
	cmd.Env = Env()
	cmd.Stdin = bytes.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gitserver: hash-object %s: %v", typ, err)
	}
	return strings.TrimSpace(string(out))
}
