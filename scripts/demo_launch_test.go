package scripts

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestDemoBuildsAndLaunches runs `make demo` end to end with the hello
// example: it is compiled, registered, ingested and built on the real
// engine, launched, and its preview URL answers; Ctrl-C stops the app's
// container and appstored.
func TestDemoBuildsAndLaunches(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	cli := runnertest.Docker(t)
	_, err := exec.LookPath("git")
	testenv.Require(t, "git", err)
	root, data := demoRoot(t)
	// The hello example, as a directory of the demo's apps.
	if err := os.Mkdir(filepath.Join(root, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(testenv.ModuleRoot(t), "examples", "hello"), filepath.Join(root, "apps")).CombinedOutput(); err != nil {
		t.Fatalf("copy the hello example: %v %s", err, out)
	}
	// In the repository the examples compile as part of its module; alone
	// they need one of their own.
	writeScript(t, filepath.Join(root, "apps", "hello", "go.mod"), "module hello\n\ngo 1.22\n")
	addr := freeAddr(t)

	cmd := exec.Command("bash", filepath.Join(root, "scripts", "demo.sh"))
	cmd.Env = append(os.Environ(), "APPSTORE_DEMO_ADDR="+addr, "APPSTORE_DEMO_DATA="+data, "APPSTORE_DEMO_APPS="+filepath.Join(root, "apps"))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(done); pw.Close() }()
	// appstored runs in a session of its own: on a failure, Ctrl-C the
	// script so that it stops the daemon, as a user would.
	t.Cleanup(func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
		}
	})
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	running := regexp.MustCompile(`demo: hello is running at (http://hello\.localhost:\d+/)$`)
	url := ""
	timeout := time.After(5 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo.sh ended (%v) before it was up:\n%s", <-exited, out.String())
			}
			out.WriteString(l + "\n")
			if m := running.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
			if strings.Contains(l, "press Ctrl-C") {
				break wait
			}
		case <-timeout:
			t.Fatalf("demo.sh did not come up in 5 minutes:\n%s", out.String())
		}
	}
	if url == "" {
		t.Fatalf("the demo printed no preview URL:\n%s", out.String())
	}
	for _, want := range []string{"bin/appstore logs hello --app -f", "bin/appstore stop hello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo does not suggest %q:\n%s", want, out.String())
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Hello") {
		t.Errorf("%s: %d %q", url, resp.StatusCode, body)
	}
	id, err := os.ReadFile(filepath.Join(data, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnerID := strings.TrimSpace(string(id))
	runnertest.CleanupContainers(t, cli, runnerID)
	if cs := runnertest.Containers(t, cli, runnerID); len(cs) != 1 || cs[0].State != "running" {
		t.Errorf("containers while the demo runs: %+v, want hello's", cs)
	}

	// The engine is shared: the images the demo built go with the test,
	// once the demo (and the container using them) has stopped.
	c := &client.Client{BaseURL: "http://" + addr}
	if page, err := c.Builds(context.Background(), "hello", client.ListBuildsOptions{}); err == nil {
		for _, b := range page.Builds {
			if id := b.ImageID; id != "" {
				t.Cleanup(func() { _, _ = cli.ImageRemove(context.Background(), id, image.RemoveOptions{Force: true}) })
			}
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for l := range lines {
			rest.WriteString(l + "\n")
		}
	}()
	select {
	case err := <-exited:
		<-drained
		if err != nil {
			t.Fatalf("demo.sh after Ctrl-C: %v\n%s%s", err, out.String(), rest.String())
		}
		if !strings.Contains(rest.String(), "stopping appstored and the apps it launched") {
			t.Errorf("after Ctrl-C: %s", rest.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("demo.sh did not stop after Ctrl-C")
	}
	if cs := runnertest.Containers(t, cli, runnerID); len(cs) != 0 {
		t.Errorf("%d containers left after Ctrl-C", len(cs))
	}
}
