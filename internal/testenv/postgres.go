package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/daemon/localpg"
)

// dbPrefix starts the name of every database Postgres creates, so that the
// databases of test binaries that died can be found and dropped.
const dbPrefix = "apptest_"

var pgServer struct {
	once     sync.Once
	adminURL string // connection string to a maintenance database
	external bool   // APPSTORE_TEST_DATABASE_URL
	cluster  *localpg.Cluster
	err      error
}

var dbSeq atomic.Int64

var pgBinaries struct {
	once sync.Once
	err  error
}

// RequirePostgresBinaries stops the test (see Require) when no PostgreSQL
// server binaries are installed, for tests that start an embedded cluster
// themselves (for example through appstored's default).
func RequirePostgresBinaries(t testing.TB) {
	t.Helper()
	pgBinaries.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _, pgBinaries.err = localpg.FindInstallation(ctx, "")
	})
	Require(t, "PostgreSQL", pgBinaries.err)
}

// Postgres returns the URL of a new, empty database that is dropped when the
// test ends, with the images its catalog built (RemoveCatalogImages). The database lives on the server named by
// APPSTORE_TEST_DATABASE_URL, or else on a shared embedded cluster that the
// first caller starts (under APPSTORE_TEST_PGDIR, default
// $TMPDIR/appstore-testpg-<uid>) and that stays up for later test binaries and
// runs: parallel package binaries share it safely (localpg serialises their
// starts with a file lock). Without APPSTORE_TEST_PGDIR it lives in /dev/shm
// when that is a roomy tmpfs, else in $TMPDIR.
func Postgres(t testing.TB) string {
	t.Helper()
	admin, err := sharedServer()
	if errors.Is(err, localpg.ErrNotInstalled) {
		Require(t, "PostgreSQL", err)
	}
	if err != nil {
		t.Fatalf("test PostgreSQL: %v", err)
	}
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createDB(ctx, admin, name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDB(ctx, admin, name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the drop, so it runs before it: the images a
	// daemon on this database built go with the database.
	RemoveCatalogImages(t, u)
	return u
}

var nameJunk = regexp.MustCompile(`[^a-z0-9]+`)

// dbName is unique per test binary (pid) and call (sequence), and carries the
// test's name to make a leftover database recognisable.
func dbName(testName string) string {
	n := fmt.Sprintf("%s%d_%d_%s", dbPrefix, os.Getpid(), dbSeq.Add(1), nameJunk.ReplaceAllString(strings.ToLower(testName), "_"))
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.TrimRight(n, "_")
}

// sharedServer returns the admin URL of the test server, starting the shared
// embedded cluster on first use.
func sharedServer() (string, error) {
	pgServer.once.Do(func() {
		if u := os.Getenv("APPSTORE_TEST_DATABASE_URL"); u != "" {
			pgServer.adminURL, pgServer.external = u, true
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := adminExec(ctx, u, "SELECT 1"); err != nil {
				pgServer.err = fmt.Errorf("APPSTORE_TEST_DATABASE_URL: %w", err)
			}
			return
		}
		pgServer.adminURL, pgServer.err = startShared()
	})
	return pgServer.adminURL, pgServer.err
}

// sharedDir is the data directory of the shared test cluster. It prefers
// /dev/shm: on ext4, CREATE DATABASE spends most of its time in the kernel's
// inode allocator (a test database is some 300 files, and tests create and
// drop many), about 300 ms per database against 15 ms on tmpfs.
func sharedDir() string {
	if d := os.Getenv("APPSTORE_TEST_PGDIR"); d != "" {
		return d
	}
	name := "appstore-testpg-" + strconv.Itoa(os.Geteuid())
	if roomyTmpfs("/dev/shm") {
		return filepath.Join("/dev/shm", name)
	}
	return filepath.Join(os.TempDir(), name)
}

// roomyTmpfs reports whether dir is a writable tmpfs with room for a cluster
// (containers often have a 64 MB /dev/shm).
func roomyTmpfs(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	const tmpfsMagic = 0x01021994
	if runtime.GOOS != "linux" || int64(st.Type) != tmpfsMagic {
		return false
	}
	return syscall.Access(dir, 2 /* W_OK */) == nil && uint64(st.Bavail)*uint64(st.Bsize) >= 2<<30
}

func startShared() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := sharedDir()
	// Searchable by others (0711) so that, when we are root, the postgres user
	// can reach it and the cluster lives in it (on tmpfs) rather than under
	// /var/lib/appstore/pg.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	_ = os.Chmod(dir, 0o711)
	opts := localpg.Options{
		DataDir: dir,
		NoSync:  true,
		// Bounded WAL: test databases come and go by the hundred, and on tmpfs
		// the WAL is memory.
		Settings: map[string]string{"max_wal_size": "256MB", "min_wal_size": "64MB"},
	}
	c, err := localpg.Start(ctx, opts)
	if err != nil && !errors.Is(err, localpg.ErrNotInstalled) {
		// A throwaway cluster without fsync may not survive a machine crash:
		// start afresh rather than fail every test.
		if rerr := localpg.Remove(ctx, opts); rerr != nil {
			return "", fmt.Errorf("%w (and removing the cluster to start afresh failed: %v)", err, rerr)
		}
		c, err = localpg.Start(ctx, opts)
	}
	if err != nil {
		return "", err
	}
	// Never stopped: the cluster serves later test binaries too. Our hold on it
	// ends with this process.
	pgServer.cluster = c
	admin := c.URL("postgres")
	dropLeftovers(ctx, admin)
	return admin, nil
}

// dropLeftovers drops the databases of test binaries that died before their
// cleanup ran (killed, or timed out).
func dropLeftovers(ctx context.Context, admin string) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", dbPrefix)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(n, dbPrefix), "_")
		if pid, err := strconv.Atoi(pidStr); err == nil && !pidAlive(pid) {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
		}
	}
}

func createDB(ctx context.Context, admin, name string) error {
	// template0: nothing a test or a previous run added to template1 leaks in.
	return adminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0")
}

func dropDB(ctx context.Context, admin, name string) error {
	// FORCE ends connections a test left open (a pool closed after us).
	return adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns connection string s with its database replaced by name.
// It accepts URLs (postgres://…) and keyword/value strings (host=… dbname=…).
func withDatabase(s, name string) (string, error) {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("parse database URL: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		q := u.Query()
		if q.Has("dbname") {
			q.Set("dbname", name)
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	// In keyword/value form a later keyword wins.
	return s + " dbname=" + name, nil
}
