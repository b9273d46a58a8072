// Package localpg runs the embedded PostgreSQL cluster: the private server that
// appstored starts when it is given no --database-url, and that tests use for
// throwaway databases. It drives the machine's own PostgreSQL installation
// (pg_ctl, initdb, postgres found on PATH or under /usr/lib/postgresql/*/bin)
// and uses only the standard library: a tiny client of the wire protocol
// (wire.go) checks readiness and creates databases.
//
// # Layout
//
// Everything hangs off one data directory D (appstored's --data-dir):
//
//	D/postgres/            the cluster home H, or a symlink to it (see "Root")
//	    data/              PGDATA; initdb writes data.init/ and renames it, so a
//	                       data/ directory is always a complete cluster
//	    run/               the unix socket directory (mode 0700)
//	    postgres.log       the server log (pg_ctl -l), rotated at start past 10 MiB
//	D/postgres.lock        flock, exclusive while a process starts or stops the server
//	D/postgres.use.lock    flock, shared by every process that uses the server
//
// The server listens on no TCP address (listen_addresses = ”), only on the
// unix socket, and trusts local connections: whoever can enter the socket
// directory is superuser "postgres", and only the cluster's owner can. Settings
// the package manages are written to PGDATA/appstore.conf at every start
// (postgresql.conf includes it); edit postgresql.conf for your own.
//
// When D is so deep that the socket path would exceed sun_path (about 104
// bytes), the socket goes to a short directory $TMPDIR/appstore-pg-<hash>
// instead, created 0700 and refused if another user owns it.
//
// # Root
//
// PostgreSQL refuses to run as root, so when this process is root the server
// runs as the "postgres" system user, and the cluster home D/postgres is
// owned by it. That user often cannot reach D by its path: ~root is 0700, and
// so are private temporary directories. Its programs (initdb, pg_ctl, the
// server) then get the home as an open directory, file descriptor 3, opened
// here where it can be reached, and are given paths through it
// (/proc/self/fd/3/data): the kernel follows such a link to the directory
// without checking the directories above it, and the server, which changes
// into its data directory at start and then uses relative paths, never needs
// another way in. The socket is bound the same way; clients (this process)
// reach it by its real path. The cluster so always lives inside D: removing
// D removes it. Homes that older versions made under /var/lib/appstore/pg
// (D/postgres then is a symlink to one) are still found and used; Remove
// deletes them, and Start removes those whose temporary data directory is
// gone.
//
// # Restarts and crashes
//
// Start adopts a server that is already running for D (for example one left
// behind by an appstored killed with SIGKILL): it checks that the postmaster in
// postmaster.pid is alive and serves D's PGDATA, waits until it accepts
// connections, and returns. When postmaster.pid is stale (the server was
// killed), PostgreSQL itself discards the file if its pid is dead; Start adds
// what PostgreSQL does not do: it waits for (and after a grace period kills)
// leftover backends that still hold the old shared memory, since PostgreSQL
// refuses to start while they live; it treats zombie pids as dead; and on Linux
// it recognises a pid reused by another process (whose working directory is not
// PGDATA) and removes the stale lock files that PostgreSQL would otherwise trust.
//
// Concurrent Start calls on one data directory, from one process or several
// (parallel test binaries), are serialised by D/postgres.lock: the first one
// initialises and starts the server, the others adopt it. Every Cluster holds a
// shared lock on D/postgres.use.lock until Stop, and Stop stops the server only
// when no other Cluster (in any process) still holds it.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	superuser   = "postgres"
	defaultPort = 5432

	defaultStartTimeout = 2 * time.Minute
	defaultStopTimeout  = time.Minute
	maxLogSize          = 10 << 20
)

// Options configure Start.
type Options struct {
	// DataDir is the directory that owns the cluster (created if missing).
	DataDir string
	// BinDir, when set, is the directory holding pg_ctl, initdb and postgres;
	// otherwise they are looked up on PATH and in the usual install locations.
	BinDir string
	// Logger receives what the package does; nil discards.
	Logger *slog.Logger
	// NoSync trades crash safety for speed (initdb --no-sync, fsync,
	// synchronous_commit and full_page_writes off): for throwaway test
	// clusters only. It applies when the server is started, not when adopted.
	NoSync bool
	// Settings are extra postgresql.conf parameters (name → value), applied
	// when the server is started.
	Settings map[string]string
	// StartTimeout bounds Start when ctx has no earlier deadline (default 2m;
	// crash recovery of a large cluster can take a while).
	StartTimeout time.Duration
}

// Cluster is a running embedded PostgreSQL server.
type Cluster struct {
	layout
	log  *slog.Logger
	acct *account // nil: the server runs as this process's user
	bins binaries

	pid       int    // postmaster pid
	port      int    // from postmaster.pid
	runSocket string // socket directory the running server uses

	mu      sync.Mutex
	useLock *os.File // nil once stopped
}

// Start starts the cluster of opts.DataDir, creating it on first use, or
// adopts it when it is already running. See the package comment.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("localpg: Options.DataDir is empty: say which directory holds the embedded PostgreSQL cluster")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dataDir, err := resolveDataDir(opts.DataDir, true)
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	l, err := locate(dataDir, acct)
	if err != nil {
		return nil, err
	}
	startLock, err := lockFile(ctx, l.startLock, syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlockFile(startLock)

	c := &Cluster{layout: l, log: log.With("pgdata", l.pgdata), acct: acct}
	major, err := readPGVersion(c.pgdata)
	if err != nil {
		return nil, err
	}
	if c.bins, err = findBinaries(ctx, opts.BinDir, major); err != nil {
		return nil, err
	}
	if acct != nil {
		// Homes older versions made under /var/lib/appstore/pg for
		// temporary data directories that are gone.
		pruneExternal(log) // not c.log: its pgdata is this cluster, not the one removed
	}
	if err := c.create(acct); err != nil {
		return nil, err
	}
	if major == 0 {
		if err := c.initdb(ctx, opts.NoSync); err != nil {
			return nil, err
		}
	}
	if err := c.writeConf(opts); err != nil {
		return nil, err
	}
	if err := c.startOrAdopt(ctx); err != nil {
		return nil, err
	}
	// Never blocks: an exclusive lock on it is only taken under startLock.
	use, err := lockFile(ctx, c.layout.useLock, syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	c.useLock = use
	return c, nil
}

func resolveDataDir(dir string, create bool) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory %q: %w", dir, err)
	}
	if create {
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return "", fmt.Errorf("create the data directory: %w", err)
		}
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("data directory %q: %w", dir, err)
	}
	return real, nil
}

// URL returns a connection string for database dbname over the unix socket,
// understood by pgx and libpq, e.g.
// postgres://postgres@/appstore?host=/var/lib/appstore/pg/0123abcd/run&port=5432&sslmode=disable
func (c *Cluster) URL(dbname string) string {
	q := url.Values{}
	q.Set("host", c.runSocket)
	q.Set("port", strconv.Itoa(c.port))
	q.Set("sslmode", "disable")
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Host: "", Path: "/" + dbname, RawQuery: q.Encode()}
	return u.String()
}

// PGData returns the PostgreSQL data directory (PGDATA) of the cluster.
func (c *Cluster) PGData() string { return c.pgdata }

// SocketDir returns the directory of the server's unix socket.
func (c *Cluster) SocketDir() string { return c.runSocket }

// LogFile returns the path of the server log.
func (c *Cluster) LogFile() string { return c.logFile }

// PID returns the process id of the postmaster this Cluster started or adopted.
func (c *Cluster) PID() int { return c.pid }

// Version returns the version of the PostgreSQL binaries in use, e.g. "15.18".
func (c *Cluster) Version() string { return c.bins.version }

// CreateDatabase creates database name unless it exists. Concurrent calls for
// the same name are fine.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	if err := checkDBName(name); err != nil {
		return err
	}
	conn, err := c.connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.close()
	rows, err := conn.query("SELECT 1 FROM pg_database WHERE datname = " + quoteLiteral(name))
	if err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if len(rows) > 0 {
		return nil
	}
	_, err = conn.query("CREATE DATABASE " + quoteIdent(name))
	if err != nil && !isCode(err, codeDuplicateDatabase) && !isCode(err, codeUniqueViolation) {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	if err == nil {
		c.log.Info("created database", "database", name)
	}
	return nil
}

// DropDatabase drops database name if it exists, ending its connections.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	if err := checkDBName(name); err != nil {
		return err
	}
	conn, err := c.connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.close()
	if _, err := conn.query("DROP DATABASE IF EXISTS " + quoteIdent(name) + " WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %q: %w", name, err)
	}
	return nil
}

func checkDBName(name string) error {
	if name == "" || len(name) > 63 || strings.ContainsRune(name, 0) {
		return fmt.Errorf("invalid database name %q: use 1 to 63 bytes", name)
	}
	return nil
}

func (c *Cluster) connect(ctx context.Context, dbname string) (*wireConn, error) {
	conn, err := dialWire(ctx, c.runSocket, c.port, dbname)
	if err != nil {
		return nil, fmt.Errorf("connect to the embedded PostgreSQL on %s: %w", c.runSocket, err)
	}
	return conn, nil
}

// Stop ends this process's use of the cluster and shuts the server down
// (pg_ctl stop -m fast, then -m immediate if that fails) unless another Cluster,
// in this or another process, still uses it. Calling Stop again does nothing.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.useLock == nil {
		return nil
	}
	startLock, err := lockFile(ctx, c.startLock, syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlockFile(startLock)
	use := c.useLock
	c.useLock = nil
	defer unlockFile(use)
	if err := syscall.Flock(int(use.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			c.log.Info("PostgreSQL left running: another process still uses it")
			return nil
		}
		return fmt.Errorf("lock %s: %w", c.layout.useLock, err)
	}
	return c.stopServer(ctx)
}

func (c *Cluster) stopServer(ctx context.Context) error {
	running := func() (pidFile, bool) {
		pf, err := readPidFile(c.pgdata)
		return pf, err == nil && isPostmasterOf(pf.pid, c.pgdata)
	}
	pf, ok := running()
	if !ok {
		return nil
	}
	c.log.Info("stopping PostgreSQL", "pid", pf.pid)
	out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.serverPath(c.pgdata), "-m", "fast", "-w", "-t", timeoutSecs(ctx, defaultStopTimeout), "-s")
	if err == nil {
		// pg_ctl returns once postmaster.pid is gone, moments before the
		// process exits: callers may rely on the server being gone.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return c.waitExit(wctx, pf.pid)
	}
	if _, ok := running(); !ok {
		return nil
	}
	c.log.Warn("fast shutdown failed, trying immediate shutdown", "err", err, "output", out)
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if out2, err2 := c.run(ictx, "pg_ctl", "stop", "-D", c.serverPath(c.pgdata), "-m", "immediate", "-w", "-t", "30", "-s"); err2 != nil {
		if _, ok := running(); ok {
			return fmt.Errorf("stop PostgreSQL (pid %d): %w: %s; immediate shutdown: %v: %s", pf.pid, err, out, err2, out2)
		}
	}
	return nil
}

// Remove stops the cluster of opts.DataDir if it runs and deletes its files,
// including an external home under /var/lib/appstore/pg. It fails if another
// process still uses the cluster. The rest of the data directory is left alone.
func Remove(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dataDir, err := resolveDataDir(opts.DataDir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	acct, err := serverAccount()
	if err != nil {
		return err
	}
	l, err := locate(dataDir, acct)
	if err != nil {
		return err
	}
	startLock, err := lockFile(ctx, l.startLock, syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlockFile(startLock)
	use, err := os.OpenFile(l.useLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer unlockFile(use)
	if err := syscall.Flock(int(use.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("remove the PostgreSQL cluster of %s: another process still uses it: %w", dataDir, err)
	}
	if pf, err := readPidFile(l.pgdata); err == nil && isPostmasterOf(pf.pid, l.pgdata) {
		// The files go anyway: no need for a clean shutdown.
		_ = syscall.Kill(pf.pid, syscall.SIGKILL)
	}
	if err := waitOrphans(ctx, l.pgdata, 5*time.Second); err != nil {
		return err
	}
	log.Info("removing PostgreSQL cluster", "home", l.home)
	if err := os.RemoveAll(l.home); err != nil {
		return fmt.Errorf("remove %s: %w", l.home, err)
	}
	if l.external {
		if err := os.Remove(l.link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if filepath.Dir(l.socketDir) != l.home {
		if err := os.RemoveAll(l.socketDir); err != nil {
			return err
		}
	}
	return nil
}

// run runs one of the PostgreSQL programs as the server's user and returns its
// combined output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bins.path(name), args...)
	// The postgres user may not be able to enter our working directory (e.g.
	// under /root), and PostgreSQL's programs call getcwd at start.
	cmd.Dir = "/"
	cmd.Env = []string{
		"PATH=" + c.bins.dir + ":/usr/local/bin:/usr/bin:/bin",
		"LC_ALL=C", // messages in English: they end up in our errors and logs
		"HOME=" + c.serverPath(c.home),
	}
	if c.viaFD {
		// The home, opened here where it can be reached, is file
		// descriptor 3 of the program (and of the server pg_ctl starts,
		// which inherits it): paths go through /proc/self/fd/3.
		home, err := os.Open(c.home)
		if err != nil {
			return "", fmt.Errorf("open %s for the PostgreSQL programs: %w", c.home, err)
		}
		defer home.Close()
		cmd.ExtraFiles = []*os.File{home}
	}
	if tz, ok := os.LookupEnv("TZ"); ok {
		cmd.Env = append(cmd.Env, "TZ="+tz)
	}
	if c.acct != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.acct.credential()}
	}
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	// pg_ctl start leaves the postmaster running; it does not hold our pipes
	// (its output goes to the log file), but never wait forever on them.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", name, args[0], err)
	}
	return strings.TrimSpace(out.String()), err
}

func (c *Cluster) initdb(ctx context.Context, noSync bool) error {
	tmp := filepath.Join(c.home, "data.init")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove the unfinished cluster %s: %w", tmp, err)
	}
	base := []string{"-D", c.serverPath(tmp), "-U", superuser, "--auth-local=trust", "--auth-host=reject", "-E", "UTF8"}
	if noSync {
		base = append(base, "--no-sync")
	}
	c.log.Info("creating PostgreSQL cluster", "version", c.bins.version, "bin", c.bins.dir)
	// Byte-order collation (C) is stable across machines and library upgrades;
	// C.UTF-8 character classes make lower()/upper() work beyond ASCII.
	out, err := c.run(ctx, "initdb", append(base, "--lc-collate=C", "--lc-ctype=C.UTF-8")...)
	if err != nil && strings.Contains(out, "locale") {
		c.log.Warn("locale C.UTF-8 unavailable, using C", "output", out)
		if err := os.RemoveAll(tmp); err != nil {
			return err
		}
		out, err = c.run(ctx, "initdb", append(base, "--locale=C")...)
	}
	if err != nil {
		return fmt.Errorf("initialise the PostgreSQL cluster: %w: %s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, "\n# Settings managed by appstore (daemon/localpg), rewritten at every start.\ninclude_if_exists = 'appstore.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("configure the new cluster: %w", err)
	}
	if err := os.Rename(tmp, c.pgdata); err != nil {
		return fmt.Errorf("move the new cluster into place: %w", err)
	}
	return nil
}

func settingNameOK(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// writeConf writes PGDATA/appstore.conf, the settings the package manages.
func (c *Cluster) writeConf(opts Options) error {
	settings := map[string]string{
		"listen_addresses":               "",
		"port":                           strconv.Itoa(defaultPort),
		"unix_socket_directories":        c.serverPath(c.socketDir),
		"unix_socket_permissions":        "0700",
		"max_connections":                "200",
		"superuser_reserved_connections": "3",
	}
	if opts.NoSync {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	for k, v := range opts.Settings {
		if !settingNameOK(k) {
			return fmt.Errorf("invalid PostgreSQL setting name %q", k)
		}
		switch k {
		case "listen_addresses", "port", "unix_socket_directories":
			return fmt.Errorf("the PostgreSQL setting %q is managed by the embedded cluster and cannot be overridden", k)
		}
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by appstore (daemon/localpg) at every start: edits here are lost.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, quoteLiteral(settings[k]))
	}
	path := filepath.Join(c.pgdata, "appstore.conf")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if c.acct != nil {
		if err := os.Chown(tmp, c.acct.uid, c.acct.gid); err != nil {
			return err
		}
	}
	return os.Rename(tmp, path)
}

// startOrAdopt brings the server up: adopts a live one, clears up after a dead
// one, and starts it.
func (c *Cluster) startOrAdopt(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		pf, err := readPidFile(c.pgdata)
		pf.socketDir = c.hostPath(pf.socketDir)
		switch {
		case err == nil && isPostmasterOf(pf.pid, c.pgdata):
			if pf.status == "stopping" {
				c.log.Info("waiting for PostgreSQL to finish shutting down", "pid", pf.pid)
				if err := c.waitExit(ctx, pf.pid); err != nil {
					return err
				}
				continue
			}
			c.log.Info("adopting running PostgreSQL", "pid", pf.pid)
			return c.awaitReady(ctx, pf.pid)
		case err == nil:
			c.log.Warn("PostgreSQL was not shut down cleanly (stale postmaster.pid); recovering", "old_pid", pf.pid)
			if err := waitOrphans(ctx, c.pgdata, 10*time.Second); err != nil {
				return err
			}
			if pidExists(pf.pid) {
				// The pid is a zombie (the dead postmaster, not yet reaped by its
				// new parent) or now belongs to another process. PostgreSQL cannot
				// tell and would refuse to start; its backends are gone (checked above).
				c.log.Warn("stale postmaster.pid names a pid that still exists (zombie or reused); removing it", "pid", pf.pid)
				_ = os.Remove(filepath.Join(c.pgdata, "postmaster.pid"))
				if pf.socketDir != "" {
					lock := socketPath(pf.socketDir, pf.port) + ".lock"
					if lpf, err := readLockFile(lock); err == nil && lpf.pid == pf.pid {
						_ = os.Remove(lock)
					}
				}
			}
		case errors.Is(err, fs.ErrNotExist):
		default:
			// A postmaster killed while writing the file leaves it empty or
			// cut, and PostgreSQL then refuses to start ("bogus data in lock file").
			if pids := serverProcesses(c.pgdata); len(pids) > 0 {
				return fmt.Errorf("%w, and processes %v still run in it: stop them and start again", err, pids)
			}
			c.log.Warn("removing unreadable postmaster.pid", "err", err)
			if err := os.Remove(filepath.Join(c.pgdata, "postmaster.pid")); err != nil {
				return err
			}
		}

		c.rotateLog()
		c.log.Info("starting PostgreSQL", "version", c.bins.version, "socket_dir", c.socketDir)
		out, err := c.run(ctx, "pg_ctl", "start", "-D", c.serverPath(c.pgdata), "-l", c.serverPath(c.logFile), "-w", "-t", timeoutSecs(ctx, defaultStartTimeout), "-s")
		if pf, perr := readPidFile(c.pgdata); perr == nil && isPostmasterOf(pf.pid, c.pgdata) {
			// Started, or still recovering when pg_ctl gave up waiting.
			return c.awaitReady(ctx, pf.pid)
		}
		if err == nil {
			err = errors.New("the server exited right after starting")
		}
		tail := c.logTail()
		if attempt < 3 && ctx.Err() == nil && (strings.Contains(tail, "shared memory block") || strings.Contains(tail, "lock file")) {
			c.log.Warn("PostgreSQL refused to start, retrying", "err", err, "log", tail)
			continue
		}
		return fmt.Errorf("start PostgreSQL: %w: %s\nthe server log %s ends with:\n%s", err, out, c.logFile, tail)
	}
}

// awaitReady polls the server until it accepts connections, then checks that
// it serves our PGDATA.
func (c *Cluster) awaitReady(ctx context.Context, pid int) error {
	delay := 10 * time.Millisecond
	var last error
	for {
		if !isPostmasterOf(pid, c.pgdata) {
			return fmt.Errorf("PostgreSQL (pid %d) exited while starting (last error: %v); the server log %s ends with:\n%s", pid, last, c.logFile, c.logTail())
		}
		// The pid file gains its socket line once the sockets exist.
		pf, err := readPidFile(c.pgdata)
		pf.socketDir = c.hostPath(pf.socketDir)
		if err == nil && pf.pid == pid && pf.socketDir != "" {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			conn, err := dialWire(dctx, pf.socketDir, pf.port, "postgres")
			cancel()
			if err == nil {
				rows, qerr := conn.query("SHOW data_directory")
				conn.close()
				if qerr != nil {
					return fmt.Errorf("ask PostgreSQL for its data directory: %w", qerr)
				}
				if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] == nil || !(*rows[0][0] == c.serverPath(c.pgdata) || !c.viaFD && sameDir(*rows[0][0], c.pgdata)) {
					return fmt.Errorf("the server on %s does not serve %s", pf.socketDir, c.pgdata)
				}
				c.pid, c.port, c.runSocket = pid, pf.port, pf.socketDir
				c.log.Info("PostgreSQL ready", "pid", pid, "socket_dir", pf.socketDir)
				return nil
			}
			var se *ServerError
			if errors.As(err, &se) && se.Code != codeCannotConnectNow && se.Code != codeTooManyConns {
				return fmt.Errorf("connect to PostgreSQL on %s: %w", pf.socketDir, err)
			}
			last = err
		} else if err != nil {
			last = err
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return fmt.Errorf("PostgreSQL (pid %d) did not accept connections in time (last error: %v): %w; the server log %s ends with:\n%s", pid, last, err, c.logFile, c.logTail())
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func (c *Cluster) waitExit(ctx context.Context, pid int) error {
	for isPostmasterOf(pid, c.pgdata) {
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for PostgreSQL (pid %d) to shut down: %w", pid, err)
		}
	}
	return nil
}

// rotateLog keeps the server log bounded across restarts.
func (c *Cluster) rotateLog() {
	if fi, err := os.Stat(c.logFile); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(c.logFile, c.logFile+".1")
	}
}

// logTail returns the end of the server log, for error messages.
func (c *Cluster) logTail() string {
	f, err := os.Open(c.logFile)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	defer f.Close()
	const n = 2048
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

func timeoutSecs(ctx context.Context, def time.Duration) string {
	d := def
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	return strconv.Itoa(max(1, int(d.Seconds())))
}
