package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// TestStorageOverItsSize: the notes example with a declared storage size
// of 1 KiB. Notes past it leave the running launch alone but write
// launch.storage_over (once); volume ls shows the space used over the
// size; a new launch and a wake are refused with what to do; a larger
// size lets the app start again with its data.
func TestStorageOverItsSize(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{IdleTimeout: 4 * time.Second, StorageCheckInterval: 200 * time.Millisecond})
	ctx := context.Background()
	tag, id := runnertest.ExampleImage(t, h.docker, "notes", "1")
	repoID := notesApp(t, h.st, h.docker, "quota", tag, id)
	setSize := func(n int64) {
		t.Helper()
		if _, err := h.st.Pool().Exec(ctx, `UPDATE repositories SET metadata = jsonb_set(metadata, '{storage,size_bytes}', to_jsonb($2::bigint)) WHERE id = $1`, repoID, n); err != nil {
			t.Fatal(err)
		}
	}
	setSize(1024)
	get := func(slug string) (*http.Response, string) { return h.get(h.previewURL(slug, "/notes.json")) }

	l := h.launch("quota", appclient.LaunchRequest{TTL: "10m"})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	for i := 0; i < 3; i++ {
		h.addNote("quota", strings.Repeat("n", 400))
	}
	// The check warns once, naming the launch and what to do; the launch
	// keeps running.
	var over []catalog.Event
	waitFor(t, 30*time.Second, "launch.storage_over", func() bool {
		get("quota") // keeps it awake on a slow machine
		evs, err := h.st.Events(ctx, store.EventFilter{Topics: []string{"launch"}, Subject: "quota"})
		if err != nil {
			t.Fatal(err)
		}
		over = over[:0]
		for _, e := range evs {
			if e.Type == "launch.storage_over" {
				over = append(over, e)
			}
		}
		return len(over) > 0
	})
	var d struct {
		LaunchID int64  `json:"launch_id"`
		Used     int64  `json:"used_bytes"`
		Size     int64  `json:"size_bytes"`
		Message  string `json:"message"`
	}
	if err := json.Unmarshal(over[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.LaunchID != l.ID || d.Size != 1024 || d.Used <= 1024 || !strings.Contains(d.Message, "appstore volume rm quota") {
		t.Errorf("launch.storage_over: %+v", d)
	}
	if got := notesOf(t, get, "quota"); len(got) != 3 {
		t.Errorf("notes of the app over its size: %d, want 3 (it keeps running)", len(got))
	}
	vols, err := h.r.Volumes(ctx, "quota")
	if err != nil || len(vols) != 1 || vols[0].SizeLimitBytes != 1024 || vols[0].UsedBytes <= 1024 {
		t.Fatalf("volume ls: %v %+v", err, vols)
	}

	// Asleep (idle), a request does not wake it: the page says why. The
	// checks of the 4 s before it slept did not warn again.
	h.waitStatus(l.ID, catalog.LaunchStopped, 30*time.Second)
	evs, err := h.st.Events(ctx, store.EventFilter{Topics: []string{"launch"}, Subject: "quota"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "launch.storage_over" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d launch.storage_over events for one launch, want 1", n)
	}
	resp, body := get("quota")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "over the 1 KiB") || !strings.Contains(body, "appstore volume rm quota") {
		t.Errorf("wake of an app over its size: %d %q", resp.StatusCode, body)
	}
	// A launch is refused the same way (409, exit 5 in the CLI).
	_, err = h.api.StartLaunch(ctx, "quota", appclient.LaunchRequest{})
	if !errors.Is(err, catalog.ErrConflict) || !strings.Contains(err.Error(), "raise size under storage:") {
		t.Errorf("launch of an app over its size: %v", err)
	}
	if ls, _ := h.st.ListLaunches(ctx, store.LaunchFilter{Repository: "quota", Active: true}); len(ls) != 0 {
		t.Errorf("a refused launch left active launches: %+v", ls)
	}

	// A larger size: the app starts again, with its data.
	setSize(64 << 20)
	h.launch("quota", appclient.LaunchRequest{})
	if got := notesOf(t, get, "quota"); len(got) != 3 {
		t.Errorf("notes after the size was raised: %d, want 3", len(got))
	}
}
