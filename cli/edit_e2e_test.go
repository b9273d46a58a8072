package cli_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestEditOverridesAndResets drives appstore edit against the real daemon:
// fields set by hand win over a new ingestion and show marks them; --reset
// gives them back to ingestion; a new context is ingested again; bad values
// are refused before anything changes.
func TestEditOverridesAndResets(t *testing.T) {
	gitserver.RequireGit(t)
	db := testenv.Postgres(t)
	d := clienttest.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"),
		"--database-url", db, "--data-dir", t.TempDir(), "--git-allow-private", "--roles", "api,worker")
	repo := gitserver.NewNamedRepo(t, "dash", map[string]string{
		"Dockerfile":     "FROM scratch\nCOPY app /app\n",
		"app":            "x",
		"web/Dockerfile": "FROM scratch\nCOPY index.html /\n",
		"web/index.html": "<p>hi</p>",
		"tags.yaml":      "name: Dash\ndescription: A dashboard\nport: 3000\nresources: small\n",
	})
	git := gitserver.HTTP(t, repo)
	ctx := context.Background()
	c := d.Client()
	ready := func(what string) *client.Repository {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			r, err := c.Repository(ctx, "dash")
			if err != nil {
				t.Fatal(err)
			}
			if r.IngestStatus == catalog.IngestReady {
				return r
			}
			if r.IngestStatus == catalog.IngestFailed || time.Now().After(deadline) {
				t.Fatalf("%s: ingestion %s: %s", what, r.IngestStatus, r.IngestError)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if r := appstoreIn(t, d.URL, "", "add", git.URL(repo)); r.code != 0 {
		t.Fatalf("add: %+v", r)
	}
	if r := ready("add"); r.Name != "Dash" || r.AppPort != 3000 || r.Profile != "small" || len(r.ManualFields) != 0 {
		t.Fatalf("ingested: name %q port %d profile %q manual %v", r.Name, r.AppPort, r.Profile, r.ManualFields)
	}

	r := appstoreIn(t, d.URL, "", "edit", "dash", "--name", "Team dash", "--port", "9000", "--profile", "medium")
	if r.code != 0 || r.stdout != "name\tTeam dash\nport\t9000\nprofile\tmedium\n" {
		t.Fatalf("edit: %+v", r)
	}
	// A new ingestion keeps what was set by hand.
	if r := appstoreIn(t, d.URL, "", "refresh", "dash"); r.code != 0 {
		t.Fatalf("refresh: %+v", r)
	}
	got := ready("refresh")
	if got.Name != "Team dash" || got.AppPort != 9000 || got.PortSource != catalog.PortFromManual || got.Profile != "medium" ||
		!slices.Equal(got.ManualFields, []string{"name", "port", "profile"}) {
		t.Errorf("after a refresh: name %q port %d (%s) profile %q manual %v", got.Name, got.AppPort, got.PortSource, got.Profile, got.ManualFields)
	}
	r = appstoreIn(t, d.URL, "", "show", "dash")
	if !strings.Contains(r.stdout, "manual:\tname,port,profile\n") || !strings.Contains(r.stdout, "profile:\tmedium\n") {
		t.Errorf("show in a pipe: %s", r.stdout)
	}

	// Reset: ingestion decides again (a new ingestion is queued for the
	// name).
	r = appstoreIn(t, d.URL, "", "edit", "dash", "--reset", "port,name", "--reset", "profile")
	if r.code != 0 {
		t.Fatalf("edit --reset: %+v", r)
	}
	got = ready("reset")
	if got.Name != "Dash" || got.AppPort != 3000 || got.PortSource != catalog.PortFromTagsFile || got.Profile != "small" || len(got.ManualFields) != 0 {
		t.Errorf("after --reset: name %q port %d (%s) profile %q manual %v", got.Name, got.AppPort, got.PortSource, got.Profile, got.ManualFields)
	}

	// The build context and Dockerfile: ingested again at once.
	r = appstoreIn(t, d.URL, "", "edit", "dash", "--context", "web", "--dockerfile", "web/Dockerfile")
	if r.code != 0 {
		t.Fatalf("edit --context: %+v", r)
	}
	got = ready("context")
	if got.ContextPath != "web" || got.DockerfilePath != "web/Dockerfile" || !slices.Equal(got.ManualFields, []string{"dockerfile", "context"}) {
		t.Errorf("after --context web: context %q dockerfile %q manual %v", got.ContextPath, got.DockerfilePath, got.ManualFields)
	}

	// Bad input: refused, nothing changed.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--port", "70000"}, "1 to 65535"},
		{[]string{"--profile", "huge"}, "small, medium, large"},
		{[]string{"--reset", "colour"}, "name, description"},
		{[]string{"--port", "80", "--reset", "port"}, "one or the other"},
		{[]string{"--context", "../up"}, "leaves the repository"},
	} {
		r := appstoreIn(t, d.URL, "", append([]string{"edit", "dash"}, tc.args...)...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("edit %v: %+v, want exit 2 saying %q", tc.args, r, tc.want)
		}
	}
	if after, _ := c.Repository(ctx, "dash"); after.AppPort != 3000 || after.Profile != "small" || after.ContextPath != "web" {
		t.Errorf("refused edits changed the app: port %d profile %q context %q", after.AppPort, after.Profile, after.ContextPath)
	}
}
