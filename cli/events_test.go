package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// eventsDaemon runs appstored (API only) in process on a fresh database.
func eventsDaemon(t *testing.T) *daemon.Daemon {
	t.Helper()
	return daemontest.Start(t, daemon.Config{Roles: []string{daemon.RoleAPI}})
}

// lines splits what was written to b into lines.
func lines(b *testenv.LockedBuffer) []string {
	s := strings.TrimSuffix(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// following runs the CLI in process until the test cancels it, the way a
// person runs "appstore events" until Ctrl-C.
type following struct {
	out, errOut *testenv.LockedBuffer
	cancel      context.CancelFunc
	done        chan int
}

func follow(t *testing.T, url string, args ...string) *following {
	t.Helper()
	f := &following{out: &testenv.LockedBuffer{}, errOut: &testenv.LockedBuffer{}, done: make(chan int, 1)}
	ios := &cli.IOStreams{In: strings.NewReader(""), Out: f.out, ErrOut: f.errOut}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() {
		f.done <- cli.Main(ctx, cli.NewFactory(ios, func(k string) string {
			if k == cli.EnvURL {
				return url
			}
			return ""
		}), args)
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	return f
}

// waitLines waits until the command printed n lines.
func (f *following) waitLines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(lines(f.out)) < n {
		select {
		case code := <-f.done:
			t.Fatalf("exited %d early; stdout %q, stderr %q", code, f.out, f.errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines after 15s: %q (stderr %q)", len(lines(f.out)), n, f.out, f.errOut)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return lines(f.out)
}

// interrupt cancels the command as Ctrl-C does and returns its exit code.
func (f *following) interrupt(t *testing.T) int {
	t.Helper()
	f.cancel()
	select {
	case code := <-f.done:
		f.done <- code // for the cleanup
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after the interrupt")
		return -1
	}
}

func addRepo(t *testing.T, c *client.Client, name string) {
	t.Helper()
	if _, err := c.AddRepository(context.Background(), client.AddRepositoryRequest{GitURL: "https://github.com/acme/" + name + ".git"}); err != nil {
		t.Fatal(err)
	}
}

func TestEventsPrintsJSONLinesAndFollowsUntilInterrupted(t *testing.T) {
	d := eventsDaemon(t)
	c := &client.Client{BaseURL: d.URL}
	addRepo(t, c, "dash")
	addRepo(t, c, "notes")

	f := follow(t, d.URL, "events", "--since", "0", "--topic", "repository")
	f.waitLines(t, 2)
	// Live: this one happens while the command follows.
	addRepo(t, c, "chat")
	lines := f.waitLines(t, 3)
	if code := f.interrupt(t); code != cli.ExitInterrupted || strings.Contains(f.errOut.String(), "error") {
		t.Errorf("interrupted: exit %d, want 130 without an error line (stderr %q)", code, f.errOut)
	}
	var last int64
	for i, want := range []string{"dash", "notes", "chat"} {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(lines[i]), &obj); err != nil {
			t.Fatalf("line %q: %v", lines[i], err)
		}
		for _, k := range []string{"id", "type", "subject", "data", "time"} {
			if _, ok := obj[k]; !ok {
				t.Errorf("line %q lacks %q", lines[i], k)
			}
		}
		var e client.Event
		_ = json.Unmarshal([]byte(lines[i]), &e)
		if e.Type != "repository.created" || e.Subject != want || e.ID <= last {
			t.Errorf("line %d: %+v, want repository.created of %s after id %d", i, e, want, last)
		}
		last = e.ID
	}
	if len(lines) != 3 {
		t.Errorf("printed %d lines, want 3: %q", len(lines), lines)
	}
}

func TestEventsStartsNowByDefaultAndFilters(t *testing.T) {
	d := eventsDaemon(t)
	c := &client.Client{BaseURL: d.URL}
	addRepo(t, c, "old")

	// No --since: only what happens from now on; -q prints ids.
	base := d.Events.Stats().Subscribers
	f := follow(t, d.URL, "events", "-q", "--subject", "b")
	waitSubscribers(t, d, base)
	addRepo(t, c, "a")
	addRepo(t, c, "b")
	lines := f.waitLines(t, 1)
	if code := f.interrupt(t); code != cli.ExitInterrupted {
		t.Errorf("exit %d, want 130", code)
	}
	last, err := c.LastEventID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0] != strconv.FormatInt(last, 10) {
		t.Errorf("printed %q, want only the id of b's event (%d)", lines, last)
	}

	// --jq runs on each event.
	f = follow(t, d.URL, "events", "--since", "0", "--topic", "repository,service", "--jq", ".subject")
	if got := f.waitLines(t, 3); strings.Join(got, " ") != "old a b" {
		t.Errorf("--jq .subject printed %q", got)
	}
	f.interrupt(t)
	if f.errOut.String() != "" {
		t.Errorf("known topics: stderr %q", f.errOut)
	}

	// A topic no event has (a typo) is followed, but not in silence.
	f = follow(t, d.URL, "events", "--since", "0", "--topic", "builds,repository")
	if got := f.waitLines(t, 3); len(got) != 3 {
		t.Errorf("--topic builds,repository printed %q", got)
	}
	f.interrupt(t)
	msg := f.errOut.String()
	if !strings.Contains(msg, `no event type has the topic "builds" (did you mean "build"?)`) ||
		!strings.Contains(msg, "repository, ingestion, build, launch, service") || strings.Contains(msg, `"repository"`) {
		t.Errorf("--topic builds: stderr %q", msg)
	}
}

// waitSubscribers waits until the daemon's hub has more than base
// subscriptions (its own components subscribe too).
func waitSubscribers(t *testing.T, d *daemon.Daemon, base int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for d.Events.Stats().Subscribers <= base {
		if time.Now().After(deadline) {
			t.Fatal("the command never subscribed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventsRefusesBadInput(t *testing.T) {
	d := eventsDaemon(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"events", "--since", "-3"}, cli.ExitUsage, "--since -3"},
		{[]string{"events", "--since", "999999999"}, cli.ExitUsage, "error: --since 999999999: no event 999999999 yet (the newest is "},
		{[]string{"events", "--topic", "Build"}, cli.ExitUsage, `--topic "Build" is not a topic: want one of repository, ingestion, build, launch, service`},
		{[]string{"events", "--topic", "bad topic!"}, cli.ExitUsage, `--topic "bad topic!" is not a topic`},
		{[]string{"events", "extra"}, cli.ExitUsage, "unknown command"},
	} {
		r := cmd(t, d.URL, false, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Contains(r.stderr, "Following anyway") {
			t.Errorf("%v: exit %d, stderr %q; want %d mentioning %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
	r := cmd(t, "http://"+testenv.FreeAddr(t), false, "events")
	if r.code != cli.ExitUnreachable {
		t.Errorf("unreachable daemon: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestEventsBinaryExitsZeroOnSIGINT runs the real binary: Ctrl-C (SIGINT)
// ends the following with exit status 0.
func TestEventsBinaryExitsZeroOnSIGINT(t *testing.T) {
	d := eventsDaemon(t)
	bin := testenv.Binary(t, "./cmd/appstore")
	c := &client.Client{BaseURL: d.URL}
	addRepo(t, c, "first")

	p := exec.Command(bin, "events", "--since", "0", "--server", d.URL)
	stdout, err := p.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.LockedBuffer
	p.Stderr = &stderr
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	got := make(chan string, 1)
	go func() {
		if lines.Scan() {
			got <- lines.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, `"subject":"first"`) {
			t.Errorf("first line %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no event line; stderr %q", stderr.String())
	}
	if err := p.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- p.Wait() }()
	select {
	case err := <-waitErr:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitInterrupted || strings.Contains(stderr.String(), "error") {
			t.Errorf("after SIGINT: %v (stderr %q), want exit 130 without an error line", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGINT")
	}
}
