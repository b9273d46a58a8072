package seed_test

import (
	"context"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/internal/seed"
)

// fingerprint summarises the seeded rows so that two seedings can be
// compared.
func fingerprint(t *testing.T, st *store.Store) string {
	t.Helper()
	var fp string
	err := st.Pool().QueryRow(context.Background(), `SELECT md5(string_agg(concat_ws('|', id, slug, name, description,
		md5(readme), ingest_status, launch_count, tags::text, created_at), ';' ORDER BY id)) FROM repositories`).Scan(&fp)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func TestSeedIsDeterministicAndConsistent(t *testing.T) {
	ctx := context.Background()
	const n = 3000
	st := storetest.New(t)
	stats, err := seed.Seed(ctx, st.Pool(), n)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Repositories != n || stats.TagLinks < 8*n || stats.TagLinks > 12*n || stats.Builds == 0 {
		t.Errorf("stats %+v: want %d repositories with about ten tags each, and builds", stats, n)
	}

	var repos, links, builds int
	var mismatched int
	err = st.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM repositories),
		(SELECT count(*) FROM repository_tags),
		(SELECT count(*) FROM builds),
		(SELECT count(*) FROM repositories r WHERE r.tags IS DISTINCT FROM (
			SELECT array_agg(DISTINCT t.key || ':' || t.value ORDER BY t.key || ':' || t.value)
			FROM repository_tags rt JOIN tags t ON t.id = rt.tag_id WHERE rt.repository_id = r.id))`).
		Scan(&repos, &links, &builds, &mismatched)
	if err != nil {
		t.Fatal(err)
	}
	if repos != n || links != stats.TagLinks || builds != stats.Builds || mismatched != 0 {
		t.Errorf("rows: %d repositories, %d links, %d builds, %d whose tag array differs from repository_tags",
			repos, links, builds, mismatched)
	}

	// The counters of the search follow the rows written by COPY.
	page, err := st.Search(ctx, store.SearchOptions{Query: "lang:go"})
	if err != nil {
		t.Fatal(err)
	}
	var goRepos int64
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM repositories WHERE 'lang:go' = ANY(tags)`).Scan(&goRepos); err != nil {
		t.Fatal(err)
	}
	if page.Total != goRepos || !page.TotalExact || goRepos < n/10 {
		t.Errorf("lang:go: total %d (exact %v), %d carry it", page.Total, page.TotalExact, goRepos)
	}

	// VACUUM marked the pages all-visible, as on a settled database.
	var pages, visible int
	if err := st.Pool().QueryRow(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE relname = 'repositories'`).Scan(&pages, &visible); err != nil {
		t.Fatal(err)
	}
	if pages == 0 || visible < pages*9/10 {
		t.Errorf("%d of %d pages all-visible after seeding", visible, pages)
	}

	// Later inserts get fresh ids.
	if _, err := st.Pool().Exec(ctx, `INSERT INTO repositories (slug, name, git_url, git_url_key) VALUES ('new', 'new', 'x', 'x')`); err != nil {
		t.Errorf("insert after seeding: %v", err)
	}

	// The same n gives the same rows.
	again := storetest.New(t)
	if _, err := seed.Seed(ctx, again.Pool(), n); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `DELETE FROM repositories WHERE slug = 'new'`); err != nil {
		t.Fatal(err)
	}
	if a, b := fingerprint(t, st), fingerprint(t, again); a != b {
		t.Errorf("two seedings differ: %s %s", a, b)
	}

	// A catalog with repositories is refused.
	if _, err := seed.Seed(ctx, st.Pool(), 10); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("seeding a non-empty catalog: %v", err)
	}
}
