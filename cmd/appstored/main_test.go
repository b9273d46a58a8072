package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestKilledDaemonRestartsWithNothingLost covers the embedded default end to
// end: SIGKILL leaves the managed PostgreSQL running (or half-dead); the next
// appstored on the same data directory adopts or recovers it.
func TestKilledDaemonRestartsWithNothingLost(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	bin := testenv.Binary(t, "./cmd/appstored")
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()

	p := testenv.StartAppstored(t, bin, "--data-dir", dataDir)
	c := &client.Client{BaseURL: p.URL}
	for i := range 3 {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: fmt.Sprintf("https://github.com/acme/app%d.git", i)}); err != nil {
			t.Fatalf("add: %v\n%s", err, p.Logs())
		}
	}
	p.Kill()

	p = testenv.StartAppstored(t, bin, "--data-dir", dataDir)
	c = &client.Client{BaseURL: p.URL}
	list, err := c.Repositories(ctx, client.ListRepositoriesOptions{})
	if err != nil {
		t.Fatalf("list after restart: %v\n%s", err, p.Logs())
	}
	if len(list.Repositories) != 3 {
		t.Fatalf("after SIGKILL and restart: %d repositories, want 3\n%s", len(list.Repositories), p.Logs())
	}

	// A clean stop exits 0 and stops the embedded PostgreSQL too.
	p.Stop()
	if code := p.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, p.Logs())
	}
	if !strings.Contains(p.Logs(), "appstored stopped") {
		t.Errorf("no clean stop in the log\n%s", p.Logs())
	}
	m := regexp.MustCompile(`PostgreSQL ready.* pid=(\d+)`).FindStringSubmatch(p.Logs())
	if m == nil {
		t.Fatalf("no PostgreSQL pid in the log\n%s", p.Logs())
	}
	pgPID, _ := strconv.Atoi(m[1])
	if alive(pgPID) {
		t.Errorf("embedded PostgreSQL (pid %d) still running after appstored stopped", pgPID)
	}
}

// alive reports whether pid runs and is not a zombie (in a container, pid 1
// may never reap the postmaster that pg_ctl detached).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestFlagsAndEnv(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "appstored ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"--bogus"}, &out, &errOut); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	t.Setenv("APPSTORE_SYNC_INTERVAL", "soon")
	errOut.Reset()
	if code := run([]string{}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "APPSTORE_SYNC_INTERVAL") {
		t.Errorf("bad env: exit %d, stderr %q", code, errOut.String())
	}
}

func TestSyncIntervalZeroTurnsSyncOffAndNegativeIsRefused(t *testing.T) {
	for _, args := range [][]string{{"--sync-interval", "-5m"}, {}} {
		if len(args) == 0 {
			t.Setenv("APPSTORE_SYNC_INTERVAL", "-1m")
		}
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "--sync-interval") || !strings.Contains(errOut.String(), "0 to turn periodic sync off") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message that says what to give", args, code, errOut.String())
		}
	}
	cfg := daemon.Config{SyncInterval: 0}
	if err := syncFlag(&cfg); err != nil || !cfg.SyncOff {
		t.Errorf("--sync-interval 0: SyncOff %v, err %v; want periodic sync off", cfg.SyncOff, err)
	}
	cfg = daemon.Config{SyncInterval: time.Minute}
	if err := syncFlag(&cfg); err != nil || cfg.SyncOff {
		t.Errorf("--sync-interval 1m: SyncOff %v, err %v; want periodic sync on", cfg.SyncOff, err)
	}
}

// TestExposedDaemonNeedsALongToken: appstored exposed beyond loopback (by
// --addr or by an --allowed-host that a proxy forwards) refuses to start
// without a token, and any token, service token or webhook secret shorter
// than 16 bytes, before it opens anything: exit 2, the reason and how to
// make a token on stderr, the data directory untouched.
func TestExposedDaemonNeedsALongToken(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		mentions []string
	}{
		{[]string{"--allowed-host", "appstore.example.com"}, []string{"exposed", "--allowed-host appstore.example.com", "--token", "openssl rand -hex 32"}},
		{[]string{"--addr", "0.0.0.0:0"}, []string{"exposed", "--addr 0.0.0.0:0", "--token", "openssl rand -hex 32"}},
		{[]string{"--token", "s3cret"}, []string{"--token", "6 bytes", "at least 16", "openssl rand -hex 32"}},
		{[]string{"--service-token", "svc"}, []string{"--service-token", "openssl rand -hex 32"}},
		{[]string{"--webhook-secret", "hook"}, []string{"--webhook-secret", "openssl rand -hex 32"}},
	} {
		dataDir := filepath.Join(t.TempDir(), "data")
		var out, errOut bytes.Buffer
		code := run(append([]string{"--data-dir", dataDir}, tc.args...), &out, &errOut)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %q", tc.args, code, errOut.String())
		}
		for _, m := range tc.mentions {
			if !strings.Contains(errOut.String(), m) {
				t.Errorf("%v: stderr %q does not mention %q", tc.args, errOut.String(), m)
			}
		}
		if _, err := os.Stat(dataDir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v: the data directory was created (%v): something started before the refusal", tc.args, err)
		}
	}
}
