package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidFile is the content of PGDATA/postmaster.pid, which a postmaster writes at
// start and removes at a clean shutdown. Its lines are fixed by PostgreSQL:
// pid, data directory, start time, port, first socket directory, listen
// address, shared memory key, status.
type pidFile struct {
	pid       int
	dataDir   string
	port      int
	socketDir string
	status    string // "starting", "ready", "stopping", "standby" (missing while very early)
}

func readPidFile(pgdata string) (pidFile, error) {
	return readLockFile(filepath.Join(pgdata, "postmaster.pid"))
}

// readLockFile reads a PostgreSQL lock file: postmaster.pid, or the
// .s.PGSQL.<port>.lock beside a socket, which starts with the same pid line.
func readLockFile(path string) (pidFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	get := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	pid, err := strconv.Atoi(get(0))
	if err != nil || pid <= 0 {
		return pidFile{}, fmt.Errorf("%s names no process (%q)", path, get(0))
	}
	port, _ := strconv.Atoi(get(3))
	if port == 0 {
		port = defaultPort
	}
	return pidFile{pid: pid, dataDir: get(1), port: port, socketDir: get(4), status: get(7)}, nil
}

// pidExists reports whether a process (possibly a zombie) has this pid: what
// PostgreSQL checks before it trusts a lock file to be stale.
func pidExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// processAlive reports whether pid names a live (not zombie) process.
func processAlive(pid int) bool {
	if !pidExists(pid) {
		return false
	}
	if runtime.GOOS == "linux" {
		// kill(pid, 0) succeeds on zombies. A postmaster killed with SIGKILL is
		// reparented to PID 1, and in containers PID 1 does not always reap.
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) {
				if s := st[i+2]; s == 'Z' || s == 'X' {
					return false
				}
			}
		}
	}
	return true
}

// isPostmasterOf reports whether pid is a live process serving pgdata. On
// Linux this is exact: every PostgreSQL process has the data directory as its
// working directory, so a pid reused by an unrelated process is told apart. On
// other systems a live pid is taken to be the postmaster, as PostgreSQL does.
func isPostmasterOf(pid int, pgdata string) bool {
	if !processAlive(pid) {
		return false
	}
	if runtime.GOOS != "linux" {
		return true
	}
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) // no permission to look: assume it is
	}
	return sameDir(cwd, pgdata)
}

func sameDir(a, b string) bool {
	if a == b {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// serverProcesses lists live processes whose working directory is pgdata:
// the backends and auxiliary processes of a (possibly dead) postmaster. Only
// Linux can tell; elsewhere it returns nil.
func serverProcesses(pgdata string) []int {
	if runtime.GOOS != "linux" {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	target, err := os.Stat(pgdata)
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil {
			continue
		}
		if fi, err := os.Stat(cwd); err == nil && os.SameFile(fi, target) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitOrphans waits for the leftover processes of a dead postmaster to exit.
// Backends notice the death of their postmaster and exit on their own within
// moments; while any is alive, its shared memory segment is attached and a new
// postmaster refuses to start ("pre-existing shared memory block is still in
// use"). Processes still there after grace are killed: their postmaster is gone
// and the new one runs crash recovery anyway.
func waitOrphans(ctx context.Context, pgdata string, grace time.Duration) error {
	deadline := time.Now().Add(grace)
	killed := false
	for {
		pids := serverProcesses(pgdata)
		if len(pids) == 0 {
			return nil
		}
		if !killed && time.Now().After(deadline) {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			killed = true
			deadline = time.Now().Add(grace)
		} else if killed && time.Now().After(deadline) {
			return fmt.Errorf("processes %v of a dead PostgreSQL server in %s did not exit after SIGKILL", pids, pgdata)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for the processes %v of a dead PostgreSQL server in %s to exit: %w", pids, pgdata, err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lockFile takes a flock on path (created if missing). Waiting is a poll with
// LOCK_NB so that ctx can end it.
func lockFile(ctx context.Context, path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	delay := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := sleepCtx(ctx, delay); err != nil {
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s (another process is starting or stopping this PostgreSQL cluster): %w", path, err)
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

func unlockFile(f *os.File) {
	if f != nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}

// account is the system user the server runs as when this process is root.
type account struct {
	name   string
	uid    int
	gid    int
	groups []uint32
}

func (a *account) credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: a.groups}
}

// serverAccount returns who runs the server: nil for this process's own user,
// or the postgres system user when running as root (PostgreSQL refuses root).
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("running as root, the embedded PostgreSQL must run as the %q system user, which does not exist (%w): install PostgreSQL from your distribution (apt-get install postgresql creates it), run appstored as a non-root user, or use --database-url / APPSTORE_DATABASE_URL", superuser, err)
	}
	a := &account{name: u.Username}
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	if a.uid == 0 {
		return nil, fmt.Errorf("the %q system user has uid 0; PostgreSQL refuses to run as root", superuser)
	}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.Atoi(g); err == nil {
				a.groups = append(a.groups, uint32(n))
			}
		}
	}
	return a, nil
}

// canTraverse reports whether acct can reach entries of dir, i.e. has search
// permission on dir and every ancestor. It reads mode bits only (no ACLs),
// which errs on the safe side: the cluster then goes to the external location.
func canTraverse(dir string, acct *account) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		var x bool
		switch {
		case int(st.Uid) == acct.uid:
			x = perm&0o100 != 0
		case acct.inGroup(int(st.Gid)):
			x = perm&0o010 != 0
		default:
			x = perm&0o001 != 0
		}
		if !x {
			return false
		}
		if p := filepath.Dir(d); p == d {
			return true
		}
	}
}

func (a *account) inGroup(gid int) bool {
	if a.gid == gid {
		return true
	}
	for _, g := range a.groups {
		if int(g) == gid {
			return true
		}
	}
	return false
}

// owner returns the uid owning path.
func owner(path string) (int, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("cannot read the owner of %s", path)
	}
	return int(st.Uid), nil
}
