package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// TestSearchResultsCarryTheirCard: whichever plan answers (ranking every
// match, relevance tiers in launch order, a tag walk), each result carries
// its own thumbnail, Hugging Face colours and newest build, and none of
// another repository's.
func TestSearchResultsCarryTheirCard(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	want := map[string]catalog.SearchResult{}
	for i := range 6 {
		slug := addApp(t, st, app{name: fmt.Sprintf("card app %d", i), tags: []string{"lang:go"},
			status: catalog.IngestReady, launches: int64(i)})
		r := catalog.SearchResult{Slug: slug}
		if i%2 == 0 { // colours on half of them
			r.ColorFrom, r.ColorTo = fmt.Sprintf("from%d", i), fmt.Sprintf("to%d", i)
			if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET metadata = jsonb_build_object('hf', jsonb_build_object('color_from', $2::text, 'color_to', $3::text)) WHERE slug = $1`,
				slug, r.ColorFrom, r.ColorTo); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 == 0 { // a thumbnail on a third
			etag := fmt.Sprintf("etag%d", i)
			if _, err := st.Pool().Exec(ctx, `INSERT INTO thumbnails (repository_id, content_type, image, image_2x, width, height, etag)
				SELECT id, 'image/png', '\x00', '\x00', 320, 200, $2 FROM repositories WHERE slug = $1`, slug, etag); err != nil {
				t.Fatal(err)
			}
			r.ThumbnailURL = catalog.ThumbnailPath(slug, etag)
		}
		if i%2 == 1 { // a build on the others, the newer one shown
			for _, sha := range []string{"old", fmt.Sprintf("new%d", i)} {
				if _, err := st.Pool().Exec(ctx, `INSERT INTO builds (repository_id, commit_sha, status, image_tag)
					SELECT id, $2, 'succeeded', 'img:' || $2 FROM repositories WHERE slug = $1`, slug, sha); err != nil {
					t.Fatal(err)
				}
			}
			r.LatestBuild = &catalog.BuildSummary{CommitSHA: fmt.Sprintf("new%d", i)}
		}
		want[slug] = r
	}

	plans := []struct {
		name  string
		query string
		setup func()
	}{
		{"ranked", "card", func() { store.SetFewMatchesUpTo(st, 0); store.SetTagWalk(st, store.TagWalkAuto) }},
		{"tiers", "card", func() { store.SetFewMatchesUpTo(st, -1) }},
		{"order index", "lang:go", func() { store.SetFewMatchesUpTo(st, -1); store.SetTagWalk(st, store.TagWalkOff) }},
		{"tag walk", "lang:go", func() { store.SetFewMatchesUpTo(st, 0); store.SetTagWalk(st, store.TagWalkAlways) }},
	}
	for _, p := range plans {
		p.setup()
		seen := 0
		cursor := ""
		for range 10 {
			page, err := st.Search(ctx, store.SearchOptions{Query: p.query, Limit: 4, Cursor: cursor})
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			for _, got := range page.Results {
				w, ok := want[got.Slug]
				if !ok {
					t.Fatalf("%s: result %q is none of the apps", p.name, got.Slug)
				}
				seen++
				if got.ThumbnailURL != w.ThumbnailURL || got.ColorFrom != w.ColorFrom || got.ColorTo != w.ColorTo {
					t.Errorf("%s: %s has thumbnail %q, colours %q–%q; want %q, %q–%q", p.name, got.Slug,
						got.ThumbnailURL, got.ColorFrom, got.ColorTo, w.ThumbnailURL, w.ColorFrom, w.ColorTo)
				}
				switch {
				case w.LatestBuild == nil && got.LatestBuild != nil:
					t.Errorf("%s: %s shows build %+v, it has none", p.name, got.Slug, got.LatestBuild)
				case w.LatestBuild != nil && (got.LatestBuild == nil || got.LatestBuild.CommitSHA != w.LatestBuild.CommitSHA):
					t.Errorf("%s: %s shows build %+v, want its newest (%s)", p.name, got.Slug, got.LatestBuild, w.LatestBuild.CommitSHA)
				}
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if seen != len(want) {
			t.Errorf("%s: %d results over the pages, want %d", p.name, seen, len(want))
		}
	}
}
