package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dockerclient "github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// proc is one appstored process of a test: the real binary, started,
// killed and restarted on the same address and data directory. Its output
// (JSON log lines) of every incarnation is kept, tagged with the pid.
type proc struct {
	t    *testing.T
	name string
	bin  string
	addr string
	args []string
	env  []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs bytes.Buffer
	pids []int
}

// newProc prepares (but does not start) appstored with args on a free
// loopback address. env is added to the test's environment. The process is
// stopped (SIGTERM, then SIGKILL) when the test ends.
func newProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, bin: testenv.Binary(t, "./cmd/appstored"), addr: freeAddr(t), args: args, env: env}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output (last 30 KB):\n%s", p.name, p.tail(30<<10))
		}
	})
	return p
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// URL is the process's root URL.
func (p *proc) URL() string { return "http://" + p.addr }

// Client is a client of the process's API.
func (p *proc) Client() *client.Client { return &client.Client{BaseURL: p.URL()} }

// start starts the process and waits until /readyz answers (200: ok or
// degraded) within a minute.
func (p *proc) start() {
	p.t.Helper()
	p.startNoWait()
	p.waitReady(time.Minute)
}

func (p *proc) startNoWait() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.t.Fatalf("%s is already running", p.name)
	}
	args := append([]string{"--addr", p.addr, "--log-format", "json", "--log-level", "debug"}, p.args...)
	cmd := exec.Command(p.bin, args...)
	cmd.Env = append(os.Environ(), p.env...)
	w := &lockedWriter{mu: &p.mu, b: &p.logs}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	p.pids = append(p.pids, cmd.Process.Pid)
	fmt.Fprintf(&p.logs, "{\"msg\":\"--- test: %s started, pid %d\"}\n", p.name, cmd.Process.Pid)
}

func (p *proc) waitReady(within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body, err := get(p.URL() + "/readyz")
		if err == nil && code == http.StatusOK {
			return
		}
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
			p.t.Fatalf("%s exited before it was ready:\n%s", p.name, p.tail(8<<10))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready after %s: %d %s %v\n%s", p.name, within, code, body, err, p.tail(8<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pid is the pid of the running incarnation (0 when stopped).
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// kill sends SIGKILL, as a crash or the OOM killer would, and waits.
func (p *proc) kill() { p.signal(syscall.SIGKILL, 0) }

// stop sends SIGTERM and waits for a clean exit (SIGKILL after 40 s).
func (p *proc) stop() { p.signal(syscall.SIGTERM, 40*time.Second) }

func (p *proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-done:
		case <-time.After(grace):
			p.t.Errorf("%s did not stop within %s of %s; killing it", p.name, grace, sig)
			_ = cmd.Process.Kill()
			<-done
		}
	} else {
		<-done
	}
	p.mu.Lock()
	p.cmd, p.done = nil, nil
	fmt.Fprintf(&p.logs, "{\"msg\":\"--- test: %s pid %d ended by %s\"}\n", p.name, cmd.Process.Pid, sig)
	p.mu.Unlock()
}

// output is every line written so far, all incarnations.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) tail(n int) string {
	s := p.output()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// logLines are the JSON log lines whose msg is msg.
func (p *proc) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.output()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(msg)) {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func get(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), nil
}

// readyz is the process's /readyz answer.
func readyz(t *testing.T, base string) (int, client.Health) {
	t.Helper()
	code, body, err := get(base + "/readyz")
	if err != nil {
		return 0, client.Health{Status: "unreachable: " + err.Error()}
	}
	var h client.Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("readyz %d %q: %v", code, body, err)
	}
	return code, h
}

// eventually polls cond every 50 ms until it holds, and fails the test
// with cond's last explanation after within.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		ok, why := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openStore opens the test database for the test's own queries.
func openStore(t testing.TB, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// appSource is the program of the test apps: a web server on :8080, or,
// as "app sleep 2s", a build step that takes a while, or, as "app spam N",
// one that prints N lines.
const appSource = `package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "sleep" {
		d, _ := time.ParseDuration(os.Args[2])
		fmt.Println("build step sleeping", d)
		time.Sleep(d)
		return
	}
	if len(os.Args) > 2 && os.Args[1] == "spam" {
		n, _ := strconv.Atoi(os.Args[2])
		for i := 0; i < n; i++ {
			fmt.Printf("line %d of a build step that says a lot %s\n", i, strings.Repeat("-", 60))
		}
		return
	}
	name := os.Getenv("APP_NAME")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	fmt.Println("listening on 8080")
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// appFiles are the files of a test app repository: the static binary and
// a Dockerfile FROM scratch whose RUN step sleeps for buildSleep (e.g.
// "2s"; empty: no RUN step), EXPOSE 8080.
func appFiles(t testing.TB, name, buildSleep string) []gitserver.File {
	t.Helper()
	testenv.Docker(t)
	gitserver.RequireGit(t)
	bin, err := os.ReadFile(testenv.StaticBinary(t, appSource))
	if err != nil {
		t.Fatal(err)
	}
	var df strings.Builder
	df.WriteString("FROM scratch\nCOPY app /app\n")
	if buildSleep != "" {
		fmt.Fprintf(&df, "RUN [\"/app\", \"sleep\", %q]\n", buildSleep)
	}
	fmt.Fprintf(&df, "ENV APP_NAME=%s\nEXPOSE 8080\nENTRYPOINT [\"/app\"]\n", name)
	return []gitserver.File{
		{Name: "app", Content: string(bin), Mode: 0o755},
		{Name: "Dockerfile", Content: df.String()},
		{Name: "README.md", Content: "# " + name + "\n\nA test app of the reliability tests.\n"},
	}
}

// docker is a client of the test engine.
func docker(t testing.TB) *dockerclient.Client {
	t.Helper()
	testenv.Docker(t)
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// runnerID reads the runner id appstored keeps in its data directory.
func runnerID(t testing.TB, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatalf("runner id: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// containers lists the containers (any state) of the runner.
func containers(t testing.TB, cli *dockerclient.Client, runnerID string) []container.Summary {
	t.Helper()
	cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "appstore.managed=true"), filters.Arg("label", runner.LabelRunner+"="+runnerID))})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// cleanupDocker removes, when the test ends, whatever containers the
// runner (read from dataDir then) left on the shared engine; the catalog's
// images go with its database (testenv.Postgres).
func cleanupDocker(t testing.TB, dataDir string) {
	t.Helper()
	cli := docker(t)
	t.Cleanup(func() {
		ctx := context.Background()
		if b, err := os.ReadFile(filepath.Join(dataDir, "runner-id")); err == nil {
			for _, c := range containers(t, cli, strings.TrimSpace(string(b))) {
				_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			}
		}
	})
}
