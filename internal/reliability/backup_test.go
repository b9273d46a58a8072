package reliability

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/localpg"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestBackupAndRestore follows docs/operations.md ("Backups"): pg_dump
// of a live catalog in the custom format, pg_restore into an empty
// database, appstored on the copy. Repositories, tags (manual ones
// included), the search's counters and the event log come back as they
// were, and new events follow the old ones.
func TestBackupAndRestore(t *testing.T) {
	gitserver.RequireGit(t)
	testenv.RequirePostgresBinaries(t)
	ctx := context.Background()
	bin, _, err := localpg.FindInstallation(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	db, _ := newCatalog(t)
	d := daemontest.Start(t, daemon.Config{DatabaseURL: db, Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})
	c := &client.Client{BaseURL: d.URL}
	var slugs []string
	for i, lang := range []string{"go", "python", "go"} {
		repo := gitserver.NewNamedRepo(t, fmt.Sprintf("kept%d", i), map[string]string{
			"Dockerfile": "FROM scratch\n",
			"tags.yaml":  "description: an app worth keeping\ntags:\n  lang: " + lang + "\n",
		})
		r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: repo.FileURL(), Tags: []string{"team:core"}})
		if err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, r.Slug)
	}
	for _, s := range slugs {
		if r := ingested(t, c, s); r.IngestStatus != catalog.IngestReady {
			t.Fatalf("%s: %s %q", s, r.IngestStatus, r.IngestError)
		}
	}
	before := catalogView(t, c)
	t.Logf("catalog: %s", before)
	lastBefore, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Backup while appstored runs: pg_dump reads one consistent snapshot.
	dump := filepath.Join(t.TempDir(), "appstore.dump")
	run(t, filepath.Join(bin, "pg_dump"), "--format=custom", "--file="+dump, db)
	// Restore into an empty database, as on a new server.
	restored := testenv.Postgres(t)
	run(t, filepath.Join(bin, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+restored, dump)

	d2 := daemontest.Start(t, daemon.Config{DatabaseURL: restored, Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})
	c2 := &client.Client{BaseURL: d2.URL}
	if after := catalogView(t, c2); after != before {
		t.Errorf("restored catalog differs:\nbefore %s\nafter  %s", before, after)
	}
	lastAfter, err := c2.LastEventID(ctx)
	if err != nil || lastAfter != lastBefore {
		t.Errorf("restored event log ends at %d (%v), the original at %d", lastAfter, err, lastBefore)
	}
	// The sequence came back too: a new change's event follows the old ones.
	if _, err := c2.UpdateRepository(ctx, slugs[0], client.UpdateRepositoryRequest{Description: ptr("restored")}); err != nil {
		t.Fatal(err)
	}
	var next int64
	for ev, err := range c2.StoredEvents(ctx, client.EventsOptions{Since: lastBefore}) {
		if err != nil {
			t.Fatal(err)
		}
		next = ev.ID
		break
	}
	if next <= lastBefore {
		t.Errorf("first event after the restore has id %d, not after %d", next, lastBefore)
	}
}

// catalogView is what a user sees of the catalog: every repository with
// its status and tags, a search and the autocomplete's counts.
func catalogView(t *testing.T, c *client.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	list, err := c.Repositories(ctx, client.ListRepositoriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list.Repositories {
		var tags []string
		for _, tg := range r.Tags {
			tags = append(tags, tg.String()+"/"+string(tg.Source))
		}
		slices.Sort(tags)
		fmt.Fprintf(&b, "%s %s %s %q %v; ", r.Slug, r.IngestStatus, r.LastCommitSHA[:8], r.Description, tags)
	}
	page, err := c.Search(ctx, client.SearchOptions{Query: "lang:go worth"})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "search: %d", page.Total)
	for _, r := range page.Results {
		fmt.Fprintf(&b, " %s", r.Slug)
	}
	sug, err := c.Autocomplete(ctx, client.AutocompleteOptions{Query: "lang:", Pos: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sug.Suggestions {
		fmt.Fprintf(&b, "; %s=%d", s.Text, s.Count)
	}
	return b.String()
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func ptr[T any](v T) *T { return &v }
