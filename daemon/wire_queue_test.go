package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func readyz(t *testing.T, d *daemon.Daemon) (int, client.Health) {
	t.Helper()
	resp, err := http.Get(d.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h client.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

func TestReadyzReportsTheInlineQueue(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{})
	code, h := readyz(t, d)
	if c, ok := h.Checks["queue"]; code != http.StatusOK || !ok || !c.OK || c.Optional {
		t.Fatalf("readyz %d %+v: want a required, passing queue check", code, h)
	}
}

// With --redis-url the queue check is Redis. An API process without it
// still serves the catalog and search, and keeps registrations for later:
// degraded (200). A worker without it can do nothing: down (503). Both come
// back with it.
func TestReadyzReportsTheRedisQueue(t *testing.T) {
	r := testenv.StartRedis(t)
	db := testenv.Postgres(t)
	d := daemontest.Start(t, daemon.Config{DatabaseURL: db, RedisURL: r.URL()})
	worker := daemontest.Start(t, daemon.Config{DatabaseURL: db, RedisURL: r.URL(), Roles: []string{daemon.RoleWorker}})
	for _, d := range []*daemon.Daemon{d, worker} {
		code, h := readyz(t, d)
		if c := h.Checks["queue"]; code != http.StatusOK || !c.OK {
			t.Fatalf("readyz %d %+v: want a passing queue check", code, h)
		}
	}

	r.Stop()
	code, h := readyz(t, d)
	if c := h.Checks["queue"]; code != http.StatusOK || h.Status != "degraded" || c.OK || !c.Optional || !strings.Contains(c.Message, r.Addr()) {
		t.Fatalf("API's readyz with Redis down: %d %+v: want 200, degraded, and an optional queue check naming %s", code, h, r.Addr())
	}
	code, h = readyz(t, worker)
	if c := h.Checks["queue"]; code != http.StatusServiceUnavailable || h.Status != "down" || c.OK || c.Optional {
		t.Fatalf("worker's readyz with Redis down: %d %+v: want 503, down, and a required queue check", code, h)
	}

	r.Start()
	for _, d := range []*daemon.Daemon{d, worker} {
		// Redis takes a while to start on a loaded machine, and the
		// client probes a lost server once a second.
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, h = readyz(t, d)
			if code == http.StatusOK && h.Checks["queue"].OK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz 30s after Redis came back: %d %+v", code, h)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestRejectsABadRedisURL(t *testing.T) {
	_, err := daemon.Start(context.Background(), daemon.Config{
		DatabaseURL: testenv.Postgres(t), DataDir: t.TempDir(), Addr: "127.0.0.1:0",
		RedisURL: "localhost:6379",
	})
	if err == nil || !strings.Contains(err.Error(), "--redis-url") || !strings.Contains(err.Error(), "redis://") {
		t.Fatalf("err %v, want one naming --redis-url and the expected form", err)
	}
}
