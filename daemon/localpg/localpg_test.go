package localpg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The test binary doubles as a helper process (see helperMain) so that tests
// can kill a real process that started a cluster, as happens when appstored is
// killed with SIGKILL.
const helperEnv = "LOCALPG_TEST_HELPER_DATADIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperMain(dir))
	}
	os.Exit(m.Run())
}

// helperMain starts the cluster of dir, creates database "crashme" with one
// row, prints "ready <postmaster pid>" and waits to be killed.
func helperMain(dir string) int {
	ctx := context.Background()
	c, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := c.CreateDatabase(ctx, "crashme"); err != nil {
		fmt.Println("error", err)
		return 1
	}
	conn, err := pgx.Connect(ctx, c.URL("crashme"))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('before the crash')"); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready", c.PID())
	select {}
}

func requirePostgres(t *testing.T) {
	t.Helper()
	if _, err := findBinaries(context.Background(), "", 0); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL missing: %v; make test installs it", err)
		}
		t.Skipf("PostgreSQL missing: %v", err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newDataDir returns a fresh data directory whose cluster is removed (server
// killed, files deleted, including an external home) when the test ends.
func newDataDir(t *testing.T, dir string) string {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "data")
	}
	t.Cleanup(func() {
		if err := Remove(context.Background(), Options{DataDir: dir}); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
	return dir
}

func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) }) // no-op once stopped
	return c
}

func stop(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartStopRestart(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	ctx := context.Background()
	dir := newDataDir(t, "")

	c := start(t, Options{DataDir: dir, NoSync: true})
	if err := c.CreateDatabase(ctx, "appstore"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, "appstore"); err != nil {
		t.Fatalf("CreateDatabase is not idempotent: %v", err)
	}
	if !strings.HasPrefix(c.URL("appstore"), "postgres://postgres@/appstore?") {
		t.Errorf("URL = %q", c.URL("appstore"))
	}
	conn := connect(t, c.URL("appstore"))
	if got := queryString(t, conn, "SELECT current_database()"); got != "appstore" {
		t.Errorf("current_database() = %q", got)
	}
	if got := queryString(t, conn, "SHOW listen_addresses"); got != "" {
		t.Errorf("listen_addresses = %q, want '' (unix socket only)", got)
	}
	if got := queryString(t, conn, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'appstore'"); got != "UTF8" {
		t.Errorf("encoding = %q", got)
	}
	if got := queryString(t, conn, "SELECT lower('ÉCOLE')"); got != "école" {
		t.Errorf("lower('ÉCOLE') = %q: the cluster's character classes are not UTF-8 aware", got)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('across restarts')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if fi, err := os.Stat(c.SocketDir()); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory %s has mode %v; want 0700", c.SocketDir(), fi.Mode().Perm())
	}

	pid := c.PID()
	stop(t, c)
	waitDead(t, pid)
	if _, err := os.Stat(filepath.Join(c.PGData(), "postmaster.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v (want a clean shutdown)", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := c.CreateDatabase(ctx, "x"); err == nil {
		t.Error("CreateDatabase on a stopped cluster succeeded")
	}

	c2 := start(t, Options{DataDir: dir, NoSync: true})
	defer stop(t, c2)
	if c2.PID() == pid {
		t.Errorf("restart kept pid %d", pid)
	}
	conn2 := connect(t, c2.URL("appstore"))
	if got := queryString(t, conn2, "SELECT v FROM kept"); got != "across restarts" {
		t.Errorf("after restart: %q", got)
	}
	if err := c2.DropDatabase(ctx, "nonexistent"); err != nil {
		t.Errorf("DropDatabase of a missing database: %v", err)
	}
}

// TestAdoptAfterSIGKILL: a process that started the cluster is killed with
// SIGKILL (as an appstored may be); the next Start adopts the running server.
func TestAdoptAfterSIGKILL(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := newDataDir(t, "")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	fields := strings.Fields(line)
	if len(fields) != 2 || fields[0] != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	pid, _ := strconv.Atoi(fields[1])
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	c := start(t, Options{DataDir: dir})
	defer stop(t, c)
	if c.PID() != pid {
		t.Fatalf("Start started a new server (pid %d) instead of adopting the running one (pid %d)", c.PID(), pid)
	}
	conn := connect(t, c.URL("crashme"))
	if got := queryString(t, conn, "SELECT v FROM t"); got != "before the crash" {
		t.Errorf("data: %q", got)
	}
}

// TestRecoverAfterKill9: the postmaster itself is killed with SIGKILL; the
// next Start recovers (stale postmaster.pid, leftover backends).
func TestRecoverAfterKill9(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	ctx := context.Background()
	dir := newDataDir(t, "")

	c1 := start(t, Options{DataDir: dir})
	if err := c1.CreateDatabase(ctx, "appstore"); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, c1.URL("appstore"))
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('committed')"); err != nil {
		t.Fatal(err)
	}
	// Keep a backend busy so that an orphan outlives the postmaster for a moment.
	busy := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), "SELECT pg_sleep(2)")
		busy <- err
	}()
	watcher := connect(t, c1.URL("appstore"))
	for deadline := time.Now().Add(30 * time.Second); ; {
		var n int
		if err := watcher.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pg_sleep query never became active")
		}
		time.Sleep(10 * time.Millisecond)
	}
	old := c1.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, old)
	if _, err := os.Stat(filepath.Join(c1.PGData(), "postmaster.pid")); err != nil {
		t.Fatalf("expected a stale postmaster.pid after SIGKILL: %v", err)
	}

	c2 := start(t, Options{DataDir: dir})
	if c2.PID() == old || !processAlive(c2.PID()) {
		t.Fatalf("pid after recovery %d (old %d)", c2.PID(), old)
	}
	<-busy
	conn2 := connect(t, c2.URL("appstore"))
	if got := queryString(t, conn2, "SELECT v FROM t"); got != "committed" {
		t.Errorf("after crash recovery: %q", got)
	}
	conn2.Close(ctx)

	// c1 still counts as a user: its Stop must leave the server to c2.
	stop(t, c1)
	if !processAlive(c2.PID()) {
		t.Fatal("Stop of one Cluster stopped the server another Cluster still uses")
	}
	stop(t, c2)
	waitDead(t, c2.PID())
}

// TestStalePidFileReused: postmaster.pid names a live process of the server's
// user that is not a postmaster (a reused pid), or is garbage; PostgreSQL would
// refuse to start on its own.
func TestStalePidFileReused(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := newDataDir(t, "")
	c := start(t, Options{DataDir: dir, NoSync: true})
	stop(t, c)

	acct, err := serverAccount()
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "300")
	if acct != nil {
		sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: acct.credential()}
	}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	pidPath := filepath.Join(c.PGData(), "postmaster.pid")
	fake := fmt.Sprintf("%d\n%s\n%d\n%d\n%s\n\n  1234567   1234\nready   \n", sleeper.Process.Pid, c.PGData(), time.Now().Unix(), defaultPort, c.SocketDir())
	writeAs(t, pidPath, fake, acct)
	lock := socketPath(c.SocketDir(), defaultPort) + ".lock"
	writeAs(t, lock, fmt.Sprintf("%d\n%s\n", sleeper.Process.Pid, c.PGData()), acct)

	c2 := start(t, Options{DataDir: dir, NoSync: true})
	if c2.PID() == sleeper.Process.Pid {
		t.Fatal("adopted a process that is not a postmaster")
	}
	stop(t, c2)

	writeAs(t, pidPath, "garb", acct)
	c3 := start(t, Options{DataDir: dir, NoSync: true})
	stop(t, c3)
}

func writeAs(t *testing.T, path, content string, acct *account) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if acct != nil {
		if err := os.Chown(path, acct.uid, acct.gid); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentStart(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := newDataDir(t, "")
	const n = 4
	clusters := make([]*Cluster, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			clusters[i], errs[i] = Start(ctx, Options{DataDir: dir, NoSync: true, Logger: testLogger(t)})
			if errs[i] == nil {
				errs[i] = clusters[i].CreateDatabase(ctx, "shared")
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
	}
	for _, c := range clusters[1:] {
		if c.PID() != clusters[0].PID() {
			t.Errorf("two servers for one data directory: pids %d and %d", clusters[0].PID(), c.PID())
		}
	}
	pid := clusters[0].PID()
	for i, c := range clusters {
		stop(t, c)
		if alive := processAlive(pid); alive != (i < n-1) {
			t.Fatalf("after %d of %d Stops the server is alive=%v", i+1, n, alive)
		}
	}
}

// TestRootPrivateDataDir: as root, a data directory inside a 0700 directory
// (the postgres user cannot reach it by its path) keeps its cluster inside,
// owned by postgres, reached by the server through an open directory; nothing
// is made elsewhere, so removing the data directory leaves nothing behind.
func TestRootPrivateDataDir(t *testing.T) {
	requirePostgres(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: checks where root's clusters live (non-root runs use the data directory itself)")
	}
	t.Parallel()
	before := externalHomes(t)
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := newDataDir(t, filepath.Join(private, "data"))
	c := start(t, Options{DataDir: dir, NoSync: true})
	home := filepath.Join(dir, "postgres")
	if fi, err := os.Lstat(home); err != nil || !fi.IsDir() || c.PGData() != filepath.Join(home, "data") {
		t.Fatalf("cluster home %s (%v), PGDATA %s; want a directory %s", home, err, c.PGData(), home)
	}
	if !strings.HasPrefix(c.SocketDir(), home) {
		t.Errorf("socket in %s, want inside %s", c.SocketDir(), home)
	}
	acct, _ := serverAccount()
	for _, p := range []string{home, c.PGData()} {
		if uid, err := owner(p); err != nil || uid != acct.uid {
			t.Errorf("%s owned by uid %d (%v), want postgres (%d)", p, uid, err, acct.uid)
		}
	}
	if err := c.CreateDatabase(context.Background(), "appstore"); err != nil {
		t.Fatal(err)
	}
	stop(t, c)
	c2 := start(t, Options{DataDir: dir, NoSync: true})
	if c2.PGData() != c.PGData() {
		t.Errorf("restart moved the cluster: %s, then %s", c.PGData(), c2.PGData())
	}
	conn := connect(t, c2.URL("appstore"))
	queryString(t, conn, "SELECT current_database()")
	conn.Close(context.Background())
	pid := c2.PID()
	stop(t, c2)
	waitDead(t, pid)

	// Removing the data directory removes everything.
	if err := os.RemoveAll(private); err != nil {
		t.Fatal(err)
	}
	if after := externalHomes(t); len(after) != len(before) {
		t.Errorf("homes under %s: %v before, %v after", externalRoot, before, after)
	}
	if pids := serverProcesses(c.PGData()); len(pids) > 0 {
		t.Errorf("server processes left: %v", pids)
	}
}

// externalHomes lists the cluster homes under externalRoot.
func externalHomes(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(externalRoot)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestPruneDeletedTempDataDir: the homes that older versions made under
// externalRoot for temporary data directories are removed by the next Start
// once their data directory is gone; others are left alone. Not parallel: it
// resets the once-per-process pruning.
func TestPruneDeletedTempDataDir(t *testing.T) {
	requirePostgres(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: external homes were made only for root")
	}
	gone := filepath.Join(os.TempDir(), "localpg-prune-gone", "data")
	old := filepath.Join(externalRoot, hashOf(gone))
	keep := filepath.Join(externalRoot, "0000000000000000")
	for home, dataDir := range map[string]string{old: gone, keep: "/srv/unmounted/appstore"} {
		if err := os.MkdirAll(filepath.Join(home, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(home)
		if err := os.WriteFile(filepath.Join(home, "datadir"), []byte(dataDir+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pruneOnce = sync.Once{}
	c := start(t, Options{DataDir: newDataDir(t, ""), NoSync: true})
	stop(t, c)
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the home of the deleted data directory is still there: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the home of a missing non-temporary data directory was removed: %v", err)
	}
}

// TestLongDataDir: a data directory too deep for a socket path (sun_path) that
// the server's user can reach keeps its cluster inside, with the socket in a
// short directory elsewhere.
func TestLongDataDir(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	base, err := os.MkdirTemp("", "localpg-long-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != filepath.Dir(base); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // searchable by postgres when root
			t.Fatal(err)
		}
	}
	newDataDir(t, dir)
	c := start(t, Options{DataDir: dir, NoSync: true})
	defer stop(t, c)
	if fi, err := os.Lstat(filepath.Join(dir, "postgres")); err != nil || !fi.IsDir() {
		t.Errorf("cluster home not inside the data directory: %v", err)
	}
	if strings.HasPrefix(c.SocketDir(), dir) || len(socketPath(c.SocketDir(), defaultPort)) > maxSocketPath {
		t.Errorf("socket directory %s", c.SocketDir())
	}
	conn := connect(t, c.URL("postgres"))
	queryString(t, conn, "SELECT current_database()")
}

// TestAsNonRoot runs TestStartStopRestart as the postgres user when the tests
// run as root, so that the non-root path (cluster in the data directory, no
// user switch) is exercised too.
func TestAsNonRoot(t *testing.T) {
	requirePostgres(t)
	if os.Geteuid() != 0 {
		t.Skip("already not root: the other tests cover it")
	}
	t.Parallel()
	acct, err := serverAccount()
	if err != nil {
		t.Fatal(err)
	}
	home, err := os.MkdirTemp("", "localpg-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chown(home, acct.uid, acct.gid); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(home, "localpg.test")
	copyFile(t, self, bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestStartStopRestart$", "-test.v", "-test.count=1")
	cmd.Dir = home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home, "CI=" + os.Getenv("CI")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: acct.credential()}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestStartStopRestart") {
		t.Fatalf("as %s: %v\n%s", acct.name, err, out)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInterruptedInitdb: an initdb killed half-way leaves data.init behind,
// never a data directory that looks complete.
func TestInterruptedInitdb(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := newDataDir(t, "")
	if _, err := resolveDataDir(dir, true); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	acct, err := serverAccount()
	if err != nil {
		t.Fatal(err)
	}
	l, err := locate(real, acct)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.create(acct); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(l.home, "data.init")
	if err := os.MkdirAll(filepath.Join(half, "base"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := start(t, Options{DataDir: dir, NoSync: true})
	defer stop(t, c)
	if _, err := os.Stat(half); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data.init left behind: %v", err)
	}
	conn := connect(t, c.URL("postgres"))
	queryString(t, conn, "SELECT current_database()")
}

// TestVersionMismatch: a cluster made by a PostgreSQL major version that is
// not installed gets an error that says what to install.
func TestVersionMismatch(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := newDataDir(t, "")
	c := start(t, Options{DataDir: dir, NoSync: true})
	stop(t, c)
	major := c.bins.major - 1
	if err := os.WriteFile(filepath.Join(c.PGData(), "PG_VERSION"), []byte(strconv.Itoa(major)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := FindInstallation(context.Background(), filepath.Join("/usr/lib/postgresql", strconv.Itoa(major), "bin")); err == nil {
		t.Skipf("PostgreSQL %d is installed too", major)
	}
	_, err := Start(context.Background(), Options{DataDir: dir})
	want := fmt.Sprintf("created by PostgreSQL %d", major)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("postgresql-%d", major)) {
		t.Fatalf("Start: %v; want an error saying %q and what to install", err, want)
	}
}

func TestMissingBinaries(t *testing.T) {
	empty := t.TempDir()
	dir := newDataDir(t, "")
	_, err := Start(context.Background(), Options{DataDir: dir, BinDir: empty})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start with an empty BinDir: %v, want ErrNotInstalled", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "postgres")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Start left a cluster home behind: %v", err)
	}

	// Nothing on PATH nor in the usual places.
	t.Setenv("PATH", empty)
	saved := candidateGlobs
	candidateGlobs = []string{filepath.Join(empty, "*")}
	defer func() { candidateGlobs = saved }()
	_, err = findBinaries(context.Background(), "", 0)
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("findBinaries: %v", err)
	}
	for _, want := range []string{"apt-get install postgresql", "brew install postgresql@15", "--database-url", "APPSTORE_DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := Start(context.Background(), Options{}); err == nil || !strings.Contains(err.Error(), "DataDir") {
		t.Errorf("empty DataDir: %v", err)
	}
	requirePostgres(t)
	dir := newDataDir(t, "")
	_, err := Start(context.Background(), Options{DataDir: dir, NoSync: true, Settings: map[string]string{"listen_addresses": "*"}})
	if err == nil || !strings.Contains(err.Error(), "listen_addresses") {
		t.Errorf("overriding listen_addresses: %v", err)
	}
}

func TestVersionFromPath(t *testing.T) {
	for p, want := range map[string]int{
		"/usr/lib/postgresql/15/bin":          15,
		"/usr/lib/postgresql/9/bin":           9,
		"/usr/pgsql-16/bin":                   16,
		"/opt/homebrew/opt/postgresql@17/bin": 17,
		"/usr/local/bin":                      0,
	} {
		if got := versionFromPath(p); got != want {
			t.Errorf("versionFromPath(%q) = %d, want %d", p, got, want)
		}
	}
}
