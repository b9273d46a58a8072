package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
)

// Limits of Search and Suggest.
const (
	DefaultSearchLimit  = 20
	MaxSearchLimit      = 100
	DefaultSuggestLimit = 10
	MaxSuggestLimit     = 100

	// fewMatchesUpTo: a search the planner expects at most this many
	// matches for ranks and counts them all in one statement (a heap
	// visit each, about 0.3–1 µs); a broader one reads the relevance tiers
	// in launch order, stops after a page, and reports the planner's
	// estimate as its total unless the counters hold it.
	fewMatchesUpTo = 2_000

	// Autocomplete narrowed by a rest of the query that the counters
	// cannot answer counts the facets of the repositories the rest
	// selects, visiting each (nearly a page apiece: 2–5 µs). Up to
	// narrowExactUpTo of them (as the planner estimates) it counts them
	// all; beyond, it counts the first narrowSample and scales the counts
	// by the estimate, and says the counts are approximate.
	narrowExactUpTo = 1_000
	narrowSample    = 600
)

// execMode runs search statements with the unnamed prepared statement: one
// round trip, and planned with the actual values every time. A cached
// statement would soon get a generic plan, and a generic plan cannot tell
// a word in every README from a word in three, which is the whole choice
// between reading the launches index in order and a bitmap scan.
const execMode = pgx.QueryExecModeCacheDescribe

// SearchOptions are the inputs of Search.
type SearchOptions struct {
	// Query is in the search language of package catalog/query.
	Query string
	// Limit is the page size, 1..MaxSearchLimit (default DefaultSearchLimit).
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
	// ExactTotal counts every match even when that is slow.
	ExactTotal bool
	// UserID is the asking user (users.id; 0 for no one), whose marks
	// is:starred selects.
	UserID int64
}

// Statement is one SQL statement run by Search or Suggest, with its
// arguments (see RecordStatements).
type Statement struct {
	SQL  string
	Args []any
	// Prepared is set for a statement run as a cached prepared statement
	// (pgx.QueryExecModeCacheStatement, see preparedMode); the others go
	// through the unnamed statement (execMode).
	Prepared bool
}

type recorderKey struct{}

// RecordStatements returns a context under which Search and Suggest append
// every statement they run to *rec. The search benchmark runs the recorded
// statements directly to measure what the API adds to the database's time.
func RecordStatements(ctx context.Context, rec *[]Statement) context.Context {
	return context.WithValue(ctx, recorderKey{}, rec)
}

// preparedMode runs the search statements whose best plan does not depend
// on their values (the counters read by key, two tags merged along an
// order index) as cached prepared statements: after five runs on a
// connection PostgreSQL keeps their generic plan, and they are no longer
// planned at all (a merge of two tags took 1–1.7 ms to plan, 2 ms to run).
// PostgreSQL still plans each run anew while a generic plan would cost
// more than the values' own plans, so a statement whose plan turns on its
// values keeps those.
const preparedMode = pgx.QueryExecModeCacheStatement

func (s *Store) searchQuery(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return s.searchQueryMode(ctx, execMode, sql, args...)
}

func (s *Store) searchQueryMode(ctx context.Context, mode pgx.QueryExecMode, sql string, args ...any) (pgx.Rows, error) {
	if rec, ok := ctx.Value(recorderKey{}).(*[]Statement); ok {
		*rec = append(*rec, Statement{SQL: sql, Args: slices.Clone(args), Prepared: mode == preparedMode})
	}
	return s.pool.Query(ctx, sql, append([]any{mode}, args...)...)
}

// Search returns a page of the repositories matching a query, most relevant
// first: by where the words were found (name, description, README), then
// by launches, then newest first. Pages are keyed on that order, so adding
// repositories while paging neither repeats nor skips one that was there
// (a repository launched meanwhile may move). A query that does not parse
// is a *query.SyntaxError (errors.Is catalog.ErrInvalid) with the position.
func (s *Store) Search(ctx context.Context, o SearchOptions) (*catalog.SearchPage, error) {
	if o.Limit == 0 {
		o.Limit = DefaultSearchLimit
	}
	if o.Limit < 1 || o.Limit > MaxSearchLimit {
		return nil, catalog.Invalid("limit", "%d: want 1 to %d", o.Limit, MaxSearchLimit)
	}
	q, err := query.Parse(o.Query)
	if err != nil {
		return nil, err
	}
	sel, err := newSelection(q, o.Query, o.UserID)
	if err != nil {
		return nil, err
	}
	var after *searchCursor
	if o.Cursor != "" {
		c, err := decodeSearchCursor(o.Cursor, q)
		if err != nil {
			return nil, err
		}
		after = &c
	}

	// Tag filters alone: walk the rarest tag in the page's order
	// (search_tagwalk.go).
	if page, ok, err := s.tagWalkPage(ctx, sel, q, after, o.Limit); ok || err != nil {
		if err != nil {
			return nil, fmt.Errorf("search %q: %w", o.Query, err)
		}
		return page, nil
	}

	// Two plans. A query the planner expects few matches for ranks them
	// all in one statement that counts them too. A broad one reads each
	// relevance tier in launch order and stops after a page; its total
	// comes from the counters, or is the planner's estimate (counted when
	// ExactTotal asks).
	var est int64 = -1
	if !sel.counted || len(sel.conds) > 2 {
		if est, err = s.estimateRows(ctx, "SELECT 1"+sel.from(), sel.args); err != nil {
			return nil, fmt.Errorf("search %q: %w", o.Query, err)
		}
	}
	few := int64(fewMatchesUpTo)
	if s.fewMatches != 0 {
		few = s.fewMatches
	}
	if est >= 0 && est <= few {
		page, err := s.rankedPage(ctx, sel, q, after, o.Limit)
		if err != nil {
			return nil, fmt.Errorf("search %q: %w", o.Query, err)
		}
		return page, nil
	}

	// One statement per relevance tier, best first, each asked only for
	// what the tiers before it left: a plain UNION ALL … LIMIT would stop
	// early too, but only as long as PostgreSQL keeps the branches in
	// order, which a parallel plan does not.
	want := o.Limit + 1
	page := &catalog.SearchPage{Results: []catalog.SearchResult{}}
	keys := map[int64]string{}
	for _, t := range sel.tiers() {
		if after != nil && t.tier > after.tier {
			continue
		}
		rows, err := s.tierPage(ctx, sel, t, after, want-len(page.Results), keys)
		if err != nil {
			return nil, fmt.Errorf("search %q: %w", o.Query, err)
		}
		page.Results = append(page.Results, rows...)
		if len(page.Results) >= want {
			break
		}
	}
	if len(page.Results) > o.Limit {
		page.Results = page.Results[:o.Limit]
		last := page.Results[o.Limit-1]
		page.NextCursor = encodeSearchCursor(searchCursor{tier: last.Relevance, key: keys[last.ID], id: last.ID}, q)
	}

	switch {
	case after == nil && page.NextCursor == "":
		// The page holds every match.
		page.Total, page.TotalExact = int64(len(page.Results)), true
	case sel.counted && len(sel.conds) <= 2:
		page.Total, err = s.countedTotal(ctx, sel.conds)
		page.TotalExact = true
	case o.ExactTotal:
		page.Total, err = s.countMatches(ctx, sel)
		page.TotalExact = true
	default:
		page.Total = est
	}
	if err != nil {
		return nil, fmt.Errorf("search %q: count: %w", o.Query, err)
	}
	return page, nil
}

// from is the FROM and WHERE of every match of sel.
func (sel *selection) from() string {
	where := slices.Clone(sel.where)
	if sel.text != "" {
		where = append(where, "r.search @@ "+sel.text)
	}
	return " FROM repositories r" + whereClause(where)
}

// rankedPage ranks every match of sel in one statement, which also counts
// them: for queries with few matches, where reading tiers in launch order
// would cost a statement per tier and a count on top.
func (s *Store) rankedPage(ctx context.Context, sel *selection, q *query.Query, after *searchCursor, limit int) (*catalog.SearchPage, error) {
	b := sel.builder()
	relevance := "0"
	if tq := sel.text; tq != "" && sel.order.tiered {
		relevance = "CASE WHEN r.search_name @@ " + tq + " THEN 3 WHEN r.search_head @@ " + tq + " THEN 2 ELSE 1 END"
	}
	keyset := ""
	if after != nil {
		keys, err := sel.order.keyArgs(b, after.key)
		if err != nil {
			return nil, err
		}
		keyset = fmt.Sprintf("\n\tWHERE (m.relevance, %s, m.id) < (%s::int, %s, %s::bigint)",
			sel.order.names("m"), b.arg(int32(after.tier)), keys, b.arg(after.id))
	}
	// Every match is ranked on its keys alone (a narrow row through the
	// window and the sort); the page's rows are then read by primary key.
	sql := `SELECT p.id, p.slug, p.name, p.description, p.emoji, p.tags, p.ingest_status, p.launch_count, p.star_count, p.created_at, p.relevance,
	b.id, b.status, b.commit_sha, b.image_tag, b.cached, b.completed_at, ` + cardColumns + `, ` + sel.order.keyText("p") + `, p.total
FROM (
	SELECT k.*, r.slug, r.name, r.description, r.emoji, r.tags, r.ingest_status, r.launch_count, r.star_count, r.created_at, r.metadata -> 'hf' AS hf
	FROM (
		SELECT * FROM (
			SELECT r.id, ` + relevance + ` AS relevance, ` + sel.order.selectList() + `, count(*) OVER () AS total` + sel.from() + `
		) m` + keyset + `
		ORDER BY m.relevance DESC, ` + sel.order.orderBy("m") + `, m.id DESC LIMIT ` + b.arg(int64(limit+1)) + `
	) k
	JOIN repositories r ON r.id = k.id
) p
` + pageJoins + `
ORDER BY p.relevance DESC, ` + sel.order.orderBy("p") + `, p.id DESC`
	rows, err := s.searchQuery(ctx, sql, b.args...)
	if err != nil {
		return nil, mapError(err)
	}
	page := &catalog.SearchPage{TotalExact: true}
	keys := map[int64]string{}
	page.Results, err = scanResults(rows, keys, &page.Total)
	if err != nil {
		return nil, err
	}
	if len(page.Results) > limit {
		page.Results = page.Results[:limit]
		last := page.Results[limit-1]
		page.NextCursor = encodeSearchCursor(searchCursor{tier: last.Relevance, key: keys[last.ID], id: last.ID}, q)
	}
	if page.Total == 0 && after != nil {
		// Past the last match the window saw no row: count on.
		if page.Total, err = s.countMatches(ctx, sel); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// countMatches counts every match of sel.
func (s *Store) countMatches(ctx context.Context, sel *selection) (int64, error) {
	rows, err := s.searchQuery(ctx, "SELECT count(*)"+sel.from(), sel.args...)
	if err != nil {
		return 0, mapError(err)
	}
	n, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
	return n, mapError(err)
}

// tier is one relevance level of a text search and the condition that puts
// a repository in it.
type tier struct {
	tier int
	cond string
}

func (sel *selection) tiers() []tier {
	if sel.text == "" {
		return []tier{{tier: 0}}
	}
	if !sel.order.tiered {
		return []tier{{0, "r.search @@ " + sel.text}}
	}
	tq := sel.text
	return []tier{
		{3, "r.search_name @@ " + tq},
		{2, "r.search_head @@ " + tq + " AND NOT (r.search_name @@ " + tq + ")"},
		{1, "r.search @@ " + tq + " AND NOT (r.search_head @@ " + tq + ")"},
	}
}

// tierPage returns up to n results of one tier, after the cursor when it
// is in this tier.
func (s *Store) tierPage(ctx context.Context, sel *selection, t tier, after *searchCursor, n int, keys map[int64]string) ([]catalog.SearchResult, error) {
	b := sel.builder()
	where := slices.Clone(sel.where)
	if t.cond != "" {
		where = append(where, t.cond)
	}
	if after != nil && after.tier == t.tier {
		keys, err := sel.order.keyArgs(b, after.key)
		if err != nil {
			return nil, err
		}
		where = append(where, fmt.Sprintf("(%s, r.id) < (%s, %s::bigint)", strings.Join(sel.order.columns, ", "), keys, b.arg(after.id)))
	}
	sql := `SELECT p.id, p.slug, p.name, p.description, p.emoji, p.tags, p.ingest_status, p.launch_count, p.star_count, p.created_at, ` +
		strconv.Itoa(t.tier) + `,
	b.id, b.status, b.commit_sha, b.image_tag, b.cached, b.completed_at, ` + cardColumns + `, ` + sel.order.keyText("p") + `
FROM (
	SELECT r.id, r.slug, r.name, r.description, r.emoji, r.tags, r.ingest_status, r.launch_count, r.star_count, r.created_at,
		r.metadata -> 'hf' AS hf, ` + sel.order.selectList() + `
	FROM repositories r` + whereClause(where) + `
	ORDER BY ` + sel.order.orderBy("r", sel.order.columns...) + `, r.id DESC LIMIT ` + b.arg(int64(n)) + `
) p
` + pageJoins + `
ORDER BY ` + sel.order.orderBy("p") + `, p.id DESC`
	rows, err := s.searchQuery(ctx, sql, b.args...)
	if err != nil {
		return nil, mapError(err)
	}
	return scanResults(rows, keys, nil)
}

// cardColumns are what a result's card shows besides the repository's
// columns: its thumbnail's version (t, of pageJoins) and its Hugging Face
// colours, from the page's hf (its metadata's "hf" object, taken with the
// page's rows so that only they pay for it). Three correlated subqueries
// (the thumbnail, each colour by the repository's primary key) cost a
// third more planning and execution time on every search statement.
const cardColumns = `t.etag, p.hf ->> 'color_from', p.hf ->> 'color_to'`

// pageJoins joins each result of the page p to its thumbnail (t) and its
// repository's newest build (b), which the result shows.
const pageJoins = `LEFT JOIN thumbnails t ON t.repository_id = p.id
` + latestBuildJoin

// latestBuildJoin joins each result of the page p to its repository's
// newest build (b), which the result shows.
const latestBuildJoin = `LEFT JOIN LATERAL (
	SELECT id, status, commit_sha, image_tag, cached, completed_at
	FROM builds WHERE repository_id = p.id ORDER BY id DESC LIMIT 1
) b ON true`

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// scanResults reads result rows: the repository, its relevance, its latest
// build, its sort key as text (into keys, by id, for cursors), and with
// total set a last column, the window count of matches.
func scanResults(rows pgx.Rows, keys map[int64]string, total *int64) ([]catalog.SearchResult, error) {
	defer rows.Close()
	out := []catalog.SearchResult{}
	for rows.Next() {
		var r catalog.SearchResult
		var tags []string
		var bID *int64
		var bStatus, bSHA, bImage *string
		var bCached *bool
		var bDone *time.Time
		var thumb, colorFrom, colorTo *string
		var key string
		dest := []any{&r.ID, &r.Slug, &r.Name, &r.Description, &r.Emoji, &tags, &r.IngestStatus, &r.LaunchCount, &r.StarCount,
			&r.CreatedAt, &r.Relevance, &bID, &bStatus, &bSHA, &bImage, &bCached, &bDone, &thumb, &colorFrom, &colorTo, &key}
		if total != nil {
			dest = append(dest, total)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		r.Tags = splitTags(tags)
		keys[r.ID] = key
		if thumb != nil {
			r.ThumbnailURL = catalog.ThumbnailPath(r.Slug, *thumb)
		}
		r.ColorFrom, r.ColorTo = deref(colorFrom), deref(colorTo)
		if bID != nil {
			r.LatestBuild = &catalog.BuildSummary{ID: *bID, Status: catalog.BuildStatus(*bStatus), CommitSHA: *bSHA,
				ImageTag: *bImage, Cached: *bCached, CompletedAt: bDone}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(err)
	}
	return out, nil
}

// estimateRows returns the planner's estimate of the rows sql returns: a
// fraction of a millisecond, against one heap visit per row for a count.
func (s *Store) estimateRows(ctx context.Context, sql string, args []any) (int64, error) {
	rows, err := s.searchQuery(ctx, `EXPLAIN (FORMAT JSON) `+sql, args...)
	if err != nil {
		return 0, mapError(err)
	}
	plan, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
	if err != nil {
		return 0, mapError(err)
	}
	var explained []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &explained); err != nil || len(explained) != 1 {
		return 0, fmt.Errorf("read the plan of %q: %v", sql, err)
	}
	return int64(explained[0].Plan.Rows), nil
}

// facet is one counter of tag_counts: a tag (key, value), a key (key, ""),
// an ingest status ("status", status) or every repository ("status", "").
type facet struct{ key, value string }

// countedTotal counts the repositories matching every one of conds (at
// most two) from the counters: nothing is every repository, one condition
// the sum of its facets in tag_counts, two the sum of their pairs in
// tag_pair_counts. Each reads the folded counters plus the deltas.
func (s *Store) countedTotal(ctx context.Context, conds []cond) (int64, error) {
	var keys, values, selectors []string
	table, deltas := "tag_counts", "tag_count_deltas"
	switch len(conds) {
	case 0:
		keys, values = []string{"status"}, []string{""}
	case 1:
		for _, f := range conds[0].facets {
			keys, values = append(keys, f.key), append(values, f.value)
		}
	case 2:
		table, deltas = "tag_pair_counts", "tag_pair_count_deltas"
		for _, a := range conds[0].selectors {
			for _, f := range conds[1].facets {
				selectors, keys, values = append(selectors, a), append(keys, f.key), append(values, f.value)
			}
		}
	}
	b := &argList{}
	var match string
	if selectors == nil {
		match = "(key, value) IN " + b.valuesRows(keys, values)
	} else {
		match = "(a, key, value) IN " + b.valuesRows(selectors, keys, values)
	}
	rows, err := s.searchQueryMode(ctx, preparedMode, `SELECT coalesce(sum(n), 0)::bigint FROM (
	SELECT n FROM `+table+` WHERE `+match+`
	UNION ALL
	SELECT n FROM `+deltas+` WHERE `+match+`) c`, b.args...)
	if err != nil {
		return 0, mapError(err)
	}
	n, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
	return n, mapError(err)
}

// splitTags turns "key:value" strings into tags.
func splitTags(tags []string) []catalog.Tag {
	out := make([]catalog.Tag, 0, len(tags))
	for _, t := range tags {
		k, v, _ := strings.Cut(t, ":")
		out = append(out, catalog.Tag{Key: k, Value: v})
	}
	return out
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return "\n\tWHERE " + strings.Join(conds, "\n\t  AND ")
}

// argList numbers statement arguments.
type argList struct{ args []any }

// valuesRows is a VALUES list of text rows, column i of row j being
// cols[i][j], each value an argument. Unlike unnest of array arguments,
// whose rows the planner guesses, a VALUES list has as many rows in the
// generic plan of a prepared statement as in the values' own, so
// PostgreSQL keeps the generic plan and stops planning the statement.
func (b *argList) valuesRows(cols ...[]string) string {
	var rows []string
	for j := range cols[0] {
		var row []string
		for _, c := range cols {
			row = append(row, b.arg(c[j])+"::text")
		}
		rows = append(rows, "("+strings.Join(row, ", ")+")")
	}
	return "(VALUES " + strings.Join(rows, ", ") + ")"
}

func (b *argList) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// selection is a parsed query as SQL conditions on "repositories r".
type selection struct {
	args []any
	// where are the AND-ed conditions of the filters, the ingest status and
	// the excluded words; text is the tsquery of the words and phrases
	// ("" when there are none), to be matched against a search vector.
	where []string
	text  string
	// counted is set when the query is nothing but facet conditions whose
	// counts the counters hold (see cond): then conds are those.
	counted bool
	conds   []cond
	// order is how results are ordered (sort:, or the default).
	order order
}

// order is one order of search results: its columns DESC, then r.id
// DESC, within the relevance tiers when tiered. An index of (columns…,
// id) reads it backwards.
type order struct {
	name    string   // catalog.Sort…
	columns []string // expressions on "repositories r"
	types   []string // their SQL types, for the cursor's keys
	tiered  bool     // words rank first by where they were found
}

var orders = map[string]order{
	catalog.SortRelevance: {catalog.SortRelevance, []string{"r.launch_count"}, []string{"bigint"}, true},
	catalog.SortLaunches:  {catalog.SortLaunches, []string{"r.launch_count"}, []string{"bigint"}, false},
	// Apps without recent use (the same -Infinity) by launches of all time.
	catalog.SortTrending: {catalog.SortTrending, []string{"r.trend", "r.launch_count"}, []string{"float8", "bigint"}, false},
	catalog.SortStars:    {catalog.SortStars, []string{"r.star_count"}, []string{"bigint"}, false},
	catalog.SortNew:      {catalog.SortNew, []string{"r.created_at"}, []string{"timestamptz"}, false},
}

// selectList names the order's columns sk0, sk1…
func (o order) selectList() string {
	var out []string
	for i, c := range o.columns {
		out = append(out, fmt.Sprintf("%s AS sk%d", c, i))
	}
	return strings.Join(out, ", ")
}

// names are the order's columns of alias as selectList named them.
func (o order) names(alias string) string {
	var out []string
	for i := range o.columns {
		out = append(out, fmt.Sprintf("%s.sk%d", alias, i))
	}
	return strings.Join(out, ", ")
}

// orderBy is the ORDER BY of the order's columns of alias (the sk names,
// or cols when given).
func (o order) orderBy(alias string, cols ...string) string {
	var out []string
	for i := range o.columns {
		c := fmt.Sprintf("%s.sk%d", alias, i)
		if cols != nil {
			c = cols[i]
		}
		out = append(out, c+" DESC")
	}
	return strings.Join(out, ", ")
}

// keyText is the cursor key of a row of alias: its columns as text,
// joined with '|'.
func (o order) keyText(alias string) string {
	var out []string
	for i := range o.columns {
		out = append(out, fmt.Sprintf("%s.sk%d::text", alias, i))
	}
	return "concat_ws('|', " + strings.Join(out, ", ") + ")"
}

// keyArgs turns a cursor key back into typed arguments.
func (o order) keyArgs(b *argList, key string) (string, error) {
	parts := strings.Split(key, "|")
	if len(parts) != len(o.columns) {
		return "", catalog.Invalid("cursor", "is not a cursor of a previous page: pass the next_cursor of the last answer unchanged")
	}
	var out []string
	for i, p := range parts {
		out = append(out, b.arg(p)+"::"+o.types[i])
	}
	return strings.Join(out, ", "), nil
}

// cond is a condition whose matches are a disjoint union of facets, so
// that the counters can count them: a tag filter with one value, or a
// status filter (a repository has one status).
type cond struct {
	// selectors are the conditions as tag_pair_counts.a: "lang:go",
	// "status:ready"; facets the same as tag_counts rows.
	selectors []string
	facets    []facet
}

// builder returns an argument list that continues after the selection's.
func (sel *selection) builder() *argList { return &argList{args: slices.Clone(sel.args)} }

// newSelection turns q (parsed from raw) into SQL conditions.
//
//   - key:a,b → tags && ARRAY['key:a','key:b'] (OR within a term, AND across
//     terms, on the GIN index of repositories.tags);
//   - -key:a → NOT tags && …, every excluded value in one array;
//   - status:… → the ingest status column instead;
//   - owner:… → the owned_by column (the user who owns the app);
//   - words → plainto_tsquery, the last one (being typed) as a prefix with
//     to_tsquery 'word':*; phrases → phraseto_tsquery; words without a
//     letter or digit are ignored (they hold no lexeme);
//   - -word, -"phrase" → NOT search @@ (… || …).
func newSelection(q *query.Query, raw string, userID int64) (*selection, error) {
	b := &argList{}
	sel := &selection{order: orders[catalog.SortRelevance]}
	if q.IsEmpty() {
		// Nothing asked: what is used now comes first.
		sel.order = orders[catalog.SortTrending]
	}
	sorts, q := q.Split(catalog.SortKey)
	if len(sorts.Excludes) > 0 {
		f := sorts.Excludes[0]
		return nil, &query.SyntaxError{Pos: max(valuePos(raw, catalog.SortKey, f.Values[0])-len(catalog.SortKey)-2, 0),
			Msg: fmt.Sprintf("-sort:%s: an order cannot be excluded: write sort:%s", f.Values[0], f.Values[0])}
	}
	switch len(sorts.Filters) {
	case 0:
	case 1:
		f := sorts.Filters[0]
		o, ok := orders[f.Values[0]]
		if len(f.Values) != 1 || !ok {
			return nil, &query.SyntaxError{Pos: valuePos(raw, catalog.SortKey, f.Values[0]), Msg: catalog.SortError(f.Values)}
		}
		sel.order = o
	default:
		f := sorts.Filters[1]
		return nil, &query.SyntaxError{Pos: valuePos(raw, catalog.SortKey, f.Values[0]),
			Msg: "give one sort: term; results have one order"}
	}
	marks, q := q.Split(catalog.IsKey)
	for i, f := range append(slices.Clone(marks.Filters), marks.Excludes...) {
		for _, v := range f.Values {
			if v != catalog.IsStarred {
				return nil, &query.SyntaxError{Pos: valuePos(raw, catalog.IsKey, v),
					Msg: fmt.Sprintf("is:%s: the only mark is is:starred (the apps you starred)", v)}
			}
		}
		if userID == 0 {
			return nil, &query.SyntaxError{Pos: valuePos(raw, catalog.IsKey, f.Values[0]),
				Msg: "is:starred needs to know who is asking: send your personal token (--token, APPSTORE_TOKEN)"}
		}
		cond := "EXISTS (SELECT 1 FROM stars st WHERE st.repository_id = r.id AND st.user_id = " + b.arg(userID) + "::bigint)"
		if i >= len(marks.Filters) {
			cond = "NOT " + cond
		}
		sel.where = append(sel.where, cond)
	}
	status, rest := q.Split("status")
	for _, f := range append(slices.Clone(status.Filters), status.Excludes...) {
		for _, v := range f.Values {
			if !catalog.IngestStatus(v).Valid() {
				return nil, &query.SyntaxError{Pos: valuePos(raw, "status", v),
					Msg: fmt.Sprintf("status:%s: the status is one of queued, processing, ready or failed", v)}
			}
		}
	}
	for _, f := range status.Filters {
		sel.where = append(sel.where, "r.ingest_status = ANY("+b.arg(f.Values)+"::text[])")
	}
	if len(status.Excludes) > 0 {
		var vs []string
		for _, f := range status.Excludes {
			vs = append(vs, f.Values...)
		}
		sel.where = append(sel.where, "r.ingest_status <> ALL("+b.arg(vs)+"::text[])")
	}
	owner, rest := rest.Split("owner")
	for _, f := range owner.Filters {
		sel.where = append(sel.where, "r.owned_by = ANY("+b.arg(f.Values)+"::text[])")
	}
	if len(owner.Excludes) > 0 {
		var vs []string
		for _, f := range owner.Excludes {
			vs = append(vs, f.Values...)
		}
		sel.where = append(sel.where, "r.owned_by <> ALL("+b.arg(vs)+"::text[])")
	}
	for _, f := range rest.Filters {
		sel.where = append(sel.where, "r.tags && "+b.arg(f.Tags())+"::text[]")
	}
	if len(rest.Excludes) > 0 {
		var ts []string
		for _, f := range rest.Excludes {
			ts = append(ts, f.Tags()...)
		}
		sel.where = append(sel.where, "NOT (r.tags && "+b.arg(ts)+"::text[])")
	}

	var pos []string
	for i, w := range rest.Words {
		if !hasAlnum(w) {
			continue
		}
		if rest.Prefix && i == len(rest.Words)-1 {
			pos = append(pos, "to_tsquery('simple', "+b.arg(prefixQuery(w))+")")
		} else {
			pos = append(pos, "plainto_tsquery('simple', "+b.arg(w)+")")
		}
	}
	for _, p := range rest.Phrases {
		if hasAlnum(p) {
			pos = append(pos, "phraseto_tsquery('simple', "+b.arg(p)+")")
		}
	}
	if len(pos) > 0 {
		sel.text = "(" + strings.Join(pos, " && ") + ")"
	}
	var neg []string
	for _, w := range rest.ExcludedWords {
		if hasAlnum(w) {
			neg = append(neg, "plainto_tsquery('simple', "+b.arg(w)+")")
		}
	}
	for _, p := range rest.ExcludedPhrases {
		if hasAlnum(p) {
			neg = append(neg, "phraseto_tsquery('simple', "+b.arg(p)+")")
		}
	}
	if len(neg) > 0 {
		sel.where = append(sel.where, "NOT (r.search @@ ("+strings.Join(neg, " || ")+"))")
	}
	sel.args = b.args

	// Conjunctions of facets are counted by the counters.
	if sel.text == "" && len(neg) == 0 && len(q.Excludes) == 0 && len(marks.Filters)+len(marks.Excludes) == 0 {
		sel.counted = true
		for _, f := range q.Filters {
			var c cond
			switch {
			case f.Key == "owner": // not a tag: the counters do not hold it
				sel.counted = false
			case f.Key == "status":
				for _, v := range f.Values {
					c.selectors = append(c.selectors, "status:"+v)
					c.facets = append(c.facets, facet{"status", v})
				}
			case len(f.Values) == 1:
				c.selectors = []string{f.Key + ":" + f.Values[0]}
				c.facets = []facet{{f.Key, f.Values[0]}}
			default: // lang:go,rust: a repository may carry both
				sel.counted = false
			}
			sel.conds = append(sel.conds, c)
		}
	}
	return sel, nil
}

// prefixQuery is the to_tsquery text matching w as a prefix: quoted, so
// that to_tsquery's operators in w are plain text, and then parsed into
// lexemes by the same parser as the documents ("foo-ba" matches
// "foo-bar").
func prefixQuery(w string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `''`)
	return "'" + r.Replace(w) + "':*"
}

func hasAlnum(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// valuePos finds the byte offset of value in a key:…value… term of raw,
// for error messages; 0 when it cannot tell.
func valuePos(raw, key, value string) int {
	lower := strings.ToLower(raw)
	for from := 0; ; {
		i := strings.Index(lower[from:], key+":")
		if i < 0 {
			return 0
		}
		i += from
		start := i + len(key) + 1
		end := start
		for end < len(lower) && !unicode.IsSpace(rune(lower[end])) {
			end++
		}
		if i == 0 || unicode.IsSpace(rune(lower[i-1])) || lower[i-1] == '-' {
			off := start
			for _, v := range strings.Split(lower[start:end], ",") {
				if v == value {
					return off
				}
				off += len(v) + 1
			}
		}
		from = start
	}
}

// searchCursor is the position after the last result of a page: its
// relevance tier, its sort key (as PostgreSQL prints it: a count, a
// trending score, a time) and its id.
type searchCursor struct {
	tier int
	key  string
	id   int64
}

// The cursor carries a checksum of the canonical query so that a cursor is
// not silently applied to another query (nor to another sort: order).
func encodeSearchCursor(c searchCursor, q *query.Query) string {
	s := fmt.Sprintf("%d;%s;%d;%08x", c.tier, c.key, c.id, crc32.ChecksumIEEE([]byte(q.String())))
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeSearchCursor(s string, q *query.Query) (searchCursor, error) {
	bad := catalog.Invalid("cursor", "is not a cursor of a previous page: pass the next_cursor of the last answer unchanged")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return searchCursor{}, bad
	}
	parts := strings.Split(string(b), ";")
	if len(parts) != 4 || parts[1] == "" || len(parts[1]) > 64 {
		return searchCursor{}, bad
	}
	var c searchCursor
	tier, err1 := strconv.Atoi(parts[0])
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil || tier < 0 || tier > 3 {
		return searchCursor{}, bad
	}
	c.tier, c.key, c.id = tier, parts[1], id
	if parts[3] != fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(q.String()))) {
		return searchCursor{}, catalog.Invalid("cursor", "belongs to another query: a cursor continues the query that returned it")
	}
	return c, nil
}

// SuggestOptions are the inputs of Suggest.
type SuggestOptions struct {
	// Query is the text typed so far, Pos the cursor's byte offset in it.
	Query string
	Pos   int
	// Limit is the number of suggestions, 1..MaxSuggestLimit (default
	// DefaultSuggestLimit).
	Limit int
	// UserID is the asking user, for is:starred in the rest of the query.
	UserID int64
}

// Suggest completes the token under the cursor: a word gives the keys
// starting with it and the key:value pairs whose value starts with it, a
// key:… value the values of that key starting with it. Each suggestion has
// the number of repositories carrying it among those the rest of the query
// selects (the whole catalog when the rest is empty), most first. Matching
// is case-insensitive. The rest of the query must parse: its errors are
// *query.SyntaxError with positions in Query.
func (s *Store) Suggest(ctx context.Context, o SuggestOptions) (*catalog.Suggestions, error) {
	if o.Limit == 0 {
		o.Limit = DefaultSuggestLimit
	}
	if o.Limit < 1 || o.Limit > MaxSuggestLimit {
		return nil, catalog.Invalid("limit", "%d: want 1 to %d", o.Limit, MaxSuggestLimit)
	}
	if len(o.Query) > query.MaxBytes {
		return nil, &query.SyntaxError{Pos: query.MaxBytes, Msg: fmt.Sprintf("the query is longer than %d bytes: shorten it", query.MaxBytes)}
	}
	if o.Pos < 0 || o.Pos > len(o.Query) {
		return nil, catalog.Invalid("pos", "%d is outside the query (0 to %d bytes)", o.Pos, len(o.Query))
	}
	tok := query.TokenAt(o.Query, o.Pos)
	out := &catalog.Suggestions{Start: tok.Start, End: tok.End, Token: tok.Kind.String(), Key: tok.Key,
		Prefix: tok.Prefix, Suggestions: []catalog.Suggestion{}}

	rest := query.WithoutToken(o.Query, tok)
	rq, err := query.Parse(rest)
	if err != nil {
		var se *query.SyntaxError
		if errors.As(err, &se) && se.Pos >= tok.Start {
			// Positions after the token moved left when it was cut out.
			se.Pos += tok.End - tok.Start
		}
		return nil, err
	}
	sel, err := newSelection(rq, rest, o.UserID)
	if err != nil {
		var se *query.SyntaxError
		if errors.As(err, &se) && se.Pos >= tok.Start {
			se.Pos += tok.End - tok.Start
		}
		return nil, err
	}
	if tok.Kind == query.KindPhrase || !suggestible(tok) {
		return out, nil
	}
	out.Narrowed = !rq.IsEmpty()

	var facets []facetCountRow
	switch {
	case !out.Narrowed:
		facets, err = s.catalogFacets(ctx, tok, nil, o.Limit)
	case sel.counted && len(sel.conds) == 1:
		facets, err = s.catalogFacets(ctx, tok, sel.conds[0].selectors, o.Limit)
	default:
		facets, out.Approximate, err = s.narrowedFacets(ctx, sel, tok, o.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("suggest for %q: %w", o.Query, err)
	}
	// owner:, is:, sort: (suggest_keys.go).
	keys, err := s.keyFacets(ctx, sel, tok, o.UserID, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("suggest for %q: %w", o.Query, err)
	}
	facets = mergeFacets(tok, facets, keys, o.Limit)
	for _, f := range facets {
		sg := catalog.Suggestion{Key: f.key, Value: f.value, Count: f.n}
		var completion string
		switch {
		case tok.Kind == query.KindValue:
			sg.Kind, completion = catalog.SuggestValue, f.value
		case f.value == "":
			sg.Kind, completion = catalog.SuggestKey, f.key+":"
		default:
			sg.Kind, completion = catalog.SuggestPair, f.key+":"+f.value
		}
		term := tok.Complete(completion)
		sg.Query, sg.Cursor = query.Replace(o.Query, tok, term)
		sg.Text = term
		if tok.Negated && !strings.HasPrefix(term, "-") {
			sg.Text = "-" + term
		}
		out.Suggestions = append(out.Suggestions, sg)
	}
	return out, nil
}

// suggestible reports whether the token can be completed at all: a value
// needs a well-formed key, and nothing typed may hold characters no tag has.
func suggestible(tok query.Token) bool {
	if strings.ContainsAny(tok.Prefix, `",`) || strings.IndexFunc(tok.Prefix, unicode.IsSpace) >= 0 {
		return false
	}
	if tok.Kind == query.KindValue {
		return catalog.ValidateTagKey(tok.Key) == nil
	}
	return true
}

type facetCountRow struct {
	key, value string
	n          int64
}

func collectFacets(rows pgx.Rows) ([]facetCountRow, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (facetCountRow, error) {
		var f facetCountRow
		err := r.Scan(&f.key, &f.value, &f.n)
		return f, err
	})
}

// catalogFacets completes tok from the counters: those of the whole
// catalog (tag_counts), or with selectors those of the repositories that
// carry one of them (tag_pair_counts; selectors select disjoint sets, so
// their counts add up).
func (s *Store) catalogFacets(ctx context.Context, tok query.Token, selectors []string, limit int) ([]facetCountRow, error) {
	b := &argList{}
	var cond string
	if tok.Kind == query.KindValue {
		cond = "key = " + b.arg(tok.Key) + " AND value <> '' AND value LIKE " + b.arg(likeEscape(tok.Prefix)+"%")
	} else {
		p := b.arg(likeEscape(tok.Prefix) + "%")
		cond = "(value = '' AND key LIKE " + p + " OR value <> '' AND value LIKE " + p + ")"
	}
	table, deltas := "tag_counts", "tag_count_deltas"
	if selectors != nil {
		table, deltas = "tag_pair_counts", "tag_pair_count_deltas"
		cond = "a = ANY(" + b.arg(selectors) + "::text[]) AND " + cond
	}
	sql := `SELECT key, value, sum(n)::bigint AS n FROM (
	SELECT key, value, n FROM ` + table + ` WHERE ` + cond + `
	UNION ALL
	SELECT key, value, n FROM ` + deltas + ` WHERE ` + cond + `
) c
GROUP BY key, value HAVING sum(n) > 0
ORDER BY n DESC, key, value LIMIT ` + b.arg(int64(limit))
	rows, err := s.searchQuery(ctx, sql, b.args...)
	if err != nil {
		return nil, mapError(err)
	}
	f, err := collectFacets(rows)
	return f, mapError(err)
}

// narrowedFacets completes tok by counting the facets of the repositories
// sel selects, for a rest of the query the counters cannot answer (text,
// exclusions, two or more filters). The ingest status counts as the facet
// "status:<status>"; real tags with the key status are left out, as in
// tag_counts. The arrays are unnested
// in the select list (a ProjectSet node), several times cheaper per
// repository than a lateral unnest. When the planner expects more than
// narrowExactUpTo repositories, the first narrowSample are counted and the
// counts scaled (approximate is then true).
func (s *Store) narrowedFacets(ctx context.Context, sel *selection, tok query.Token, limit int) (_ []facetCountRow, approximate bool, _ error) {
	b := sel.builder()
	where := slices.Clone(sel.where)
	if sel.text != "" {
		where = append(where, "r.search @@ "+sel.text)
	}
	est, err := s.estimateRows(ctx, `SELECT 1 FROM repositories r`+whereClause(where), b.args)
	if err != nil {
		return nil, false, err
	}
	sample := ""
	if est > narrowExactUpTo {
		sample = " LIMIT " + strconv.Itoa(narrowSample+1)
	}
	// s: the selected repositories (or the sample); e: their facets that
	// match the token (key and value split once), the ingest status as one
	// more. An empty prefix matches everything: no condition then.
	var match, prefix string
	switch {
	case tok.Kind == query.KindValue:
		match = " AND t LIKE " + b.arg(likeEscape(tok.Key+":"+tok.Prefix)+"%")
	case tok.Prefix != "":
		prefix = b.arg(likeEscape(tok.Prefix) + "%")
		match = " AND (t LIKE " + prefix + " OR substr(t, strpos(t, ':') + 1) LIKE " + prefix + ")"
	}
	sql := `WITH s AS MATERIALIZED (
	SELECT r.id, r.tags, r.ingest_status FROM repositories r` + whereClause(where) + sample + `
), e AS MATERIALIZED (
	SELECT id, split_part(t, ':', 1) AS key, substr(t, strpos(t, ':') + 1) AS value
	FROM (SELECT s.id, unnest(s.tags) AS t FROM s) u
	WHERE NOT starts_with(t, 'status:')` + match + `
	UNION ALL
	SELECT id, 'status', ingest_status FROM (SELECT s.id, s.ingest_status, 'status:' || s.ingest_status AS t FROM s) st
	WHERE true` + match + `
)
`
	if tok.Kind == query.KindValue {
		sql += `SELECT key, value, count(*) AS n, (SELECT count(*) FROM s)
FROM e GROUP BY 1, 2
ORDER BY n DESC, 1, 2 LIMIT ` + b.arg(int64(limit))
	} else {
		// A key counts repositories, not tags: lang:go and lang:js are one
		// repository with the key lang.
		keyMatch, valueMatch := "", ""
		if prefix != "" {
			keyMatch, valueMatch = " WHERE key LIKE "+prefix, " WHERE value LIKE "+prefix
		}
		sql += `SELECT key, value, n, (SELECT count(*) FROM s) FROM (
	SELECT key, '' AS value, count(*) AS n FROM (SELECT DISTINCT id, key FROM e` + keyMatch + `) k GROUP BY key
	UNION ALL
	SELECT key, value, count(*) FROM e` + valueMatch + ` GROUP BY 1, 2
) c
ORDER BY n DESC, key, value LIMIT ` + b.arg(int64(limit))
	}
	rows, err := s.searchQuery(ctx, sql, b.args...)
	if err != nil {
		return nil, false, mapError(err)
	}
	var sampled int64
	facets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (facetCountRow, error) {
		var f facetCountRow
		err := r.Scan(&f.key, &f.value, &f.n, &sampled)
		return f, err
	})
	if err != nil {
		return nil, false, mapError(err)
	}
	if sample == "" || sampled <= narrowSample {
		return facets, false, nil // every selected repository was counted
	}
	// Scale by the estimate, but never below what was seen.
	scale := float64(max(est, sampled)) / float64(sampled)
	for i := range facets {
		facets[i].n = int64(float64(facets[i].n)*scale + 0.5)
	}
	return facets, true, nil
}
