package testenv

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	ctx := context.Background()
	var inner string
	t.Run("inner", func(t *testing.T) {
		inner = Postgres(t)
		conn, err := pgx.Connect(ctx, inner)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("new database has %d tables", n)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		// A connection left open must not stop the drop at cleanup.
		leak, err := pgx.Connect(ctx, inner)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { leak.Close(ctx) })
	})
	if t.Failed() {
		return
	}
	other := Postgres(t)
	if other == inner {
		t.Fatal("two calls returned the same database")
	}
	admin, err := sharedServer()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	cfg, err := pgx.ParseConfig(inner)
	if err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", cfg.Database).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", cfg.Database)
	}
	if !strings.HasPrefix(cfg.Database, dbPrefix) || !strings.Contains(cfg.Database, "testpostgres_inner") {
		t.Errorf("database name %q does not say whose it is", cfg.Database)
	}
}

func TestDBName(t *testing.T) {
	long := dbName("TestSomething/with a very long subtest name that goes on and on and on")
	if len(long) > 63 {
		t.Errorf("%q is longer than PostgreSQL's 63 bytes", long)
	}
	if a, b := dbName("x"), dbName("x"); a == b {
		t.Errorf("two names for one test are equal: %s", a)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@db:5432/postgres?sslmode=disable":      "postgres://u:p@db:5432/x?sslmode=disable",
		"postgres://postgres@/postgres?host=%2Ftmp%2Fs&port=1": "postgres://postgres@/x?host=%2Ftmp%2Fs&port=1",
		"host=/tmp dbname=postgres":                            "host=/tmp dbname=postgres dbname=x",
	} {
		got, err := withDatabase(in, "x")
		if err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
		if cfg, err := pgx.ParseConfig(got); err != nil || cfg.Database != "x" {
			t.Errorf("pgx reads %q as database %v (%v)", got, cfg, err)
		}
	}
}

// BenchmarkPostgres measures what a test pays for its database: create and
// drop.
func BenchmarkPostgres(b *testing.B) {
	admin, err := sharedServer()
	Require(b, "PostgreSQL", err)
	ctx := context.Background()
	for b.Loop() {
		name := dbName(b.Name())
		if err := createDB(ctx, admin, name); err != nil {
			b.Fatal(err)
		}
		if err := dropDB(ctx, admin, name); err != nil {
			b.Fatal(err)
		}
	}
}

func redisDo(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(req.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") {
		if line == "$-1" {
			return "(nil)", nil
		}
		v, err := r.ReadString('\n')
		return strings.TrimRight(v, "\r\n"), err
	}
	return line, nil
}

func TestRedis(t *testing.T) {
	r := StartRedis(t)
	if !strings.HasPrefix(r.URL(), "redis://127.0.0.1:") || !strings.HasSuffix(r.URL(), "/0") {
		t.Errorf("URL %q", r.URL())
	}
	if got, err := redisDo(t, r.Addr(), "SET", "k", "v"); err != nil || got != "+OK" {
		t.Fatalf("SET: %q %v", got, err)
	}
	if got, _ := redisDo(t, r.Addr(), "GET", "k"); got != "v" {
		t.Fatalf("GET: %q", got)
	}

	r.Stop()
	if _, err := redisDo(t, r.Addr(), "PING"); err == nil {
		t.Fatal("Redis still answers after Stop")
	}
	r.Start()
	if got, _ := redisDo(t, r.Addr(), "GET", "k"); got != "(nil)" {
		t.Errorf("after restart GET k = %q, want nothing (no persistence)", got)
	}
	r.Kill()
	if _, err := redisDo(t, r.Addr(), "PING"); err == nil {
		t.Fatal("Redis still answers after Kill")
	}
	r.Start()
	if got, err := redisDo(t, r.Addr(), "PING"); err != nil || got != "+PONG" {
		t.Errorf("PING after Kill and Start: %q %v", got, err)
	}

	if a, b := Redis(t), Redis(t); a == b {
		t.Errorf("two private servers share %s", a)
	}
}

func TestDocker(t *testing.T) {
	Docker(t)
	client, base, err := dockerHTTP()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/version: %s", resp.Status)
	}

	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	if err := PingDocker(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/docker.sock") {
		t.Errorf("ping of a missing engine: %v", err)
	}
	t.Setenv("DOCKER_HOST", "ssh://somewhere")
	if err := PingDocker(context.Background()); err == nil {
		t.Error("ssh:// accepted")
	}
}

// recordingTB records how Require ends a test instead of ending it.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper()                      {}
func (r *recordingTB) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recordingTB) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

func TestRequire(t *testing.T) {
	missing := errors.New("no such thing")

	t.Setenv("CI", "true")
	rec := &recordingTB{TB: t}
	Require(rec, "widget", missing)
	if rec.skip != "" || !strings.Contains(rec.fatal, "widget missing: no such thing") || !strings.Contains(rec.fatal, "make test") {
		t.Errorf("CI=true: fatal %q, skip %q", rec.fatal, rec.skip)
	}

	t.Setenv("CI", "")
	rec = &recordingTB{TB: t}
	Require(rec, "widget", missing)
	if rec.fatal != "" || !strings.Contains(rec.skip, "widget missing") {
		t.Errorf("locally: fatal %q, skip %q", rec.fatal, rec.skip)
	}

	rec = &recordingTB{TB: t}
	Require(rec, "widget", nil)
	if rec.fatal != "" || rec.skip != "" {
		t.Errorf("present dependency: fatal %q, skip %q", rec.fatal, rec.skip)
	}
}

func TestBinary(t *testing.T) {
	p := Binary(t, "./internal/testenv/testdata/hello")
	out, err := exec.Command(p).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "hello from ") {
		t.Fatalf("%s: %v: %s", p, err, out)
	}
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if again := Binary(t, "./internal/testenv/testdata/hello"); again != p {
		t.Errorf("second call built %s, first %s", again, p)
	}
	// Not built again: go build would have written the file anew.
	if after, err := os.Stat(p); err != nil || !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Errorf("second call rewrote %s: not cached (%v)", p, err)
	}

	rec := &recordingTB{TB: t}
	Binary(rec, "./internal/testenv/testdata/nonexistent")
	if !strings.Contains(rec.fatal, "nonexistent") {
		t.Errorf("building a missing package: %q", rec.fatal)
	}
}

func TestStaticBinary(t *testing.T) {
	src := `package main

import "fmt"

func main() { fmt.Println("static ok") }
`
	p := StaticBinary(t, src)
	if again := StaticBinary(t, src); again != p {
		t.Errorf("same source built twice: %s, %s", p, again)
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Fatal("binary has a dynamic loader: not static, it cannot run FROM scratch")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("binary links %v", libs)
	}
	out, err := exec.Command(p).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "static ok" {
		t.Fatalf("run: %v: %s", err, out)
	}
	if other := StaticBinary(t, strings.Replace(src, "static ok", "other", 1)); other == p {
		t.Error("different sources share a binary")
	}

	rec := &recordingTB{TB: t}
	StaticBinary(rec, "package main\nfunc main() { undefined() }\n")
	if !strings.Contains(rec.fatal, "undefined") {
		t.Errorf("a compile error is not reported: %q", rec.fatal)
	}
}

func TestModuleRoot(t *testing.T) {
	root := ModuleRoot(t)
	b, err := os.ReadFile(root + "/go.mod")
	if err != nil || !strings.Contains(string(b), "module github.com/appstore-dev/appstore") {
		t.Errorf("module root %s: %v", root, err)
	}
}
