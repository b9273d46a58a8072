package gitclone

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"

	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// local admits the test servers, which all listen on loopback.
var local = giturl.Policy{AllowLocal: true, AllowPrivate: true}

func appFiles() map[string]string {
	return map[string]string{
		"Dockerfile":   "FROM scratch\nCOPY app /app\nEXPOSE 8080\n",
		"README.md":    "# app\n",
		"src/main.go":  "package main\n\nfunc main() {}\n",
		"package.json": `{"name":"app"}`,
	}
}

// protocols serves repo over every transport a test should cover.
func protocols(t *testing.T, repo *gitserver.Repo) map[string]string {
	t.Helper()
	return map[string]string{
		"http": gitserver.HTTP(t, repo).URL(repo),
		"git":  gitserver.Daemon(t, repo).URL(repo),
		"file": repo.FileURL(),
		"path": repo.Dir,
	}
}

func cloneDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "clone")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCloneDefaultBranchOverEveryProtocol(t *testing.T) {
	repo := gitserver.NewRepoFiles(t, "app", []gitserver.File{
		{Name: "Dockerfile", Content: "FROM scratch\n"},
		{Name: "run.sh", Content: "#!/bin/sh\n", Mode: 0o755},
		{Name: "docs/guide.md", Content: "guide\n"},
	})
	repo.AddSymlink(t, "Containerfile", "Dockerfile")
	// History below the head must not be fetched: depth 1.
	head := repo.Commit(t, map[string]string{"docs/guide.md": "guide v2\n"}, "second")
	repo.CommitOn(t, "other", map[string]string{"other.txt": "x"}, "other branch")
	repo.Git(t, "tag", "v1", "HEAD~1")

	for name, url := range protocols(t, repo) {
		t.Run(name, func(t *testing.T) {
			dir := cloneDir(t)
			res, err := Clone(context.Background(), Options{URL: url, Dir: dir, Policy: local})
			if err != nil {
				t.Fatalf("Clone(%s): %v", url, err)
			}
			if res.CommitSHA != head || res.Branch != "main" {
				t.Errorf("Result = %s on %q, want %s on main", res.CommitSHA, res.Branch, head)
			}
			if got := readFile(t, filepath.Join(dir, "docs/guide.md")); got != "guide v2\n" {
				t.Errorf("docs/guide.md = %q", got)
			}
			if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
				t.Errorf("run.sh: %v, %v: want executable", fi, err)
			}
			if target, err := os.Readlink(filepath.Join(dir, "Containerfile")); err != nil || target != "Dockerfile" {
				t.Errorf("Containerfile symlink: %q, %v", target, err)
			}
			if res.Files != 4 || res.TreeBytes != int64(len("FROM scratch\n")+len("#!/bin/sh\n")+len("guide v2\n")+len("Dockerfile")) {
				t.Errorf("Files %d, TreeBytes %d", res.Files, res.TreeBytes)
			}
			if res.Bytes <= 0 || res.Duration <= 0 {
				t.Errorf("Bytes %d, Duration %v: want both positive", res.Bytes, res.Duration)
			}
			shallow := strings.TrimSpace(readFile(t, filepath.Join(dir, ".git", "shallow")))
			if shallow != head {
				t.Errorf(".git/shallow = %q, want the head only (depth 1)", shallow)
			}
			refs := gitOut(t, dir, "for-each-ref", "--format=%(refname)")
			if strings.Contains(refs, "other") || strings.Contains(refs, "tags/") {
				t.Errorf("clone fetched more than the one branch: %s", refs)
			}
			if status := gitOut(t, dir, "status", "--porcelain"); status != "" {
				t.Errorf("git status of the clone is not clean:\n%s", status)
			}
		})
	}
}

func TestCloneDeclaredBranch(t *testing.T) {
	repo := gitserver.NewRepo(t, appFiles())
	dev := repo.CommitOn(t, "release/1.2", map[string]string{"dev.txt": "dev\n"}, "release work")
	for name, url := range protocols(t, repo) {
		t.Run(name, func(t *testing.T) {
			for _, branch := range []string{"release/1.2", "refs/heads/release/1.2"} {
				dir := cloneDir(t)
				res, err := Clone(context.Background(), Options{URL: url, Branch: branch, Dir: dir, Policy: local})
				if err != nil {
					t.Fatalf("Clone(%s, %s): %v", url, branch, err)
				}
				if res.CommitSHA != dev || res.Branch != "release/1.2" {
					t.Errorf("Result = %s on %q, want %s on release/1.2", res.CommitSHA, res.Branch, dev)
				}
				if got := readFile(t, filepath.Join(dir, "dev.txt")); got != "dev\n" {
					t.Errorf("dev.txt = %q", got)
				}
			}
		})
	}
}

func TestCloneMissingBranchAndRepository(t *testing.T) {
	repo := gitserver.NewRepo(t, appFiles())
	httpSrv := gitserver.HTTP(t, repo)
	daemon := gitserver.Daemon(t, repo)
	cases := []struct {
		name, url, branch string
		kind              Kind
		mention           string
	}{
		{"http branch", httpSrv.URL(repo), "nope", KindBranchNotFound, `branch "nope" does not exist`},
		{"git branch", daemon.URL(repo), "nope", KindBranchNotFound, `branch "nope" does not exist`},
		{"file branch", repo.FileURL(), "nope", KindBranchNotFound, `branch "nope" does not exist`},
		{"http repo", httpSrv.Base + "/missing.git", "", KindNotFound, "check the URL"},
		{"git repo", daemon.Base + "/missing.git", "", KindNotFound, "check the URL"},
		{"file repo", "file://" + t.TempDir() + "/missing", "", KindNotFound, "check the URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := cloneDir(t)
			_, err := Clone(context.Background(), Options{URL: c.url, Branch: c.branch, Dir: dir, Policy: local})
			assertKind(t, err, c.kind, true, c.mention)
			if _, statErr := os.Stat(dir); !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("failed clone left %s behind (%v)", dir, statErr)
			}
		})
	}
}

func TestCloneSizeLimit(t *testing.T) {
	const limit = 1 << 20
	t.Run("transfer", func(t *testing.T) {
		// 4 MiB that does not compress: the pack passes the limit while
		// it is arriving.
		repo := gitserver.NewRepoWithSize(t, "big", 4, 4<<20, 1)
		counter := &countingHandler{h: gitserver.HTTPHandler(t, gitserver.HTTP(t, repo).Root)}
		srv := httptest.NewServer(counter)
		t.Cleanup(srv.Close)
		for name, url := range map[string]string{"http": srv.URL + "/big.git", "git": gitserver.Daemon(t, repo).URL(repo), "file": repo.FileURL()} {
			t.Run(name, func(t *testing.T) {
				dir := cloneDir(t)
				_, err := Clone(context.Background(), Options{URL: url, Dir: dir, MaxBytes: limit, Policy: local})
				assertKind(t, err, KindTooLarge, true, "larger than the 1 MiB clone limit (its transfer passed it); raise --max-clone-size")
				if _, statErr := os.Stat(dir); !errors.Is(statErr, fs.ErrNotExist) {
					t.Errorf("failed clone left %s behind", dir)
				}
			})
		}
		// The same repository fits a larger limit, so the refusal above
		// was the limit and not something else.
		res, err := Clone(context.Background(), Options{URL: srv.URL + "/big.git", Dir: cloneDir(t), MaxBytes: 8 << 20, Policy: local})
		if err != nil {
			t.Fatalf("clone under an 8 MiB limit: %v", err)
		}
		if res.Bytes < 4<<20 || res.TreeBytes < 4<<20 {
			t.Errorf("Bytes %d, TreeBytes %d: want both ≥ 4 MiB", res.Bytes, res.TreeBytes)
		}
	})
	t.Run("checked-out tree", func(t *testing.T) {
		// 3 MiB of zeros packs into a few KiB: only the tree check sees it.
		repo := gitserver.NewRepo(t, map[string]string{"zeros.bin": strings.Repeat("\x00", 3<<20), "Dockerfile": "FROM scratch\n"})
		dir := cloneDir(t)
		_, err := Clone(context.Background(), Options{URL: gitserver.HTTP(t, repo).URL(repo), Dir: dir, MaxBytes: limit, Policy: local})
		assertKind(t, err, KindTooLarge, true, "(its checked-out tree passed it)")
		if _, statErr := os.Stat(filepath.Join(dir, "zeros.bin")); !errors.Is(statErr, fs.ErrNotExist) {
			t.Errorf("zeros.bin was written before the refusal")
		}
	})
}

func TestCloneTimeout(t *testing.T) {
	repo := gitserver.NewRepo(t, appFiles())
	backend := gitserver.HTTPHandler(t, gitserver.HTTP(t, repo).Root)
	// The ref advertisement comes through; the pack request stalls until
	// the client hangs up, as an overloaded or malicious server would.
	var stalls atomic.Int64
	stalled := make(chan struct{}) // told when a pack request stalls, if someone listens
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			// Read the request to the end: only then does net/http watch
			// the connection and cancel r.Context() when the client leaves.
			_, _ = io.Copy(io.Discard, r.Body)
			stalls.Add(1)
			select {
			case stalled <- struct{}{}:
			default:
			}
			<-r.Context().Done()
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	// A git:// server that accepts and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()

	for name, url := range map[string]string{"http": srv.URL + "/" + repo.Name + ".git", "git": "git://" + ln.Addr().String() + "/app.git"} {
		t.Run(name, func(t *testing.T) {
			const timeout = 700 * time.Millisecond
			start := time.Now()
			_, err := Clone(context.Background(), Options{URL: url, Dir: cloneDir(t), Timeout: timeout, Policy: local})
			assertKind(t, err, KindTimeout, false, "did not answer within 700ms")
			if elapsed := time.Since(start); elapsed > timeout+15*time.Second {
				t.Errorf("Clone returned after %v, want soon after the %v limit", elapsed, timeout)
			}
		})
	}
	if stalls.Load() == 0 {
		t.Error("the HTTP clone never reached the stalling pack request")
	}

	// A caller that gives up is told apart from the time limit.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-stalled; cancel() }()
	_, err = Clone(ctx, Options{URL: srv.URL + "/" + repo.Name + ".git", Dir: cloneDir(t), Policy: local})
	assertKind(t, err, KindCanceled, false, "canceled")
}

func TestClonePolicy(t *testing.T) {
	repo := gitserver.NewRepo(t, appFiles())
	counter := &countingHandler{h: gitserver.HTTPHandler(t, gitserver.HTTP(t, repo).Root)}
	target := httptest.NewServer(counter) // on 127.0.0.1: forbidden below
	t.Cleanup(target.Close)
	targetURL := target.URL + "/" + repo.Name + ".git"
	// The admitted front: an operator's allow-listed internal server.
	front := serveOn(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+strings.TrimPrefix(r.URL.RequestURI(), "/front"), http.StatusFound)
	}))
	frontOnly := giturl.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}

	t.Run("private address", func(t *testing.T) {
		_, err := Clone(context.Background(), Options{URL: targetURL, Dir: cloneDir(t), Policy: giturl.Policy{}})
		assertKind(t, err, KindPolicy, true, "git host 127.0.0.1 is loopback")
		_, _, err = RemoteHead(context.Background(), targetURL, "", giturl.Policy{})
		assertKind(t, err, KindPolicy, true, "--git-allow-private")
	})
	t.Run("local path", func(t *testing.T) {
		_, err := Clone(context.Background(), Options{URL: repo.Dir, Dir: cloneDir(t), Policy: giturl.Policy{AllowPrivate: true}})
		assertKind(t, err, KindPolicy, true, "this appstored is exposed")
	})
	t.Run("redirect to a forbidden host", func(t *testing.T) {
		_, err := Clone(context.Background(), Options{URL: front + "/front/" + repo.Name + ".git", Dir: cloneDir(t), Policy: frontOnly})
		assertKind(t, err, KindPolicy, true, "redirected to a host that is refused")
	})
	t.Run("DNS rebinding after the check", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
		// Admitted when checked, loopback when connecting.
		dns := &sequenceResolver{answers: [][]string{{"127.0.0.2"}, {"127.0.0.1"}}}
		p := giturl.Policy{Resolver: dns, AllowPrefixes: frontOnly.AllowPrefixes}
		_, err := Clone(context.Background(), Options{URL: "http://git.test:" + port + "/" + repo.Name + ".git", Dir: cloneDir(t), Policy: p})
		assertKind(t, err, KindPolicy, true, `"git.test" resolves to 127.0.0.1, which is loopback`)
	})
	if n := counter.n.Load(); n != 0 {
		t.Fatalf("the forbidden server got %d requests", n)
	}
	t.Run("control: the same redirect with private addresses allowed", func(t *testing.T) {
		res, err := Clone(context.Background(), Options{URL: front + "/front/" + repo.Name + ".git", Dir: cloneDir(t), Policy: local})
		if err != nil {
			t.Fatalf("redirected clone: %v", err)
		}
		if res.CommitSHA != repo.Head(t) || counter.n.Load() == 0 {
			t.Errorf("redirected clone got %s (want %s), target requests %d", res.CommitSHA, repo.Head(t), counter.n.Load())
		}
	})
}

func TestCloneRefusesBadInput(t *testing.T) {
	repo := gitserver.NewRepo(t, appFiles())
	url := gitserver.HTTP(t, repo).URL(repo)
	cases := []struct{ url, branch, mention string }{
		{"--upload-pack=touch /tmp/pwned", "", "starts with '-'"},
		{"-u" + url, "", "starts with '-'"},
		{"ext::sh -c touch% /tmp/pwned", "", "space or control character"},
		{url, "--upload-pack=x", "not a valid branch name"},
		{url, "a..b", "not a valid branch name"},
		{url, "main lock", "not a valid branch name"},
	}
	for _, c := range cases {
		_, err := Clone(context.Background(), Options{URL: c.url, Branch: c.branch, Dir: cloneDir(t), Policy: local})
		assertKind(t, err, KindInvalid, true, c.mention)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Clone(context.Background(), Options{URL: url, Dir: dir, Policy: local}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("clone into a non-empty directory = %v, want a refusal", err)
	}
	if readFile(t, filepath.Join(dir, "keep")) != "x" {
		t.Error("the refused clone touched the existing directory")
	}
}

func TestCloneNetworkErrorIsTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	for _, url := range []string{"http://" + addr + "/a.git", "git://" + addr + "/a.git"} {
		_, err := Clone(context.Background(), Options{URL: url, Dir: cloneDir(t), Policy: local})
		assertKind(t, err, KindNetwork, false, "could not reach")
	}
}

func TestRemoteHead(t *testing.T) {
	repo := gitserver.NewRepo(t, appFiles())
	repo.CommitOn(t, "dev", map[string]string{"dev.txt": "1"}, "dev")
	for name, url := range protocols(t, repo) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sha, branch, err := RemoteHead(ctx, url, "", local)
			if err != nil || sha != repo.Head(t) || branch != "main" {
				t.Fatalf("RemoteHead = %s %q %v, want %s main", sha, branch, err, repo.Head(t))
			}
			// A new commit on the default branch is what sync must notice.
			next := repo.Commit(t, map[string]string{"README.md": "changed by " + name + "\n"}, "update")
			if sha, _, err = RemoteHead(ctx, url, "", local); err != nil || sha != next {
				t.Fatalf("after a commit RemoteHead = %s %v, want %s", sha, err, next)
			}
			if sha, branch, err = RemoteHead(ctx, url, "dev", local); err != nil || sha != repo.HeadOf(t, "dev") || branch != "dev" {
				t.Errorf("RemoteHead(dev) = %s %q %v, want %s", sha, branch, err, repo.HeadOf(t, "dev"))
			}
			_, _, err = RemoteHead(ctx, url, "nope", local)
			assertKind(t, err, KindBranchNotFound, true, `branch "nope"`)
		})
	}
}

func assertKind(t *testing.T, err error, kind Kind, permanent bool, mention string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", kind)
	}
	t.Logf("%s: %v", kind, err)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v is not a *gitclone.Error", err, err)
	}
	if ce.Kind != kind {
		t.Errorf("kind %s, want %s: %v (cause: %v)", ce.Kind, kind, err, ce.Err)
	}
	if IsPermanent(err) != permanent {
		t.Errorf("IsPermanent = %v, want %v: %v", IsPermanent(err), permanent, err)
	}
	if !strings.Contains(err.Error(), mention) {
		t.Errorf("message %q does not mention %q", err, mention)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return (&gitserver.Repo{Dir: dir}).Git(t, args...)
}

type countingHandler struct {
	h http.Handler
	n atomic.Int64
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

// serveOn starts an HTTP server on addr and returns its base URL.
func serveOn(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// sequenceResolver gives its answers in turn, the last one repeating:
// what a DNS rebinding attacker's name server does.
type sequenceResolver struct {
	mu      sync.Mutex
	answers [][]string
	calls   int
}

func (r *sequenceResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.answers[min(r.calls, len(r.answers)-1)]
	r.calls++
	var out []net.IPAddr
	for _, s := range a {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

// hostileTree is a tree a hostile remote could send; extra entries are
// appended after the hostile ones.
type hostileTree struct {
	name    string
	tree    func(r *gitserver.Repo, extra ...gitserver.RawEntry) string
	mention string
}

// hostileTrees are trees whose checkout must be refused; outside is where
// one of them tries to write.
func hostileTrees(t *testing.T, outside string) []hostileTree {
	return []hostileTree{
		{"dot-git directory", func(r *gitserver.Repo, extra ...gitserver.RawEntry) string {
			hooks := r.WriteRawTree(t, []gitserver.RawEntry{{Mode: "100755", Name: "post-checkout", Hash: r.HashBlob(t, "#!/bin/sh\ntouch pwned\n")}})
			return r.WriteRawTree(t, append([]gitserver.RawEntry{{Mode: "40000", Name: ".GIT", Hash: hooks}}, extra...))
		}, `".GIT"`},
		{"dot-dot", func(r *gitserver.Repo, extra ...gitserver.RawEntry) string {
			return r.WriteRawTree(t, append([]gitserver.RawEntry{{Mode: "100644", Name: "..", Hash: r.HashBlob(t, "x")}}, extra...))
		}, `".."`},
		{"slash in a name", func(r *gitserver.Repo, extra ...gitserver.RawEntry) string {
			return r.WriteRawTree(t, append([]gitserver.RawEntry{{Mode: "100644", Name: "../../escaped", Hash: r.HashBlob(t, "x")}}, extra...))
		}, `"../../escaped"`},
		{"write through a symlink", func(r *gitserver.Repo, extra ...gitserver.RawEntry) string {
			// "a" is first a link to outside, then a directory holding a
			// file: a checkout that follows the link writes outside.
			inner := r.WriteRawTree(t, []gitserver.RawEntry{{Mode: "100644", Name: "pwned", Hash: r.HashBlob(t, "x")}})
			return r.WriteRawTree(t, append([]gitserver.RawEntry{
				{Mode: "120000", Name: "a", Hash: r.HashBlob(t, outside)},
				{Mode: "40000", Name: "a", Hash: inner},
			}, extra...))
		}, `"a" appears twice`},
	}
}

func TestCloneRefusesHostileTrees(t *testing.T) {
	outside := t.TempDir()
	for _, c := range hostileTrees(t, outside) {
		t.Run(c.name, func(t *testing.T) {
			repo := gitserver.NewRepo(t, appFiles())
			repo.CommitRawTree(t, c.tree(repo), "hostile")
			dir := cloneDir(t)
			_, err := Clone(context.Background(), Options{URL: gitserver.HTTP(t, repo).URL(repo), Dir: dir, Policy: local})
			assertKind(t, err, KindMalformed, true, c.mention)
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Fatalf("the clone wrote outside its directory: %v", entries)
			}
			if _, statErr := os.Stat(dir); !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("failed clone left %s behind", dir)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", ".git", ".Git", "a/b", "a\x00b"} {
		if err := checkName(bad, ""); err == nil {
			t.Errorf("checkName(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"a", ".gitignore", ".github", "..a", "git", "a b", "Dockerfile"} {
		if err := checkName(good, ""); err != nil {
			t.Errorf("checkName(%q) = %v", good, err)
		}
	}
}

func TestCloneSSHWithoutCredentials(t *testing.T) {
	// No SSH server is needed: go-git gives up before connecting when it
	// has no agent to authenticate with, which is appstored's usual state.
	t.Setenv("SSH_AUTH_SOCK", "")
	for _, url := range []string{"ssh://git@127.0.0.1:2222/x.git", "git@127.0.0.1:x.git"} {
		_, err := Clone(context.Background(), Options{URL: url, Dir: cloneDir(t), Policy: local})
		assertKind(t, err, KindAuthRequired, true, "register the repository's https:// URL")
	}
}

func TestHTTPWithoutPolicyIsRefused(t *testing.T) {
	repo := gitserver.NewRepo(t, appFiles())
	url := gitserver.HTTP(t, repo).URL(repo)
	// Any go-git HTTP use in the process that bypasses Clone/RemoteHead
	// fails closed instead of connecting unguarded.
	_, err := git.PlainCloneContext(context.Background(), cloneDir(t), false, &git.CloneOptions{URL: url, Depth: 1})
	if err == nil || !strings.Contains(err.Error(), "without a URL policy") {
		t.Fatalf("unguarded go-git clone = %v, want a refusal", err)
	}
}
