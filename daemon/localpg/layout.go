package localpg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// externalRoot holds the clusters that older versions made, as root, for data
// directories the postgres user cannot reach (now such a cluster lives in its
// data directory, reached through an open directory: see serverPath). They
// are still found through the data directory's symlink, and pruned once
// their temporary data directory is gone.
const externalRoot = "/var/lib/appstore/pg"

// maxSocketPath bounds the length of the socket file's path. sun_path holds 108
// bytes on Linux and 104 on macOS, including the terminating NUL.
const maxSocketPath = 103

// layout is where the files of the cluster of one data directory live.
type layout struct {
	dataDir  string // absolute, symlinks resolved
	link     string // dataDir/postgres: the home itself, or a symlink to it
	home     string // the cluster home
	external bool   // home lives under externalRoot (made by older versions)
	// viaFD: the server's user cannot reach home by its path (a directory
	// above the data directory is not searchable by it, e.g. ~root). The
	// server programs then get home as an open directory, file descriptor
	// 3, and reach everything in it as /proc/self/fd/3/… (see serverPath).
	viaFD     bool
	pgdata    string // home/data
	socketDir string // home/run, or a short directory in the temp dir
	logFile   string // home/postgres.log
	startLock string // dataDir/postgres.lock
	useLock   string // dataDir/postgres.use.lock
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// locate works out the layout of dataDir's cluster without changing anything.
// acct is who runs the server (nil: this process's user).
func locate(dataDir string, acct *account) (layout, error) {
	l := layout{
		dataDir:   dataDir,
		link:      filepath.Join(dataDir, "postgres"),
		startLock: filepath.Join(dataDir, "postgres.lock"),
		useLock:   filepath.Join(dataDir, "postgres.use.lock"),
	}
	fi, err := os.Lstat(l.link)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(l.link)
		if err != nil {
			return l, err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dataDir, target)
		}
		l.home, l.external = target, true
	case err == nil && fi.IsDir():
		l.home = l.link
		l.viaFD = acct != nil && !canTraverse(dataDir, acct)
	case err == nil:
		return l, fmt.Errorf("%s exists but is neither a directory nor a symlink; move it away so that the embedded PostgreSQL cluster can live there", l.link)
	case errors.Is(err, fs.ErrNotExist):
		// Inside the data directory, always: removing the directory
		// removes the cluster.
		l.home = l.link
		l.viaFD = acct != nil && !canTraverse(dataDir, acct)
	default:
		return l, err
	}
	l.pgdata = filepath.Join(l.home, "data")
	l.logFile = filepath.Join(l.home, "postgres.log")
	l.socketDir = filepath.Join(l.home, "run")
	if len(socketPath(l.socketDir, defaultPort)) > maxSocketPath {
		// A deep data directory: the socket goes to a short private directory.
		l.socketDir = filepath.Join(os.TempDir(), "appstore-pg-"+hashOf(dataDir)[:12])
		if len(socketPath(l.socketDir, defaultPort)) > maxSocketPath {
			l.socketDir = filepath.Join("/tmp", "appstore-pg-"+hashOf(dataDir)[:12])
		}
	}
	return l, nil
}

// serverFD is the file descriptor of home in the server programs when
// viaFD.
const serverFD = 3

// serverPath is how the server's programs reach p, a path under home: by
// its path, or through the open home directory when they cannot.
func (l *layout) serverPath(p string) string {
	if !l.viaFD {
		return p
	}
	rel, err := filepath.Rel(l.home, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return p
	}
	return filepath.Join("/proc/self/fd", strconv.Itoa(serverFD), rel)
}

// hostPath is the inverse of serverPath: where a path the server reported
// (postmaster.pid) is for this process.
func (l *layout) hostPath(p string) string {
	prefix := filepath.Join("/proc/self/fd", strconv.Itoa(serverFD))
	if !l.viaFD || (p != prefix && !strings.HasPrefix(p, prefix+"/")) {
		return p
	}
	return filepath.Join(l.home, strings.TrimPrefix(p, prefix))
}

// create makes the directories of the layout, owned by acct.
func (l *layout) create(acct *account) error {
	if l.external {
		// Parents must be searchable by postgres; they are root's own directories.
		for _, d := range []string{filepath.Dir(externalRoot), externalRoot} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("create %s for the embedded PostgreSQL cluster: %w", d, err)
			}
			if err := os.Chmod(d, 0o755); err != nil {
				return err
			}
		}
	}
	if err := ensureDir(l.home, acct); err != nil {
		return err
	}
	if l.external {
		if fi, err := os.Lstat(l.link); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(l.home, l.link); err != nil {
				return fmt.Errorf("link the data directory to its PostgreSQL cluster: %w", err)
			}
		} else if err != nil {
			return err
		} else if fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s exists and is not a symlink to %s", l.link, l.home)
		}
		// For people looking at externalRoot: whose cluster is this?
		if err := os.WriteFile(filepath.Join(l.home, "datadir"), []byte(l.dataDir+"\n"), 0o644); err != nil {
			return err
		}
	}
	return ensureDir(l.socketDir, acct)
}

// ensureDir creates dir with mode 0700 owned by acct (or by this process's
// user), or checks that an existing dir is such a directory: the socket
// directory in particular must not be someone else's, since whoever can reach
// the socket is a superuser of the cluster.
func ensureDir(dir string, acct *account) error {
	wantUID := os.Geteuid()
	if acct != nil {
		wantUID = acct.uid
	}
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
		if acct != nil {
			return os.Chown(dir, acct.uid, acct.gid)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s for the embedded PostgreSQL cluster: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory; move it away", dir)
	}
	uid, err := owner(dir)
	if err != nil {
		return err
	}
	if uid != wantUID {
		return fmt.Errorf("%s is owned by uid %d, but the embedded PostgreSQL runs as uid %d: remove it (or chown it) and start again", dir, uid, wantUID)
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// readPGVersion returns the major version recorded in pgdata/PG_VERSION, or 0
// when there is no complete cluster.
func readPGVersion(pgdata string) (int, error) {
	b, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 10 {
		return 0, fmt.Errorf("%s/PG_VERSION says %q: that PostgreSQL version is not supported (10 or newer is); move the cluster away to start afresh", pgdata, s)
	}
	return n, nil
}

var pruneOnce sync.Once

// pruneExternal removes external cluster homes whose data directory was a
// temporary directory that no longer exists: the clusters of finished tests
// that did not call Remove (t.TempDir deletes the data directory, not the home
// under externalRoot). Nothing can reach such a cluster any more, so a server
// still running in it is killed. Homes of other data directories are never
// touched, even when those are missing: they may be on a disk not mounted yet.
// It runs once per process.
func pruneExternal(log *slog.Logger) {
	pruneOnce.Do(func() {
		ents, err := os.ReadDir(externalRoot)
		if err != nil {
			return
		}
		tmp := filepath.Clean(os.TempDir()) + string(filepath.Separator)
		for _, e := range ents {
			home := filepath.Join(externalRoot, e.Name())
			b, err := os.ReadFile(filepath.Join(home, "datadir"))
			if err != nil {
				continue
			}
			dataDir := strings.TrimSpace(string(b))
			if !strings.HasPrefix(dataDir, tmp) && !strings.HasPrefix(dataDir, "/tmp/") {
				continue
			}
			if _, err := os.Lstat(dataDir); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
			pgdata := filepath.Join(home, "data")
			if pf, err := readPidFile(pgdata); err == nil && isPostmasterOf(pf.pid, pgdata) {
				_ = syscall.Kill(pf.pid, syscall.SIGKILL)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = waitOrphans(ctx, pgdata, 3*time.Second)
			cancel()
			if err != nil {
				continue
			}
			log.Info("removing the PostgreSQL cluster of a deleted temporary data directory", "home", home, "data_dir", dataDir)
			_ = os.RemoveAll(home)
		}
	})
}
