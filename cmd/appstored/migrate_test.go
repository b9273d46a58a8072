package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/internal/testenv"
	"github.com/appstore-dev/appstore/migrations"
)

// TestMigrateCommand: `appstored migrate` applies every migration to an
// empty database and says which, a second run applies none, and the log
// follows --log-format json.
func TestMigrateCommand(t *testing.T) {
	db := testenv.Postgres(t)
	var out, errOut bytes.Buffer
	args := []string{"migrate", "--database-url", db, "--data-dir", t.TempDir(), "--log-format", "json"}
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, errOut.String())
	}
	files, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".up.sql") {
			want++
		}
	}
	if !strings.HasPrefix(out.String(), "applied "+strconv.Itoa(want)+" migration(s) [1 ") {
		t.Errorf("first migrate printed %q, want %d migrations applied", out.String(), want)
	}
	applied := 0
	for line := range strings.Lines(errOut.String()) {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("--log-format json wrote a line that is not JSON: %q", line)
		}
		if rec.Msg == "applied migration" {
			applied++
		}
	}
	if applied != want {
		t.Errorf("%d \"applied migration\" log records, want %d\n%s", applied, want, errOut.String())
	}

	// The schema is there: the migrations table records every version.
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var repos int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM repositories`).Scan(&repos); err != nil {
		t.Errorf("repositories table after migrate: %v", err)
	}

	out.Reset()
	errOut.Reset()
	if code := run(args, &out, &errOut); code != 0 || out.String() != "applied 0 migration(s) []\n" {
		t.Errorf("second migrate: exit %d, %q\n%s", code, out.String(), errOut.String())
	}

	// A log format it does not know is a usage error that names the flag.
	errOut.Reset()
	if code := run([]string{"migrate", "--database-url", db, "--log-format", "yaml"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `--log-format "yaml": want text or json`) {
		t.Errorf("--log-format yaml: exit %d, %q", code, errOut.String())
	}
}
