package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// walkPage is what a page shows of the order: its results and cursor.
type walkPage struct {
	ids    []int64
	next   string
	total  int64
	exact  bool
	walked bool // a statement read tag_sort_keys
}

// pagesOf pages through q, limit results a page, and returns every page.
// from continues after another plan's first page when set.
func pagesOf(t *testing.T, st *store.Store, q string, limit int, from string) []walkPage {
	t.Helper()
	var out []walkPage
	cursor := from
	for range 100 {
		var rec []store.Statement
		ctx := store.RecordStatements(context.Background(), &rec)
		page, err := st.Search(ctx, store.SearchOptions{Query: q, Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("search %q after %q: %v", q, cursor, err)
		}
		p := walkPage{next: page.NextCursor, total: page.Total, exact: page.TotalExact}
		for _, r := range page.Results {
			p.ids = append(p.ids, r.ID)
		}
		for _, s := range rec {
			p.walked = p.walked || strings.Contains(s.SQL, "tag_sort_keys")
		}
		out = append(out, p)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
	t.Fatalf("%q: more than 100 pages", q)
	return nil
}

// TestSearchTagWalkSameAsBefore: queries narrowed by tags walk
// tag_sort_keys and answer the same pages, cursors and totals as the plans
// they replace (ranking every match; reading repositories' order index),
// on every order, with ties on every sort key, and cursors of either
// plan continue in the other.
func TestSearchTagWalkSameAsBefore(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	// 48 repositories: lang a or b, framework x on two in three, y on
	// every fourth; sort keys drawn from few values so that every order
	// has ties, broken by the id.
	for i := range 48 {
		tags := []string{fmt.Sprintf("lang:%c", 'a'+i%2), "topic:t" + fmt.Sprint(i%5)}
		if i%3 != 0 {
			tags = append(tags, "framework:x")
		}
		if i%4 == 0 {
			tags = append(tags, "framework:y")
		}
		status := catalog.IngestReady
		if i%7 == 0 {
			status = catalog.IngestFailed
		}
		addApp(t, st, app{name: fmt.Sprintf("app %d", i), tags: tags, status: status, launches: int64(i % 4)})
	}
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.Pool().Exec(ctx, `
		UPDATE repositories SET
			trend = CASE WHEN id % 3 = 0 THEN '-Infinity' ELSE (id % 4)::float8 / 2 END,
			star_count = id % 3,
			created_at = $1::timestamptz + (id % 5) * interval '1 hour'`, epoch); err != nil {
		t.Fatal(err)
	}

	var queries []string
	for _, sort := range []string{"", " sort:trending", " sort:stars", " sort:new", " sort:launches"} {
		for _, q := range []string{"lang:a framework:x", "framework:x topic:t2", "lang:a", "status:ready framework:x", "topic:t1 framework:y"} {
			queries = append(queries, q+sort)
		}
	}
	for _, q := range queries {
		t.Run(q, func(t *testing.T) {
			for _, limit := range []int{2, 5} {
				// Before: ranking every match, and reading the order
				// index in order (the plan of broad queries).
				store.SetTagWalk(st, store.TagWalkOff)
				before := pagesOf(t, st, q, limit, "")
				store.SetFewMatchesUpTo(st, -1)
				tiered := pagesOf(t, st, q, limit, "")
				store.SetFewMatchesUpTo(st, 0)
				store.SetTagWalk(st, store.TagWalkAlways)
				walked := pagesOf(t, st, q, limit, "")
				store.SetTagWalk(st, store.TagWalkAuto)
				auto := pagesOf(t, st, q, limit, "")
				var n int
				for _, p := range append(slices.Clone(before), tiered...) {
					n += len(p.ids)
					if p.walked {
						t.Fatalf("limit %d: the plan before read tag_sort_keys", limit)
					}
				}
				if n == 0 {
					t.Fatalf("no match: the query tests nothing")
				}
				for i, p := range walked {
					if !p.walked {
						t.Errorf("limit %d page %d: did not walk tag_sort_keys", limit, i+1)
					}
				}
				for name, got := range map[string][]walkPage{"tiered (before)": tiered, "walk": walked, "auto": auto} {
					if len(got) != len(before) {
						t.Fatalf("limit %d: %s gave %d pages, ranked (before) %d", limit, name, len(got), len(before))
					}
					for i := range before {
						b, g := before[i], got[i]
						if !slices.Equal(b.ids, g.ids) || b.next != g.next || b.total != g.total || b.exact != g.exact {
							t.Errorf("limit %d page %d: %s %v next %q total %d/%v, ranked (before) %v next %q total %d/%v",
								limit, i+1, name, g.ids, g.next, g.total, g.exact, b.ids, b.next, b.total, b.exact)
						}
					}
				}
				// A cursor of one plan continues in the other.
				if len(before) > 1 {
					store.SetTagWalk(st, store.TagWalkAlways)
					rest := pagesOf(t, st, q, limit, before[0].next)
					store.SetTagWalk(st, store.TagWalkAuto)
					for i := range rest {
						if !slices.Equal(rest[i].ids, before[i+1].ids) {
							t.Errorf("limit %d page %d after the old plan's first: %v, want %v", limit, i+2, rest[i].ids, before[i+1].ids)
						}
					}
				}
			}
		})
	}
	store.SetTagWalk(st, store.TagWalkAuto)

	// Auto walks when the walk reads fewer rows than ranking every match
	// (lang:a selects 24, a page of 3 walks 4; lang:a framework:x: 16
	// matches, a page of 3 merges about 6 + 8 entries), and ranks a few
	// matches spread thinly over the tags (topic:t1 framework:y: 2 of 10
	// and 12).
	if p := pagesOf(t, st, "lang:a sort:new", 3, ""); !p[0].walked {
		t.Errorf("lang:a sort:new, a page of 3: ranked 24 matches instead of walking")
	}
	if p := pagesOf(t, st, "lang:a framework:x sort:trending", 3, ""); !p[0].walked {
		t.Errorf("lang:a framework:x sort:trending, a page of 3: ranked 16 matches instead of merging 6 + 8 entries")
	}
	if p := pagesOf(t, st, "topic:t1 framework:y sort:new", 1, ""); p[0].walked {
		t.Errorf("topic:t1 framework:y sort:new, a page of 1: walked instead of ranking 2 matches")
	}
}

// TestTagSortKeysFollowEveryChange: tag_sort_keys holds, for every tag of
// every repository (but status:), the repository's sort keys, through
// creation, tag edits, launches, usage (trend), stars, deletion and bulk
// statements.
func TestTagSortKeysFollowEveryChange(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	check := func(when string) {
		t.Helper()
		rows, err := st.Pool().Query(ctx, `
			WITH truth AS (
				SELECT DISTINCT t AS tag, r.id AS repository_id, r.trend, r.launch_count, r.star_count, r.created_at
				FROM repositories r, unnest(r.tags) t WHERE NOT starts_with(t, 'status:')
			), copy AS (
				SELECT tag, repository_id, trend, launch_count, star_count, created_at FROM tag_sort_keys
			)
			SELECT 'missing ' || tag || ' of ' || repository_id FROM (SELECT * FROM truth EXCEPT ALL SELECT * FROM copy) m
			UNION ALL
			SELECT 'stale ' || tag || ' of ' || repository_id FROM (SELECT * FROM copy EXCEPT ALL SELECT * FROM truth) s`)
		if err != nil {
			t.Fatal(err)
		}
		var diff []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			diff = append(diff, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(diff) > 0 {
			t.Errorf("%s: tag_sort_keys differs from the repositories: %v", when, diff)
		}
		var n int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM tag_sort_keys`).Scan(&n); err != nil || n == 0 {
			t.Errorf("%s: %d rows in tag_sort_keys (%v): the check checks nothing", when, n, err)
		}
	}
	var all []string
	for i := range 6 {
		all = append(all, addApp(t, st, app{name: fmt.Sprintf("k%d", i), tags: []string{fmt.Sprintf("lang:l%d", i%3), "team:x"}}))
	}
	check("after create")

	tag := func(s string) catalog.Tag { tg, _ := catalog.ParseTag(s); return tg }
	if _, err := st.UpdateRepository(ctx, all[0], store.RepositoryUpdate{AddTags: []catalog.Tag{tag("lang:l9"), tag("team:y")}, RemoveTags: []catalog.Tag{tag("team:x")}}); err != nil {
		t.Fatal(err)
	}
	check("after a tag edit")

	now := time.Now().UTC()
	if err := st.RecordUsage(ctx, []store.UsageCount{
		{Slug: all[1], Day: now, Launches: 3, PreviewRequests: 4, Visitors: [][]byte{[]byte("v1")}},
		{Slug: all[2], Day: now.AddDate(0, 0, -2), Launches: 1},
	}); err != nil {
		t.Fatal(err)
	}
	var trend float64
	if err := st.Pool().QueryRow(ctx, `SELECT k.trend FROM tag_sort_keys k JOIN repositories r ON r.id = k.repository_id WHERE r.slug = $1 LIMIT 1`, all[1]).Scan(&trend); err != nil || trend <= 0 {
		t.Fatalf("trend of a used app in tag_sort_keys = %v (%v), want a score", trend, err)
	}
	check("after usage (launches, trend)")

	ann := member(t, st, "ann")
	if _, err := st.SetStar(ctx, all[3], ann.ID, true); err != nil {
		t.Fatal(err)
	}
	check("after a star")
	if _, err := st.SetStar(ctx, all[3], ann.ID, false); err != nil {
		t.Fatal(err)
	}
	check("after an unstar")

	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET launch_count = launch_count + 1, ingest_status = 'failed' WHERE slug = ANY($1)`, all[3:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET tags = tags || ARRAY['status:odd', 'lang:l0'] WHERE slug = $1`, all[5]); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteRepository(ctx, all[4]); err != nil {
		t.Fatal(err)
	}
	check("after updates and a delete")

	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO repositories (slug, name, git_url, git_url_key, tags, launch_count, trend)
		SELECT 'bulk-' || i, 'bulk ' || i, 'https://x/' || i, 'x/' || i,
		       ARRAY['lang:l' || (i % 4), 'topic:t' || (i % 13)], i % 9, CASE WHEN i % 2 = 0 THEN i / 10.0 ELSE '-Infinity' END
		FROM generate_series(1, 1200) AS i`); err != nil {
		t.Fatal(err)
	}
	check("after a bulk insert")
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET star_count = star_count + 2, tags = tags || ARRAY['bulk:yes'] WHERE slug LIKE 'bulk-%' AND id % 3 = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET created_at = created_at - interval '1 day' WHERE slug LIKE 'bulk-%' AND id % 5 = 0`); err != nil {
		t.Fatal(err)
	}
	check("after bulk updates")
	if _, err := st.Pool().Exec(ctx, `DELETE FROM repositories WHERE slug LIKE 'bulk-%' AND id % 2 = 0`); err != nil {
		t.Fatal(err)
	}
	check("after a bulk delete")
}
