package tui

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestVariableBoxAgainstAppstored: the variable box through the real
// client, daemon and PostgreSQL: e sets the missing required variable the
// app declares, the daemon stores it (read back through the API) and the
// page shows it set; x unsets it and the page says it is missing again.
func TestVariableBoxAgainstAppstored(t *testing.T) {
	db := testenv.Postgres(t)
	d := clienttest.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"),
		"--database-url", db, "--data-dir", t.TempDir(), "--roles", "api")
	ctx := context.Background()
	st, err := store.Open(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repoID, _ := runnertest.App(t, st, "rag", "appstore/rag:test", "sha256:0123", 0)
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET metadata = jsonb_set(coalesce(metadata, '{}'), '{env}', $2::jsonb) WHERE id = $1`,
		repoID, `[{"name":"MODEL","required":true,"source":"tags.yaml"},{"name":"API_KEY","required":true,"secret":true,"source":"tags.yaml"}]`); err != nil {
		t.Fatal(err)
	}
	c := d.Client()
	h := newHarness(t, ClientSource{C: c})
	h.send(tea.WindowSizeMsg{Width: 140, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("MODEL    required          missing — appstore env set rag MODEL=… (e sets it)")
	h.press("e")
	h.waitView("MODEL=")
	h.typeText("gpt-4o-mini")
	h.press("enter")
	h.waitView("MODEL    required          set (variable) = gpt-4o-mini", "set MODEL on rag: applies from its next launch")
	cfg, err := c.AppConfig(ctx, "rag")
	if err != nil || len(cfg.Variables) != 1 || cfg.Variables[0].Name != "MODEL" || cfg.Variables[0].Value != "gpt-4o-mini" || len(cfg.Missing) != 1 {
		t.Fatalf("the daemon's configuration after e: %v %+v", err, cfg)
	}
	// S: the secret, sealed by the daemon, shown by name only.
	const secret = "sk-tui-daemon-secret-0123"
	h.press("S")
	h.waitView("set a secret of rag: its name", "API_KEY")
	h.press("enter")
	h.waitView("the value of API_KEY (not shown")
	h.typeText(secret)
	h.press("enter")
	h.waitView("API_KEY  required secret   set (secret)", "set the secret API_KEY of rag: applies from its next launch")
	if v := h.m.View(); strings.Contains(v, secret) {
		t.Errorf("the screen shows the secret:\n%s", v)
	}
	cfg, err = c.AppConfig(ctx, "rag")
	if err != nil || len(cfg.Secrets) != 1 || cfg.Secrets[0].Name != "API_KEY" || len(cfg.Missing) != 0 {
		t.Fatalf("the daemon's configuration after S: %v %+v", err, cfg)
	}
	h.press("x")
	h.typeText("MODEL")
	h.press("enter")
	h.waitView("unset MODEL of rag: applies from its next launch — still missing for a launch: MODEL",
		"MODEL    required          missing")
}
