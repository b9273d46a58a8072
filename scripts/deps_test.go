// Package scripts holds the tests of the shell scripts beside them: what
// test-deps.sh does about the Docker engine and missing packages, run against
// stand-in programs on PATH so that the machine's real engine is not touched.
package scripts

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeTools writes stand-ins for everything test-deps.sh looks for, so that it
// finds nothing missing (and installs nothing), plus a docker client whose
// `info` succeeds once $FAKE_STATE/ready exists.
func fakeTools(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"go", "git", "tmux", "redis-server", "chromium", "initdb", "pg_ctl", "postgres"} {
		writeScript(t, filepath.Join(dir, name), "#!/bin/sh\nexit 0\n")
	}
	writeScript(t, filepath.Join(dir, "docker"), `#!/bin/sh
[ "$1" = info ] && [ -f "$FAKE_STATE/ready" ]
`)
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeDockerd writes a dockerd that records each start, writes its pid file,
// and becomes ready after a moment (or fails when failing is set). It keeps
// running as a shell loop so that its process name stays "dockerd".
func fakeDockerd(t *testing.T, dir string, failing bool) {
	t.Helper()
	body := `#!/bin/sh
echo start >>"$FAKE_STATE/starts"
echo $$ >"$DOCKER_PIDFILE"
sleep 0.3
touch "$FAKE_STATE/ready"
while :; do sleep 1; done
`
	if failing {
		body = "#!/bin/sh\necho 'boom: cannot create network controller' >&2\nexit 1\n"
	}
	writeScript(t, filepath.Join(dir, "dockerd"), body)
}

type env struct {
	bin, state, pidfile, cpidfile, logfile string
}

func newEnv(t *testing.T) env {
	t.Helper()
	root := t.TempDir()
	e := env{
		bin:      filepath.Join(root, "bin"),
		state:    filepath.Join(root, "state"),
		pidfile:  filepath.Join(root, "docker.pid"),
		cpidfile: filepath.Join(root, "containerd.pid"),
		logfile:  filepath.Join(root, "dockerd.log"),
	}
	for _, d := range []string{e.bin, e.state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fakeTools(t, e.bin)
	// Whatever dockerd stand-in ends up running, end it with the test.
	t.Cleanup(func() {
		if b, err := os.ReadFile(e.pidfile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(comm)) == "dockerd" {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	return e
}

func (e env) run(t *testing.T, extra ...string) (string, error) {
	t.Helper()
	script, err := filepath.Abs("test-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Env = append([]string{
		"PATH=" + e.bin + ":/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + os.Getenv("HOME"),
		"FAKE_STATE=" + e.state,
		"DOCKER_PIDFILE=" + e.pidfile,
		"CONTAINERD_PIDFILE=" + e.cpidfile,
		"DOCKERD_LOG=" + e.logfile,
		"DOCKERD_WAIT=20",
	}, extra...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("test-deps.sh starts dockerd only as root")
	}
}

func TestStartsDockerdDespiteStalePidFiles(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	fakeDockerd(t, e.bin, false)
	stale := strconv.Itoa(deadPid(t))
	writeScript(t, e.pidfile, stale+"\n")
	writeScript(t, e.cpidfile, stale+"\n")

	out, err := e.run(t)
	if err != nil {
		t.Fatalf("test-deps.sh: %v\n%s", err, out)
	}
	if !strings.Contains(out, "removing stale "+e.pidfile) || !strings.Contains(out, "removing stale "+e.cpidfile) {
		t.Errorf("stale pid files not reported:\n%s", out)
	}
	if _, err := os.Stat(e.cpidfile); !os.IsNotExist(err) {
		t.Errorf("stale containerd pid file left: %v", err)
	}
	b, _ := os.ReadFile(e.pidfile)
	if strings.TrimSpace(string(b)) == stale {
		t.Error("the stale docker.pid is still there: dockerd did not start")
	}
	if !strings.Contains(out, "Docker engine ready") {
		t.Errorf("output:\n%s", out)
	}

	// A second run finds the engine up and starts nothing.
	out, err = e.run(t)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	starts, _ := os.ReadFile(filepath.Join(e.state, "starts"))
	if n := strings.Count(string(starts), "start"); n != 1 {
		t.Errorf("dockerd started %d times over two runs, want 1\n%s", n, out)
	}
}

func TestWaitsForARunningDockerd(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	fakeDockerd(t, e.bin, false)
	// An engine that is starting: alive, not answering yet.
	cmd := exec.Command(filepath.Join(e.bin, "dockerd"))
	cmd.Env = append(os.Environ(), "FAKE_STATE="+e.state, "DOCKER_PIDFILE="+e.pidfile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(e.pidfile); strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stand-in dockerd wrote no pid file")
		}
		time.Sleep(10 * time.Millisecond)
	}

	out, err := e.run(t)
	if err != nil {
		t.Fatalf("test-deps.sh: %v\n%s", err, out)
	}
	if !strings.Contains(out, "does not answer yet; waiting") {
		t.Errorf("output:\n%s", out)
	}
	starts, _ := os.ReadFile(filepath.Join(e.state, "starts"))
	if n := strings.Count(string(starts), "start"); n != 1 {
		t.Errorf("a second dockerd was started beside the running one (%d starts)", n)
	}
}

func TestReportsDockerdFailure(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	fakeDockerd(t, e.bin, true)
	out, err := e.run(t)
	if err == nil {
		t.Fatalf("test-deps.sh succeeded although dockerd failed:\n%s", out)
	}
	if !strings.Contains(out, "dockerd exited") || !strings.Contains(out, "boom: cannot create network controller") {
		t.Errorf("the failure and the log tail are not shown:\n%s", out)
	}
}

// TestNonRootReportsMissing runs the script as an ordinary user without tmux
// or a Docker engine: it must say what is missing and how to install it, fail
// with CI=true and go on without.
func TestNonRootReportsMissing(t *testing.T) {
	requireRoot(t) // to become another user
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "deps-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("test-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "test-deps.sh")
	writeScript(t, script, string(src))
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fakeTools(t, bin)
	if err := os.Remove(filepath.Join(bin, "tmux")); err != nil {
		t.Fatal(err)
	}
	// PATH is only this directory, so that the machine's own tmux is not
	// found: give the script the few utilities it uses.
	for _, tool := range []string{"id", "cat", "timeout", "tail", "sleep", "rm"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}

	for _, ci := range []string{"true", ""} {
		cmd := exec.Command("/bin/bash", script)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + bin, "HOME=" + dir, "FAKE_STATE=" + dir, "CI=" + ci,
			"DOCKER_HOST=unix://" + filepath.Join(dir, "none.sock")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		if !strings.Contains(string(out), "missing: tmux") || !strings.Contains(string(out), "apt-get install -y tmux") {
			t.Errorf("CI=%q: missing tmux not reported with its install command:\n%s", ci, out)
		}
		if ci == "true" && err == nil {
			t.Errorf("CI=true: exit 0 although tmux is missing:\n%s", out)
		}
		if ci == "" {
			if err != nil {
				t.Errorf("locally: %v (missing things only skip tests)\n%s", err, out)
			}
			if !strings.Contains(string(out), "Docker engine is not reachable") {
				t.Errorf("locally: the missing engine is not reported:\n%s", out)
			}
		}
	}
}
