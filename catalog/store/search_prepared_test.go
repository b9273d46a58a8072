package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// TestSearchPreparedStatementsKeepTheirAnswers: the statements Search runs
// prepared (the counters, a merge of two tags) answer the same pages,
// cursors and totals on one connection run after run, past the fifth run
// from which PostgreSQL may keep a generic plan, with other tags and
// orders in between.
func TestSearchPreparedStatementsKeepTheirAnswers(t *testing.T) {
	st, url := storetest.NewWithURL(t)
	ctx := context.Background()
	for i := range 30 {
		tags := []string{fmt.Sprintf("lang:%c", 'a'+i%3), fmt.Sprintf("framework:%c", 'x'+i%2)}
		addApp(t, st, app{name: fmt.Sprintf("prep %d", i), tags: tags, status: catalog.IngestReady, launches: int64(i % 4)})
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1 // every run on the same connection, so its cached statements
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	one := store.New(pool, nil)
	store.SetTagWalk(one, store.TagWalkAlways)

	queries := []string{"lang:a framework:x", "lang:b framework:y sort:stars", "framework:x lang:c sort:new", "lang:a framework:y"}
	first := map[string][]walkPage{}
	for run := range 8 {
		for _, q := range queries {
			pages := pagesOf(t, one, q, 3, "")
			var prepared bool
			var rec []store.Statement
			if _, err := one.Search(store.RecordStatements(ctx, &rec), store.SearchOptions{Query: q, Limit: 3}); err != nil {
				t.Fatal(err)
			}
			for _, s := range rec {
				prepared = prepared || (s.Prepared && strings.Contains(s.SQL, "JOIN tag_sort_keys k1"))
			}
			if !prepared {
				t.Fatalf("%q: no prepared merge among %d statements", q, len(rec))
			}
			if run == 0 {
				first[q] = pages
				// The store of the test, other connections, unprepared
				// before the first run: the same answer.
				store.SetTagWalk(st, store.TagWalkOff)
				if before := pagesOf(t, st, q, 3, ""); !samePages(before, pages) {
					t.Fatalf("%q: walked %v, ranked %v", q, pages, before)
				}
				continue
			}
			if !samePages(first[q], pages) {
				t.Fatalf("%q, run %d: %v, first run %v", q, run+1, pages, first[q])
			}
		}
	}
}

func samePages(a, b []walkPage) bool {
	return slices.EqualFunc(a, b, func(x, y walkPage) bool {
		return slices.Equal(x.ids, y.ids) && x.next == y.next && x.total == y.total && x.exact == y.exact
	})
}
