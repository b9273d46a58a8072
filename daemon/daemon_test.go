package daemon_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func TestHealthAndReadiness(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(d.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var h client.Health
		err = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || h.Status != "ok" {
			t.Errorf("%s: %d %+v %v", path, resp.StatusCode, h, err)
		}
		if path == "/readyz" && !h.Checks["database"].OK {
			t.Errorf("readyz without a database check: %+v", h)
		}
	}
}

func TestRefusesExposedAddressWithoutToken(t *testing.T) {
	_, err := daemon.Start(context.Background(), daemon.Config{Addr: "0.0.0.0:0", DataDir: t.TempDir(), DatabaseURL: "postgres://unused"})
	if err == nil || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("err %v, want a refusal that mentions --token", err)
	}
}

func TestEmbeddedPostgresSurvivesRestart(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	dataDir := t.TempDir() // 0700 and owned by root when run as root: the hard case
	cfg := daemon.Config{DataDir: dataDir, Addr: "127.0.0.1:0"}
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx := context.Background()

	d, err := daemon.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	c := &client.Client{BaseURL: d.URL}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/kept.git"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	d, err = daemon.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("second start on the same data dir: %v", err)
	}
	defer d.Shutdown(ctx)
	c = &client.Client{BaseURL: d.URL}
	repo, err := c.Repository(ctx, "kept")
	if err != nil || repo.GitURL != "https://github.com/acme/kept.git" {
		t.Fatalf("after restart: %+v %v", repo, err)
	}
}
