package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// app describes a repository for search tests.
type app struct {
	name, description, readme string
	tags                      []string
	status                    catalog.IngestStatus
	launches                  int64
}

var appSeq atomic.Int64

// addApp registers a and sets the fields ingestion would, returning its slug.
func addApp(t testing.TB, st *store.Store, a app) string {
	t.Helper()
	slug, err := tryAddApp(st, a)
	if err != nil {
		t.Fatal(err)
	}
	return slug
}

// tryAddApp is addApp for goroutines, which must not call t.Fatal.
func tryAddApp(st *store.Store, a app) (string, error) {
	ctx := context.Background()
	in := store.NewRepository{Name: a.name, NameManual: true, Owner: "o"}
	n := appSeq.Add(1)
	in.GitURL = fmt.Sprintf("https://git.example.com/o/app%d.git", n)
	in.GitURLKey = fmt.Sprintf("git.example.com/o/app%d", n)
	for _, s := range a.tags {
		tag, err := catalog.ParseTag(s)
		if err != nil {
			return "", err
		}
		in.Tags = append(in.Tags, tag)
	}
	repo, err := st.CreateRepository(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", a.name, err)
	}
	if a.status == "" {
		a.status = catalog.IngestReady
	}
	_, err = st.Pool().Exec(ctx, `UPDATE repositories SET description = $2, readme = $3, ingest_status = $4, launch_count = $5 WHERE id = $1`,
		repo.ID, a.description, a.readme, string(a.status), a.launches)
	if err != nil {
		return "", err
	}
	return repo.Slug, nil
}

func search(t *testing.T, st *store.Store, q string) *catalog.SearchPage {
	t.Helper()
	page, err := st.Search(context.Background(), store.SearchOptions{Query: q, Limit: store.MaxSearchLimit})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return page
}

func slugs(rs []catalog.SearchResult) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Slug
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// forEachPlan runs check with both plans of Search: ranking every match in
// one statement (what a small catalog gets) and reading the relevance tiers
// in launch order (what broad queries on a large catalog get).
func forEachPlan(t *testing.T, st *store.Store, check func(t *testing.T)) {
	for _, plan := range []struct {
		name string
		few  int64
	}{{"ranked", 0}, {"tiered", -1}} {
		t.Run(plan.name, func(t *testing.T) {
			store.SetFewMatchesUpTo(st, plan.few)
			defer store.SetFewMatchesUpTo(st, 0)
			check(t)
		})
	}
}

func TestSearchTagFiltersAndStatus(t *testing.T) {
	st := storetest.New(t)
	gin := addApp(t, st, app{name: "gin-app", tags: []string{"lang:go", "framework:gin", "license:mit"}})
	fiber := addApp(t, st, app{name: "fiber-app", tags: []string{"lang:go", "framework:fiber", "license:gpl-3.0"}})
	flask := addApp(t, st, app{name: "flask-app", tags: []string{"lang:python", "framework:flask", "license:mit"}, status: catalog.IngestFailed})
	poly := addApp(t, st, app{name: "poly", tags: []string{"lang:go", "lang:javascript"}})
	queued := addApp(t, st, app{name: "queued-app", tags: []string{"lang:rust"}, status: catalog.IngestQueued})

	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"", []string{gin, fiber, flask, poly, queued}},
		{"lang:go", []string{gin, fiber, poly}},
		{"lang:go framework:gin", []string{gin}},          // AND across terms
		{"framework:gin,flask", []string{gin, flask}},     // OR within a key
		{"lang:go lang:javascript", []string{poly}},       // same key twice: both
		{"lang:go -license:gpl-3.0", []string{gin, poly}}, // exclusion
		{"lang:go -framework:gin,fiber", []string{poly}},  // excludes every listed value
		{"-lang:go -lang:python", []string{queued}},       // two excludes
		{"LANG:GO FRAMEWORK:Gin", []string{gin}},          // case-insensitive
		{"status:ready", []string{gin, fiber, poly}},      // ingest status, not a tag
		{"status:failed,queued", []string{flask, queued}}, // OR of statuses
		{"-status:ready", []string{flask, queued}},        // excluded status
		{"status:ready license:mit", []string{gin}},       // status AND tag
		{"lang:cobol", nil},                               // nothing
		{"license:mit -status:failed framework:gin,flask", []string{gin}},
	} {
		t.Run(tc.q, func(t *testing.T) {
			forEachPlan(t, st, func(t *testing.T) {
				page := search(t, st, tc.q)
				if got := sorted(slugs(page.Results)); !slices.Equal(got, sorted(tc.want)) {
					t.Errorf("%q: got %v, want %v", tc.q, got, sorted(tc.want))
				}
				if page.Total != int64(len(tc.want)) || !page.TotalExact {
					t.Errorf("%q: total %d (exact %v), want %d exact", tc.q, page.Total, page.TotalExact, len(tc.want))
				}
			})
		})
	}

	// Results carry what a list shows.
	page := search(t, st, "framework:gin")
	r := page.Results[0]
	wantTags := []catalog.Tag{{Key: "framework", Value: "gin"}, {Key: "lang", Value: "go"}, {Key: "license", Value: "mit"}}
	if r.Name != "gin-app" || r.IngestStatus != catalog.IngestReady || !slices.Equal(r.Tags, wantTags) || r.Relevance != 0 || r.LatestBuild != nil {
		t.Errorf("result %+v", r)
	}
	ctx := context.Background()
	id, err := st.RepositoryIDBySlug(ctx, gin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO builds (repository_id, status) VALUES ($1, 'failed'), ($1, 'succeeded')`, id); err != nil {
		t.Fatal(err)
	}
	page = search(t, st, "framework:gin")
	if b := page.Results[0].LatestBuild; b == nil || b.Status != catalog.BuildSucceeded {
		t.Errorf("latest build %+v, want the newest (succeeded)", b)
	}
}

func TestSearchFullText(t *testing.T) {
	st := storetest.New(t)
	name := addApp(t, st, app{name: "Chat Server", description: "realtime messaging", readme: "# Chat Server\nInstall it."})
	desc := addApp(t, st, app{name: "Notes", description: "A chat log viewer", launches: 3})
	readme := addApp(t, st, app{name: "Board", description: "kanban", readme: "Comes with a live chat for the team."})
	popular := addApp(t, st, app{name: "Lobby", description: "lobby with chat", launches: 50})
	dash := addApp(t, st, app{name: "Dashboard Pro", description: "metrics dashboard", tags: []string{"lang:go"}})
	other := addApp(t, st, app{name: "Wiki", description: "chat live in pages", tags: []string{"lang:go"}})

	forEachPlan(t, st, func(t *testing.T) { checkFullText(t, st, name, desc, readme, popular, dash, other) })
}

func checkFullText(t *testing.T, st *store.Store, name, desc, readme, popular, dash, other string) {
	// Relevance: all words in the name, then in the description, then
	// anywhere; within a tier more launches first, then newest.
	page := search(t, st, "chat")
	if got, want := slugs(page.Results), []string{name, popular, desc, other, readme}; !slices.Equal(got, want) {
		t.Errorf("chat: %v, want %v", got, want)
	}
	var rel []int
	for _, r := range page.Results {
		rel = append(rel, r.Relevance)
	}
	if !slices.Equal(rel, []int{3, 2, 2, 2, 1}) {
		t.Errorf("relevance %v, want 3 2 2 2 1", rel)
	}

	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"dash", []string{dash}},                              // the last word is a prefix
		{"dash ", nil},                                        // not once a space follows
		{"lang:go Dash", []string{dash}},                      // case, and with a filter
		{"metrics dash", []string{dash}},                      // earlier words are whole words
		{"metric dashboard", nil},                             // … so "metric" is not "metrics"
		{`"live chat"`, []string{readme}},                     // a phrase: next to each other in order
		{`"chat live"`, []string{other}},                      //
		{"chat -log", []string{name, popular, other, readme}}, // excluded word
		{`chat -"live chat"`, []string{name, popular, other, desc}},
		{"chat lang:go", []string{other}},
		{"chat ++", []string{name, popular, other, desc, readme}}, // no letters: ignored
		{"kanban", []string{readme}},
		{"install", []string{name}},
		{"CHAT SERV", []string{name}},
	} {
		page := search(t, st, tc.q)
		if got := slugs(page.Results); !slices.Equal(sorted(got), sorted(tc.want)) {
			t.Errorf("%q: got %v, want %v", tc.q, got, tc.want)
		}
		if page.Total != int64(len(tc.want)) {
			t.Errorf("%q: total %d, want %d", tc.q, page.Total, len(tc.want))
		}
	}
}

// TestSearchPaginationWhileAdding pages through a search while other
// repositories are added, some of them landing before the cursor and some
// after: every repository that was there when paging began comes exactly
// once, and none comes twice.
func TestSearchPaginationWhileAdding(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	var before []string
	for i := range 40 {
		a := app{name: fmt.Sprintf("svc %d", i), tags: []string{"lang:go"}, launches: int64(i % 7)}
		switch i % 3 { // three relevance tiers for "chat"
		case 0:
			a.name = fmt.Sprintf("chat %d", i)
		case 1:
			a.description = "a chat service"
		default:
			a.readme = "talks to the chat"
		}
		before = append(before, addApp(t, st, a))
	}

	for _, q := range []string{"lang:go", "chat", "cha", "lang:go chat"} {
		t.Run(q, func(t *testing.T) {
			forEachPlan(t, st, func(t *testing.T) {
				// Added concurrently while paging, a bounded number so that
				// paging catches up: matching and not, with launch counts that
				// put them on both sides of the cursor.
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 30 {
						tags := []string{"lang:go"}
						if i%4 == 3 {
							tags = []string{"lang:rust"}
						}
						if _, err := tryAddApp(st, app{name: fmt.Sprintf("chat late %s %d", q, i), tags: tags, launches: int64(i % 9)}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
				seen := map[string]int{}
				cursor := ""
				pages := 0
				for {
					page, err := st.Search(ctx, store.SearchOptions{Query: q, Limit: 6, Cursor: cursor})
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range page.Results {
						seen[r.Slug]++
					}
					pages++
					// And one more, deterministically between pages.
					addApp(t, st, app{name: fmt.Sprintf("chat between %s %d", q, pages), tags: []string{"lang:go"}, launches: int64(pages % 5)})
					if page.NextCursor == "" {
						break
					}
					cursor = page.NextCursor
				}
				wg.Wait()
				for s, n := range seen {
					if n > 1 {
						t.Errorf("%s came %d times", s, n)
					}
				}
				for _, s := range before {
					if seen[s] != 1 {
						t.Errorf("%s came %d times, want once", s, seen[s])
					}
				}
				if pages < 7 {
					t.Errorf("%d pages for 40 results of 6, want at least 7", pages)
				}
			})
		})
	}
}

func TestSearchRejectsBadInput(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	addApp(t, st, app{name: "one", tags: []string{"lang:go"}})
	addApp(t, st, app{name: "two", tags: []string{"lang:go"}})

	for _, tc := range []struct {
		q   string
		pos int
	}{
		{"lang:go framework:", 18},
		{`chat "live`, 5},
		{"lang:go status:bogus", 15},
		{"status:ready,nope", 13},
		{"c++:x", 1},
	} {
		_, err := st.Search(ctx, store.SearchOptions{Query: tc.q})
		var se *query.SyntaxError
		if !errors.As(err, &se) || se.Pos != tc.pos || !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("%q: %v, want a syntax error at %d", tc.q, err, tc.pos)
		}
	}
	for _, o := range []store.SearchOptions{
		{Query: "lang:go", Cursor: "not-a-cursor"},
		{Query: "lang:go", Limit: store.MaxSearchLimit + 1},
		{Query: "lang:go", Limit: -1},
	} {
		if _, err := st.Search(ctx, o); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", o, err)
		}
	}
	page, err := st.Search(ctx, store.SearchOptions{Query: "lang:go", Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	_, err = st.Search(ctx, store.SearchOptions{Query: "lang:rust", Limit: 1, Cursor: page.NextCursor})
	var inv *catalog.InvalidError
	if !errors.As(err, &inv) || inv.Field != "cursor" || !strings.Contains(err.Error(), "another query") {
		t.Errorf("cursor of another query: %v", err)
	}
}

func suggest(t *testing.T, st *store.Store, q string, limit int) *catalog.Suggestions {
	t.Helper()
	s, err := st.Suggest(context.Background(), store.SuggestOptions{Query: q, Pos: len(q), Limit: limit})
	if err != nil {
		t.Fatalf("suggest %q: %v", q, err)
	}
	return s
}

// brief renders suggestions as "text=count" for comparisons.
func brief(s *catalog.Suggestions) []string {
	var out []string
	for _, sg := range s.Suggestions {
		out = append(out, fmt.Sprintf("%s=%d", sg.Text, sg.Count))
	}
	return out
}

func TestSuggest(t *testing.T) {
	st := storetest.New(t)
	addApp(t, st, app{name: "a", tags: []string{"lang:go", "framework:gin", "license:mit"}})
	addApp(t, st, app{name: "b", tags: []string{"lang:go", "framework:gin", "topic:fractal"}})
	addApp(t, st, app{name: "c", tags: []string{"lang:go", "lang:javascript", "framework:fiber"}})
	addApp(t, st, app{name: "d chat", tags: []string{"lang:python", "framework:flask", "framework:fastapi"}, status: catalog.IngestFailed})
	addApp(t, st, app{name: "e", tags: []string{"lang:python", "framework:flask", "license:mit"}})
	// A real tag with the key status: the search reads status: as the
	// ingest status, so it is neither counted nor suggested.
	addApp(t, st, app{name: "f chat", tags: []string{"lang:rust", "Framework:Axum", "status:beta"}, status: catalog.IngestQueued})

	for _, tc := range []struct {
		q     string
		limit int
		want  []string
	}{
		// A word: keys starting with it, and pairs whose value does.
		{"fra", 0, []string{"framework:=6", "topic:fractal=1"}},
		{"FRA", 0, []string{"framework:=6", "topic:fractal=1"}},
		// A value: that key's values, most used first, then by name.
		{"framework:f", 0, []string{"framework:flask=2", "framework:fastapi=1", "framework:fiber=1"}},
		{"framework:F", 2, []string{"framework:flask=2", "framework:fastapi=1"}},
		{"lang:", 0, []string{"lang:go=3", "lang:python=2", "lang:javascript=1", "lang:rust=1"}},
		// A key counts repositories, not tags: c has two languages.
		{"lan", 0, []string{"lang:=6"}},
		// The ingest status is a facet like a tag.
		{"status:", 0, []string{"status:ready=4", "status:failed=1", "status:queued=1"}},
		{"sta", 0, []string{"status:=6"}},
		{"rea", 0, []string{"status:ready=4"}},
		// Narrowed by the rest of the query.
		{"lang:go framework:", 0, []string{"framework:gin=2", "framework:fiber=1"}},
		{"lang:go fra", 0, []string{"framework:=3", "topic:fractal=1"}},
		{"lang:go -framework:gin lan", 0, []string{"lang:=1"}},
		{"framework:flask lang:", 0, []string{"lang:python=2"}},
		{"status:ready lang:", 0, []string{"lang:go=3", "lang:javascript=1", "lang:python=1"}},
		{"lang:python status:", 0, []string{"status:failed=1", "status:ready=1"}},
		{"chat framework:", 0, []string{"framework:axum=1", "framework:fastapi=1", "framework:flask=1"}},
		{"chat status:", 0, []string{"status:failed=1", "status:queued=1"}},
		{"chat st", 0, []string{"status:=2"}},
		{"lang:go lang:go framework:g", 0, []string{"framework:gin=2"}},
		{"lang:cobol fra", 0, nil},
		// Several values: the one under the cursor is completed.
		{"lang:go,py", 0, []string{"lang:go,python=2"}},
		// A negated term stays negated.
		{"-lic", 0, []string{"-license:=2"}},
		{"-license:m", 0, []string{"-license:mit=2"}},
		// Nothing to complete.
		{`"fra`, 0, nil},
		{"c++:x", 0, nil},
	} {
		got := brief(suggest(t, st, tc.q, tc.limit))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.q, got, tc.want)
		}
	}

	// Kinds, ranges and the query after accepting.
	s := suggest(t, st, "lang:go fra", 0)
	if s.Start != 8 || s.End != 11 || s.Token != "word" || s.Prefix != "fra" || !s.Narrowed {
		t.Errorf("token %+v", s)
	}
	k, p := s.Suggestions[0], s.Suggestions[1]
	if k.Kind != catalog.SuggestKey || k.Key != "framework" || k.Value != "" || k.Query != "lang:go framework:" || k.Cursor != 18 {
		t.Errorf("key suggestion %+v", k)
	}
	if p.Kind != catalog.SuggestPair || p.Key != "topic" || p.Value != "fractal" || p.Query != "lang:go topic:fractal " || p.Cursor != 22 {
		t.Errorf("pair suggestion %+v", p)
	}
	s = suggest(t, st, "framework:g", 0)
	if v := s.Suggestions[0]; v.Kind != catalog.SuggestValue || v.Text != "framework:gin" || v.Value != "gin" || v.Query != "framework:gin " || s.Narrowed || s.Key != "framework" {
		t.Errorf("value suggestion %+v in %+v", v, s)
	}
	// The cursor in the middle of the query.
	got, err := st.Suggest(context.Background(), store.SuggestOptions{Query: "lang: framework:gin", Pos: 5})
	if err != nil {
		t.Fatal(err)
	}
	if b := brief(got); !slices.Equal(b, []string{"lang:go=2"}) || got.Suggestions[0].Query != "lang:go framework:gin" {
		t.Errorf("mid-query: %v %+v", b, got.Suggestions)
	}
	// The cursor in the key of a pair: accepting a key keeps the value.
	got, err = st.Suggest(context.Background(), store.SuggestOptions{Query: "fra:gin lang:go", Pos: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Suggestions) == 0 || got.Suggestions[0].Kind != catalog.SuggestKey || got.Suggestions[0].Text != "framework:gin" ||
		got.Suggestions[0].Query != "framework:gin lang:go" {
		t.Errorf("key of a pair: %+v", got.Suggestions)
	}
}

func TestSuggestErrors(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		q        string
		pos, err int
	}{
		// The rest of the query does not parse: the position is in q.
		{`fra lang: x`, 3, 9},
		{`lang:go "live x`, 2, 8},
		{`fr status:nope`, 2, 10},
	} {
		_, err := st.Suggest(ctx, store.SuggestOptions{Query: tc.q, Pos: tc.pos})
		var se *query.SyntaxError
		if !errors.As(err, &se) || se.Pos != tc.err {
			t.Errorf("%q at %d: %v, want a syntax error at %d", tc.q, tc.pos, err, tc.err)
		}
	}
	for _, o := range []store.SuggestOptions{{Query: "x", Pos: 2}, {Query: "x", Pos: -1}, {Query: "x", Limit: 101}} {
		if _, err := st.Suggest(ctx, o); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", o, err)
		}
	}
}

// TestFacetCountsFollowEveryChange changes tags and statuses every way the
// store does and compares the counters with a count from scratch, before
// and after the deltas are folded.
func TestFacetCountsFollowEveryChange(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	var all []string
	for i := range 12 {
		all = append(all, addApp(t, st, app{name: fmt.Sprintf("r%d", i), tags: []string{fmt.Sprintf("lang:l%d", i%3), "team:x"}}))
	}
	recount := func(truth, base, deltas, cols string) []string {
		t.Helper()
		rows, err := st.Pool().Query(ctx, `
			WITH truth AS (`+truth+`), counted AS (
				SELECT `+cols+`, sum(n) AS n FROM (SELECT `+cols+`, n FROM `+base+` UNION ALL SELECT `+cols+`, n FROM `+deltas+`) c
				GROUP BY `+cols+` HAVING sum(n) <> 0
			)
			SELECT concat_ws('/', `+cols+`) || ' ' || coalesce(t.n, 0) || '≠' || coalesce(c.n, 0)
			FROM truth t FULL JOIN counted c USING (`+cols+`)
			WHERE t.n IS DISTINCT FROM c.n`)
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
		return diff
	}
	check := func(when string) {
		t.Helper()
		if d := recount(`SELECT f.key, f.value, count(*) AS n FROM repositories r, appstore_facets(r.tags, r.ingest_status) f GROUP BY 1, 2`,
			"tag_counts", "tag_count_deltas", "key, value"); len(d) > 0 {
			t.Errorf("%s: tag counts differ from a recount: %v", when, d)
		}
		if d := recount(`SELECT p.a, p.key, p.value, count(*) AS n FROM repositories r, appstore_facet_pairs(r.tags, r.ingest_status) p GROUP BY 1, 2, 3`,
			"tag_pair_counts", "tag_pair_count_deltas", "a, key, value"); len(d) > 0 {
			t.Errorf("%s: pair counts differ from a recount: %v", when, d)
		}
	}
	check("after create")
	tag := func(s string) catalog.Tag { tg, _ := catalog.ParseTag(s); return tg }
	if _, err := st.UpdateRepository(ctx, all[0], store.RepositoryUpdate{AddTags: []catalog.Tag{tag("lang:l9"), tag("team:y")}, RemoveTags: []catalog.Tag{tag("team:x")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'failed' WHERE slug = ANY($1)`, all[1:4]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET launch_count = launch_count + 1`); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteRepository(ctx, all[5]); err != nil {
		t.Fatal(err)
	}
	check("after updates and a delete")
	if _, err := st.Pool().Exec(ctx, `SELECT appstore_fold_tag_counts()`); err != nil {
		t.Fatal(err)
	}
	var deltas int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM tag_count_deltas`).Scan(&deltas); err != nil || deltas != 0 {
		t.Errorf("deltas after folding: %d %v", deltas, err)
	}
	if _, err := st.Pool().Exec(ctx, `SELECT appstore_fold_tag_pair_counts()`); err != nil {
		t.Fatal(err)
	}
	check("after folding")
	// Enough writes to fold on their own, from several connections.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 80 {
				slug := all[(w*3+i)%len(all)]
				if slug == all[5] {
					continue
				}
				if _, err := st.UpdateRepository(ctx, slug, store.RepositoryUpdate{AddTags: []catalog.Tag{tag(fmt.Sprintf("w:v%d", i%5))}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	check("after concurrent writers")

	// Statements of a thousand rows and more write the pair counters
	// directly.
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO repositories (slug, name, git_url, git_url_key, tags, ingest_status)
		SELECT 'bulk-' || i, 'bulk ' || i, 'https://x/' || i, 'x/' || i,
		       ARRAY['lang:l' || (i % 4), 'topic:t' || (i % 13)], CASE WHEN i % 3 = 0 THEN 'ready' ELSE 'queued' END
		FROM generate_series(1, 1200) AS i`); err != nil {
		t.Fatal(err)
	}
	check("after a bulk insert")
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'failed', tags = tags || ARRAY['bulk:yes'] WHERE slug LIKE 'bulk-%'`); err != nil {
		t.Fatal(err)
	}
	check("after a bulk update")
	if _, err := st.Pool().Exec(ctx, `DELETE FROM repositories WHERE slug LIKE 'bulk-%' AND id % 2 = 0`); err != nil {
		t.Fatal(err)
	}
	check("after a bulk delete")
	if tags, err := st.ListTags(ctx, store.TagListOptions{Prefix: "w:"}); err != nil || len(tags) != 5 {
		t.Errorf("w: tags %v %v", tags, err)
	}
}

// TestSuggestSamplesWhenTheRestSelectsMany: a rest the counters cannot
// answer that selects thousands of repositories is counted on a sample,
// scaled, and marked approximate; a narrower one is counted exactly.
func TestSuggestSamplesWhenTheRestSelectsMany(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO repositories (slug, name, git_url, git_url_key, tags, ingest_status)
		SELECT 'r-' || i, 'r ' || i, 'https://x/' || i, 'x/' || i,
		       ARRAY['framework:f' || (i % 4), 'lang:go', 'team:a'] || CASE WHEN i % 10 = 0 THEN ARRAY['topic:rare'] ELSE '{}' END,
		       'ready'
		FROM generate_series(1, 6000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `ANALYZE repositories`); err != nil {
		t.Fatal(err)
	}
	s := suggest(t, st, "lang:go team:a framework:", 0)
	if !s.Approximate || len(s.Suggestions) != 4 {
		t.Fatalf("broad rest: approximate %v, %v", s.Approximate, brief(s))
	}
	for _, sg := range s.Suggestions {
		if sg.Count < 1200 || sg.Count > 1800 { // 1500 each
			t.Errorf("%s: %d, want about 1500", sg.Text, sg.Count)
		}
	}
	s = suggest(t, st, "topic:rare team:a framework:", 0)
	if s.Approximate || !slices.Equal(brief(s), []string{"framework:f0=300", "framework:f2=300"}) {
		t.Errorf("narrow rest: approximate %v, %v", s.Approximate, brief(s))
	}
}
