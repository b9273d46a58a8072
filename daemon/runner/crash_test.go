package runner_test

import (
	"bytes"
	"context"
	"io"
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

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// appstored is the daemon binary, run by a test so that it can be killed.
type appstored struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	port string
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startAppstored(t *testing.T, args ...string) *appstored {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := &appstored{t: t, url: "http://" + addr, out: &lockedBuffer{}, done: make(chan struct{})}
	_, d.port, _ = net.SplitHostPort(addr)
	d.cmd = exec.Command(testenv.Binary(t, "./cmd/appstored"), append([]string{"--addr", addr, "--log-level", "debug"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(time.Minute):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("appstored output:\n%s", d.out)
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(d.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d
			}
		}
		select {
		case <-d.done:
			t.Fatalf("appstored exited: %v\n%s", d.cmd.ProcessState, d.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("appstored not up: %v\n%s", err, d.out)
		}
	}
}

func (d *appstored) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

func (d *appstored) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		d.t.Fatalf("appstored did not stop on SIGTERM:\n%s", d.out)
	}
}

// preview GETs path of the app slug through the daemon's preview host.
func (d *appstored) preview(slug, path string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.url+path, nil)
	req.Host = slug + ".localhost:" + d.port
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("preview %s%s: %v", slug, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestKill9ThenRestartAdoptsAndCleansUp kills appstored with launches
// running, changes the world while it is down (a container removed, an app
// exited, an orphan container, a launch that never got its container), and
// checks that the restarted daemon adopts what it can, records the truth
// about the rest and leaves no orphan; then that SIGTERM stops everything.
func TestKill9ThenRestartAdoptsAndCleansUp(t *testing.T) {
	t.Parallel()
	testenv.RequirePostgresBinaries(t)
	cli := runnertest.Docker(t)
	st, dbURL := storetest.NewWithURL(t)
	dataDir := t.TempDir()
	tag, imageID := runnertest.Image(t, cli, runnertest.ImageOptions{})
	for _, slug := range []string{"keep", "vanish", "quit", "late"} {
		runnertest.App(t, st, slug, tag, imageID, 0)
	}
	args := []string{"--database-url", dbURL, "--data-dir", dataDir}
	d1 := startAppstored(t, args...)
	idBytes, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnerID := strings.TrimSpace(string(idBytes))
	runnertest.CleanupContainers(t, cli, runnerID)

	ctx := context.Background()
	c1 := &appclient.Client{BaseURL: d1.url}
	launched := map[string]*catalog.Launch{}
	for _, slug := range []string{"keep", "vanish", "quit"} {
		l, err := c1.StartLaunch(ctx, slug, appclient.LaunchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if l, err = c1.WaitLaunch(ctx, l.ID, time.Minute); err != nil || l.Status != catalog.LaunchRunning {
			t.Fatalf("launch %s: %v %+v", slug, err, l)
		}
		launched[slug] = l
	}
	if code, body := d1.preview("keep", "/"); code != 200 || !strings.HasPrefix(body, "hello") {
		t.Fatalf("preview before the crash: %d %q", code, body)
	}

	d1.kill()

	// While appstored is down: a container disappears, an app exits, a
	// stray container with our labels appears, and a launch row exists
	// whose container was never created.
	if err := cli.ContainerRemove(ctx, launched["vanish"].ContainerID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(launched["quit"].InstanceURL + "/exit?code=4"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	waitFor(t, 20*time.Second, "the quitting app to exit", func() bool {
		ins, err := cli.ContainerInspect(ctx, launched["quit"].ContainerID)
		return err == nil && !ins.State.Running
	})
	orphan, err := cli.ContainerCreate(ctx, &container.Config{Image: imageID, Labels: map[string]string{
		runner.LabelManaged: "true", runner.LabelRunner: runnerID, runner.LabelLaunch: "999999", runner.LabelRepository: "keep",
	}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, orphan.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	lt, err := st.LaunchTarget(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	late, _, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: lt.RepositoryID, BuildID: lt.Build.ID, AppPort: 8080, Profile: "small", Runner: runnerID, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	d2 := startAppstored(t, args...)

	keep, err := st.Launch(ctx, launched["keep"].ID)
	if err != nil || keep.Status != catalog.LaunchRunning {
		t.Errorf("keep after restart: %v %+v, want the same launch running (adopted)", err, keep)
	}
	if code, body := d2.preview("keep", "/"); code != 200 || !strings.HasPrefix(body, "hello") {
		t.Errorf("preview of the adopted app: %d %q", code, body)
	}
	if ls, _ := st.ListLaunches(ctx, store.LaunchFilter{Repository: "keep"}); len(ls) != 1 {
		t.Errorf("keep has %d launches, want 1: the adopted one served the request", len(ls))
	}
	vanish, _ := st.Launch(ctx, launched["vanish"].ID)
	if vanish.Status != catalog.LaunchFailed || !strings.Contains(vanish.ErrorMessage, "disappeared") {
		t.Errorf("vanished container: %s %q", vanish.Status, vanish.ErrorMessage)
	}
	quit, _ := st.Launch(ctx, launched["quit"].ID)
	if quit.Status != catalog.LaunchFailed || quit.ExitCode == nil || *quit.ExitCode != 4 || !strings.Contains(quit.ErrorMessage, "exiting with 4 on request") {
		t.Errorf("app that exited while appstored was down: %s %v %q", quit.Status, quit.ExitCode, quit.ErrorMessage)
	}
	lateNow, _ := st.Launch(ctx, late.ID)
	if lateNow.Status != catalog.LaunchFailed || !strings.Contains(lateNow.ErrorMessage, "before the container was created") {
		t.Errorf("launch without a container: %s %q", lateNow.Status, lateNow.ErrorMessage)
	}
	cs := runnertest.Containers(t, cli, runnerID)
	if len(cs) != 1 || cs[0].ID != launched["keep"].ContainerID {
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID[:12]+" "+c.State+" "+c.Labels[runner.LabelLaunch])
		}
		t.Errorf("containers after restart: %v, want only keep's", ids)
	}

	d2.stop()
	if cs := runnertest.Containers(t, cli, runnerID); len(cs) != 0 {
		t.Errorf("%d containers after a clean shutdown", len(cs))
	}
	keep, _ = st.Launch(ctx, launched["keep"].ID)
	if keep.Status != catalog.LaunchStopped || !strings.Contains(keep.ErrorMessage, "shut down") {
		t.Errorf("keep after shutdown: %s %q", keep.Status, keep.ErrorMessage)
	}
}
