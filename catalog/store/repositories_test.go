package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

func newRepo(t *testing.T, rawURL string, tags ...string) store.NewRepository {
	t.Helper()
	u, err := giturl.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: u.Name(), Owner: u.Owner(), Tags: storetest.Tags(t, tags...)}
}

// createRepo registers rawURL with tags, failing the test if the store
// refuses it.
func createRepo(t *testing.T, st *store.Store, rawURL string, tags ...string) *catalog.Repository {
	t.Helper()
	repo, err := st.CreateRepository(context.Background(), newRepo(t, rawURL, tags...))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func TestCreateRepository(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/Dash.git", "category:dashboard", "Team:Ops")
	if repo.Slug != "dash" || repo.Name != "Dash" || repo.Owner != "acme" {
		t.Errorf("got slug %q name %q owner %q", repo.Slug, repo.Name, repo.Owner)
	}
	if repo.IngestStatus != catalog.IngestQueued {
		t.Errorf("status %q, want queued", repo.IngestStatus)
	}
	want := []catalog.Tag{{Key: "category", Value: "dashboard", Source: catalog.SourceManual}, {Key: "team", Value: "ops", Source: catalog.SourceManual}}
	if !slices.Equal(repo.Tags, want) {
		t.Errorf("tags %v, want %v", repo.Tags, want)
	}
	evs, err := st.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != "repository.created" || evs[0].Subject != "dash" {
		t.Errorf("events %+v, want one repository.created for dash", evs)
	}
}

func TestSameRepositoryTwiceIsAConflictNamingTheSlug(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	createRepo(t, st, "https://github.com/a/b")
	for _, again := range []string{"https://github.com/a/b.git", "git@github.com:a/b.git", "https://GITHUB.com/a/B"} {
		_, err := st.CreateRepository(ctx, newRepo(t, again))
		var conflict *catalog.ConflictError
		if !errors.As(err, &conflict) || conflict.Slug != "b" {
			t.Errorf("second add of %s: err %v, want a conflict naming slug b", again, err)
		}
	}
	repos, _, err := st.ListRepositories(ctx, store.ListOptions{})
	if err != nil || len(repos) != 1 {
		t.Fatalf("list: %d repos, err %v; want exactly one stored", len(repos), err)
	}
}

func TestSlugCollisionsGetSuffixes(t *testing.T) {
	st := storetest.New(t)
	var slugs []string
	for _, u := range []string{"https://github.com/a/app", "https://gitlab.com/b/app", "https://example.org/c/app.git"} {
		repo := createRepo(t, st, u)
		slugs = append(slugs, repo.Slug)
	}
	if want := []string{"app", "app-2", "app-3"}; !slices.Equal(slugs, want) {
		t.Errorf("slugs %v, want %v", slugs, want)
	}
}

func TestConcurrentRegistrationsOfOneNameGetDistinctSlugs(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	slugs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo, err := st.CreateRepository(ctx, newRepo(t, fmt.Sprintf("https://host%d.example/x/same", i)))
			errs[i] = err
			if err == nil {
				slugs[i] = repo.Slug
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(slugs)
	if len(slices.Compact(slices.Clone(slugs))) != n {
		t.Errorf("slugs not distinct: %v", slugs)
	}
}

func TestListFiltersAndPaginates(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	for i := range 7 {
		tags := []string{"lang:go"}
		if i%2 == 0 {
			tags = append(tags, "framework:gin")
		}
		createRepo(t, st, fmt.Sprintf("https://github.com/o/r%d", i), tags...)
	}
	gin, _ := catalog.ParseTag("framework:gin")
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		repos, next, err := st.ListRepositories(ctx, store.ListOptions{Tags: []catalog.Tag{gin}, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range repos {
			seen = append(seen, r.Slug)
		}
		if page == 0 {
			// A repository added while paging must not shift later pages.
			createRepo(t, st, "https://github.com/o/late", "framework:gin")
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := []string{"r6", "r4", "r2", "r0"}; !slices.Equal(seen, want) {
		t.Errorf("paged slugs %v, want %v", seen, want)
	}
	if _, _, err := st.ListRepositories(ctx, store.ListOptions{Cursor: "garbage"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("bad cursor: err %v, want invalid", err)
	}
	ready, _, err := st.ListRepositories(ctx, store.ListOptions{Status: catalog.IngestReady})
	if err != nil || len(ready) != 0 {
		t.Errorf("status=ready: %d repos, err %v; want none", len(ready), err)
	}
}

func TestUpdateTagsAndFields(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	createRepo(t, st, "https://github.com/o/tagged", "a:1")
	desc := "A fine app"
	b2, _ := catalog.ParseTag("b:2")
	a1, _ := catalog.ParseTag("a:1")
	repo, err := st.UpdateRepository(ctx, "tagged", store.RepositoryUpdate{Description: &desc, AddTags: []catalog.Tag{b2}, RemoveTags: []catalog.Tag{a1}})
	if err != nil {
		t.Fatal(err)
	}
	if repo.Description != desc {
		t.Errorf("description %q", repo.Description)
	}
	if len(repo.Tags) != 1 || repo.Tags[0].String() != "b:2" {
		t.Errorf("tags %v, want [b:2]", repo.Tags)
	}
	found, _, err := st.ListRepositories(ctx, store.ListOptions{Tags: []catalog.Tag{b2}})
	if err != nil || len(found) != 1 {
		t.Errorf("filter by new tag: %d, %v", len(found), err)
	}
	if _, err := st.UpdateRepository(ctx, "missing", store.RepositoryUpdate{Description: &desc}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("update missing: %v, want not found", err)
	}
}

func TestDeleteRepository(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	createRepo(t, st, "https://github.com/o/gone", "x:y")
	if err := st.DeleteRepository(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Repository(ctx, "gone"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("get after delete: %v, want not found", err)
	}
	if err := st.DeleteRepository(ctx, "gone"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("second delete: %v, want not found", err)
	}
	tags, err := st.ListTags(ctx, store.TagListOptions{})
	if err != nil || len(tags) != 0 {
		t.Errorf("tags after delete: %v %v, want none counted", tags, err)
	}
}

func TestListTagsCountsAndPrefixes(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	for i, tags := range [][]string{{"lang:go", "framework:gin"}, {"lang:go", "framework:fiber"}, {"lang:python", "framework:flask"}} {
		createRepo(t, st, fmt.Sprintf("https://github.com/o/t%d", i), tags...)
	}
	got, err := st.ListTags(ctx, store.TagListOptions{Prefix: "lang:"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "lang:go" || got[0].Count != 2 || got[1].Count != 1 {
		t.Errorf("lang: %+v", got)
	}
	got, err = st.ListTags(ctx, store.TagListOptions{Prefix: "fra"})
	if err != nil || len(got) != 3 {
		t.Errorf("fra: %+v %v, want the three framework tags", got, err)
	}
	got, err = st.ListTags(ctx, store.TagListOptions{Prefix: "framework:f"})
	if err != nil || len(got) != 2 {
		t.Errorf("framework:f: %+v %v, want fiber and flask", got, err)
	}
}
