//go:build stress

package reliability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// dockerdPidFile is where dockerd (as make test starts it) writes its pid.
const dockerdPidFile = "/var/run/docker.pid"

// runningDockerd is the machine's dockerd, which the test stops and starts
// again with the same command line.
type runningDockerd struct {
	pid  int
	argv []string
	log  string
}

// machineDockerd finds the running dockerd. Restarting it needs root and
// its pid file; with CI=true anything else fails the test.
func machineDockerd(t *testing.T) *runningDockerd {
	t.Helper()
	b, err := os.ReadFile(dockerdPidFile)
	if err != nil || os.Geteuid() != 0 {
		testenv.Require(t, "a dockerd this test may restart (root, "+dockerdPidFile+")", fmt.Errorf("euid %d: %v", os.Geteuid(), err))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", dockerdPidFile, err)
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		t.Fatalf("dockerd pid %d: %v", pid, err)
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if filepath.Base(argv[0]) != "dockerd" {
		t.Fatalf("pid %d of %s runs %q, not dockerd", pid, dockerdPidFile, argv)
	}
	d := &runningDockerd{pid: pid, argv: argv, log: filepath.Join(os.TempDir(), "dockerd-restarted-by-test.log")}
	// Whatever happens, the engine is there again for the tests after
	// this one.
	t.Cleanup(func() {
		if !d.alive() {
			d.start(t)
		}
	})
	return d
}

func (d *runningDockerd) alive() bool {
	return d.pid > 0 && syscall.Kill(d.pid, 0) == nil
}

// stop ends dockerd as systemd would (SIGTERM) and waits for it to exit;
// without live-restore, its containers stop with it.
func (d *runningDockerd) stop(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(d.pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop dockerd: %v", err)
	}
	eventually(t, time.Minute, "dockerd to exit", func() (bool, string) {
		return !d.alive(), "pid " + strconv.Itoa(d.pid) + " still runs"
	})
}

// start runs dockerd again with its old command line, in its own session
// (it outlives the test), and waits until it answers.
func (d *runningDockerd) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	d.pid = cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap it if it exits while the test runs
	eventually(t, time.Minute, "dockerd to answer again", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := testenv.PingDocker(ctx); err != nil {
			b, _ := os.ReadFile(d.log)
			return false, err.Error() + "; log: " + string(lastLines(b, 5))
		}
		return true, ""
	})
}

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	return bytes.Join(lines[max(0, len(lines)-n):], []byte("\n"))
}

// TestDockerdRestart restarts the real Docker engine under a running
// appstored with a launched app: what TestDockerEngineOutage simulates with
// a socket proxy, plus what only a real restart does, its containers
// stopping with it. While the engine is away appstored answers (degraded,
// search works); within 5 s of the engine's return it is ready again; the
// launch whose container died is recorded as ended, not left running; a
// build queued during the outage runs; a new launch works; nothing is
// orphaned. Only in make stress: it stops the engine every other test
// shares.
func TestDockerdRestart(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	engine := machineDockerd(t)
	o := startBeforeOutage(t, nil)
	p, c, st, dataDir, a, before, first := o.p, o.c, o.st, o.dataDir, o.a, o.app, o.launch
	ctx := context.Background()
	// The files of an app registered during the outage (making them asks
	// the engine whether it runs).
	duringFiles := appFiles(t, "during", "")

	engine.stop(t)
	o.awaitDegraded(t)
	repo := gitserver.NewRepoFiles(t, "during", duringFiles)
	a.git.Add(repo)
	r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: a.git.URL(repo)})
	if err != nil {
		t.Fatalf("register during the outage: %v", err)
	}
	a.led.repo(r.Slug)
	during := r.Slug
	waiting := latestBuild(t, c, during)

	engine.start(t)
	back := time.Now()
	ready := o.awaitReady(t)
	// The container stopped with the engine: its launch must end, with
	// the reason, rather than stay "running" on a dead container.
	var ended time.Duration
	eventually(t, 30*time.Second, "the launch whose container stopped with dockerd to end", func() (bool, string) {
		l, err := c.Launch(ctx, first.ID)
		if err != nil {
			return false, err.Error()
		}
		ended = time.Since(back)
		return l.Status.Terminal(), string(l.Status) + " " + l.ErrorMessage
	})
	t.Logf("dockerd back: /readyz ok after %s, the dead launch recorded ended %s after", ready.Round(time.Millisecond), ended.Round(time.Millisecond))
	if b := buildEnded(t, c, waiting.ID, 2*time.Minute); b.Status != "succeeded" {
		t.Errorf("the build queued while dockerd was stopped: %+v", b)
	}
	launchRunning(t, c, a.led, during)
	launchRunning(t, c, a.led, before)
	awaitSettled(t, st, time.Minute)
	checkFinalState(t, st, docker(t), runnerID(t, dataDir), p.URL(), a.led)
}
