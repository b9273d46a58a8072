package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// startAppstored runs the real daemon on a fresh PostgreSQL database.
func startAppstored(t *testing.T, args ...string) *clienttest.Appstored {
	t.Helper()
	db := testenv.Postgres(t)
	bin := testenv.Binary(t, "./cmd/appstored")
	return clienttest.StartAppstored(t, bin, append([]string{"--database-url", db, "--data-dir", t.TempDir(), "--git-allow-private"}, args...)...)
}

// TestAgainstAppstored checks the client against the real daemon: the wire
// types round-trip, errors keep their meaning across the wire, and the
// iterator follows the daemon's cursors.
func TestAgainstAppstored(t *testing.T) {
	gitserver.RequireGit(t)
	d := startAppstored(t)
	c := d.Client()
	ctx := context.Background()

	dockerfile := map[string]string{"Dockerfile": "FROM scratch\n"}
	var repos []*gitserver.Repo
	for _, name := range []string{"dash", "notes", "chat", "wiki", "blog"} {
		repos = append(repos, gitserver.NewNamedRepo(t, name, dockerfile))
	}
	git := gitserver.HTTP(t, repos...)

	first, err := c.AddRepository(ctx, client.AddRepositoryRequest{
		GitURL: git.URL(repos[0]), Branch: "main", Tags: []string{"Category:Dashboard"},
	})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if first.Slug != "dash" || first.Branch != "main" || first.ID == 0 || first.CreatedAt.IsZero() {
		t.Errorf("added %+v", first)
	}
	if len(first.Tags) != 1 || first.Tags[0].String() != "category:dashboard" || first.Tags[0].Source != catalog.SourceManual {
		t.Errorf("tags %+v, want the manual tag category:dashboard", first.Tags)
	}
	for _, r := range repos[1:] {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(r)}); err != nil {
			t.Fatalf("add %s: %v", r.Name, err)
		}
	}
	local, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: gitserver.NewNamedRepo(t, "local", dockerfile).FileURL()})
	if err != nil || !strings.HasPrefix(local.GitURL, "file:///") {
		t.Fatalf("add file:// URL on loopback: %+v, %v", local, err)
	}

	// The same repository spelled differently is a conflict naming it.
	_, err = c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: strings.TrimSuffix(git.URL(repos[0]), ".git")})
	var ae *client.APIError
	if !client.IsConflict(err) || !errors.Is(err, catalog.ErrConflict) || !errors.As(err, &ae) || ae.Slug != "dash" || ae.StatusCode != 409 {
		t.Fatalf("second add of dash: %v (%+v), want a 409 conflict naming dash", err, ae)
	}

	_, err = c.Repository(ctx, "nope")
	if !client.IsNotFound(err) || !errors.Is(err, catalog.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing repository: %v", err)
	}

	_, err = c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "ftp://example.com/x.git"})
	if !client.IsInvalid(err) || !errors.As(err, &ae) || ae.Field != "git_url" {
		t.Fatalf("ftp URL: %v (%+v), want invalid naming git_url", err, ae)
	}
	_, err = c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://example.com/a/b.git", Tags: []string{"no value"}})
	if !client.IsInvalid(err) {
		t.Fatalf("malformed tag: %v, want invalid", err)
	}

	// Pages of two: the iterator follows cursors through all six.
	var slugs []string
	for r, err := range c.AllRepositories(ctx, client.ListRepositoriesOptions{Limit: 2}) {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		slugs = append(slugs, r.Slug)
	}
	if got := strings.Join(slugs, ","); got != "local,blog,wiki,chat,notes,dash" {
		t.Errorf("listed %s", got)
	}
	page, err := c.Repositories(ctx, client.ListRepositoriesOptions{Limit: 2})
	if err != nil || len(page.Repositories) != 2 || page.NextCursor == "" {
		t.Errorf("first page of 2: %+v, %v", page, err)
	}
	filtered, err := c.Repositories(ctx, client.ListRepositoriesOptions{Tags: []string{"category:dashboard"}})
	if err != nil || len(filtered.Repositories) != 1 || filtered.Repositories[0].Slug != "dash" {
		t.Errorf("filtered by tag: %+v, %v", filtered, err)
	}

	upd, err := c.UpdateRepository(ctx, "notes", client.UpdateRepositoryRequest{AddTags: []string{"team:docs", "lang:markdown"}})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	// Ingestion runs in the background and may add author and auto tags
	// at any moment: look at the manual ones.
	if got := manualTags(upd); got != "lang:markdown,team:docs" {
		t.Errorf("manual tags after add_tags: %s", got)
	}
	upd, err = c.UpdateRepository(ctx, "notes", client.UpdateRepositoryRequest{RemoveTags: []string{"team:docs"}})
	if err != nil || manualTags(upd) != "lang:markdown" {
		t.Errorf("after remove_tags: %+v, %v", upd, err)
	}
	tags, err := c.Tags(ctx, client.ListTagsOptions{Prefix: "team"})
	if err != nil || len(tags.Tags) != 0 {
		t.Errorf("tags with prefix team after removing the only one: %+v, %v", tags, err)
	}
	tags, err = c.Tags(ctx, client.ListTagsOptions{Prefix: "category"})
	if err != nil || len(tags.Tags) != 1 || tags.Tags[0].String() != "category:dashboard" || tags.Tags[0].Count != 1 {
		t.Errorf("tags with prefix category: %+v, %v", tags, err)
	}

	if err := c.DeleteRepository(ctx, "wiki"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := c.DeleteRepository(ctx, "wiki"); !client.IsNotFound(err) {
		t.Errorf("second delete: %v, want not found", err)
	}

	v, err := c.Version(ctx)
	if err != nil || v.Version == "" || v.API < 1 {
		t.Errorf("version %+v, %v", v, err)
	}
	h, err := c.Ready(ctx)
	if err != nil || h.Status == "down" || !h.Checks["database"].OK {
		t.Errorf("ready %+v, %v", h, err)
	}
}

// TestTokenAgainstAppstored checks that the token is sent where the daemon
// wants it.
func TestTokenAgainstAppstored(t *testing.T) {
	d := startAppstored(t, "--token", "s3cret-e2e-token-0001")
	ctx := context.Background()
	req := client.AddRepositoryRequest{GitURL: "https://example.com/acme/dash.git"}

	_, err := d.Client().AddRepository(ctx, req)
	if !client.IsUnauthorized(err) {
		t.Fatalf("add without token: %v, want unauthorized", err)
	}
	// Reading needs no token.
	if _, err := d.Client().Repositories(ctx, client.ListRepositoriesOptions{}); err != nil {
		t.Fatalf("list without token: %v", err)
	}
	c := &client.Client{BaseURL: d.URL, Token: "s3cret-e2e-token-0001"}
	if _, err := c.AddRepository(ctx, req); err != nil {
		t.Fatalf("add with token: %v", err)
	}
	if err := (&client.Client{BaseURL: d.URL, Token: "wrong"}).DeleteRepository(ctx, "dash"); !client.IsUnauthorized(err) {
		t.Fatalf("delete with a wrong token: %v, want unauthorized", err)
	}
	if _, err := c.Repository(ctx, "dash"); err != nil {
		t.Errorf("dash after a refused delete: %v", err)
	}
}

func manualTags(r *client.Repository) string {
	var out []string
	for _, t := range r.Tags {
		if t.Source == catalog.SourceManual {
			out = append(out, t.String())
		}
	}
	return strings.Join(out, ",")
}
