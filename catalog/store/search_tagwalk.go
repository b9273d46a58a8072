package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
)

// A tag walk answers a search narrowed by tag filters alone (one or two
// filters the counters count, at least one of them a single tag, no words)
// from tag_sort_keys (migration 0020), whose indexes list each tag's
// repositories in the order of each sort. With one tag it reads that tag in
// the page's order, tests each repository against every condition of the
// query, and stops after a page. With two tags it reads both in the order
// side by side (a merge join on the sort keys and the id: index entries
// only) and fetches the page's repositories alone. Reading repositories'
// own order index instead visits about limit × catalog / matches rows, a
// bitmap of every match visits them all; one tag's walk visits about
// limit × tag / matches.
//
// The counters say beforehand how many repositories match and how many
// carry each tag, so Search picks the walk or ranking every match on
// exact figures rather than on the planner's estimate of two filters,
// which takes them as independent.
const (
	tagWalkOff    = 1
	tagWalkAlways = 2

	// The costs of a walk in rows of ranking every match (a bitmap heap
	// visit and a recheck each), measured at 100 000 repositories:
	// tagWalkCost for one step of a one-tag walk (an index entry, the
	// repository by its primary key, the filters; 1.5–2), and one for
	// tagMergeEntries entries of a two-tag merge (index entries read in
	// order, about 200 a page: 0.45 µs each against 8 µs a step).
	tagWalkCost     = 2
	tagMergeEntries = 10
)

// tagWalkPage returns the page of sel from a tag walk, or from ranking
// every match when the counts say that visits fewer rows; ok is false when
// sel is not for a walk (Search then plans as before).
func (s *Store) tagWalkPage(ctx context.Context, sel *selection, q *query.Query, after *searchCursor, limit int) (_ *catalog.SearchPage, ok bool, _ error) {
	if s.tagWalk == tagWalkOff || !sel.counted || sel.text != "" || len(sel.conds) == 0 || len(sel.conds) > 2 {
		return nil, false, nil
	}
	var tags []int // the conditions that are one tag
	for i, c := range sel.conds {
		if len(c.selectors) == 1 && len(c.facets) == 1 && c.facets[0].key != "status" {
			tags = append(tags, i)
		}
	}
	if len(tags) == 0 {
		return nil, false, nil
	}

	// Group 0 counts the matches (two conditions: their pairs, as
	// countedTotal), group 1+j the repositories carrying the tag of
	// tags[j] (its pair with itself).
	var groups []int32
	var as, keys, values []string
	add := func(g int, a string, f facet) {
		groups, as, keys, values = append(groups, int32(g)), append(as, a), append(keys, f.key), append(values, f.value)
	}
	if len(sel.conds) == 2 {
		for _, a := range sel.conds[0].selectors {
			for _, f := range sel.conds[1].facets {
				add(0, a, f)
			}
		}
	}
	for j, i := range tags {
		add(j+1, sel.conds[i].selectors[0], sel.conds[i].facets[0])
	}
	counts, err := s.pairCountGroups(ctx, groups, as, keys, values, len(tags)+1)
	if err != nil {
		return nil, true, err
	}
	total := counts[0]
	if len(sel.conds) == 1 {
		total = counts[1]
	}
	walked := 0 // the rarest tag
	for j := range tags {
		if counts[j+1] < counts[walked+1] {
			walked = j
		}
	}
	// How far the walk goes: to the (limit+1)th match, which lies about
	// (limit+1)/total of the way along the order (everything when nothing
	// matches).
	want := int64(limit + 1)
	along := func(n int64) int64 {
		if total == 0 {
			return n
		}
		return min(n, (want*n+total-1)/total)
	}
	var cost int64
	var others []string // the tags read beside the walked one
	if len(tags) == 1 {
		cost = tagWalkCost * along(counts[1])
	} else {
		var entries int64
		for j, i := range tags {
			entries += along(counts[j+1])
			if j != walked {
				others = append(others, sel.conds[i].selectors[0])
			}
		}
		cost = entries/tagMergeEntries + tagWalkCost*min(want, total)
	}
	few := int64(fewMatchesUpTo)
	if s.fewMatches != 0 {
		few = s.fewMatches
	}
	if s.tagWalk != tagWalkAlways && total <= few && cost > total {
		page, err := s.rankedPage(ctx, sel, q, after, limit)
		return page, true, err
	}

	page, err := s.walkTag(ctx, sel, sel.conds[tags[walked]].selectors[0], others, after, limit)
	if err != nil {
		return nil, true, err
	}
	keyOf := page.keys
	out := &catalog.SearchPage{Results: page.results, Total: total, TotalExact: true}
	if len(out.Results) > limit {
		out.Results = out.Results[:limit]
		last := out.Results[limit-1]
		out.NextCursor = encodeSearchCursor(searchCursor{tier: 0, key: keyOf[last.ID], id: last.ID}, q)
	} else if after == nil {
		out.Total = int64(len(out.Results)) // the page holds every match
	}
	return out, true, nil
}

type walkedPage struct {
	results []catalog.SearchResult
	keys    map[int64]string
}

// walkTag reads up to limit+1 repositories that carry tag and every tag of
// others and match sel, in sel's order, after the cursor. It reads
// tag_sort_keys' index of the order backwards for tag, and for each of
// others alike, merged on the sort keys and the id (the rows of one
// repository all hold its keys); each repository that remains is then
// fetched and tested against every condition of sel.
func (s *Store) walkTag(ctx context.Context, sel *selection, tag string, others []string, after *searchCursor, limit int) (*walkedPage, error) {
	b := sel.builder()
	// The order's columns as tag_sort_keys names them: it copies them
	// from repositories under the same names.
	var kcols []string
	for _, c := range sel.order.columns {
		name, ok := strings.CutPrefix(c, "r.")
		if !ok {
			return nil, fmt.Errorf("order %s: column %s is not one of repositories", sel.order.name, c)
		}
		kcols = append(kcols, "k."+name)
	}
	join := ""
	for i, o := range others {
		alias := fmt.Sprintf("k%d", i+1)
		on := []string{alias + ".tag = " + b.arg(o)}
		for _, c := range append(slices.Clone(kcols), "k.repository_id") {
			on = append(on, alias+strings.TrimPrefix(c, "k")+" = "+c)
		}
		join += "\n\tJOIN tag_sort_keys " + alias + " ON " + strings.Join(on, " AND ")
	}
	where := []string{"k.tag = " + b.arg(tag)}
	if after != nil && after.tier == 0 {
		keys, err := sel.order.keyArgs(b, after.key)
		if err != nil {
			return nil, err
		}
		where = append(where, fmt.Sprintf("(%s, k.repository_id) < (%s, %s::bigint)", strings.Join(kcols, ", "), keys, b.arg(after.id)))
	}
	// LIMIT 1 keeps the lateral subquery a probe per entry (a join would
	// let the planner hash every match first, and sort them).
	sql := `SELECT p.id, p.slug, p.name, p.description, p.emoji, p.tags, p.ingest_status, p.launch_count, p.star_count, p.created_at, 0,
	b.id, b.status, b.commit_sha, b.image_tag, b.cached, b.completed_at, ` + cardColumns + `, ` + sel.order.keyText("p") + `
FROM (
	SELECT r.id, r.slug, r.name, r.description, r.emoji, r.tags, r.ingest_status, r.launch_count, r.star_count, r.created_at,
		r.hf, ` + sel.order.selectList() + `
	FROM tag_sort_keys k` + join + `
	CROSS JOIN LATERAL (
		SELECT r.id, r.slug, r.name, r.description, r.emoji, r.tags, r.ingest_status, r.launch_count, r.star_count, r.created_at, r.trend,
			r.metadata -> 'hf' AS hf
		FROM repositories r` + whereClause(append([]string{"r.id = k.repository_id"}, sel.where...)) + `
		LIMIT 1
	) r` + whereClause(where) + `
	ORDER BY ` + sel.order.orderBy("k", kcols...) + `, k.repository_id DESC LIMIT ` + b.arg(int64(limit+1)) + `
) p
` + pageJoins + `
ORDER BY ` + sel.order.orderBy("p") + `, p.id DESC`
	// A merge of tags has one good plan whatever the tags: prepared, it
	// is planned once per connection. A one-tag walk's plan weighs the
	// tag's size, and is planned each time.
	mode := execMode
	if len(others) > 0 {
		mode = preparedMode
	}
	rows, err := s.searchQueryMode(ctx, mode, sql, b.args...)
	if err != nil {
		return nil, mapError(err)
	}
	page := &walkedPage{keys: map[int64]string{}}
	if page.results, err = scanResults(rows, page.keys, nil); err != nil {
		return nil, err
	}
	return page, nil
}

// pairCountGroups sums tag_pair_counts (with its deltas) over the rows
// (as[i], keys[i], values[i]) of each group: n sums, by group number.
func (s *Store) pairCountGroups(ctx context.Context, groups []int32, as, keys, values []string, n int) ([]int64, error) {
	b := &argList{}
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(int(g))
	}
	// A VALUES list (see valuesRows): prepared, the statement keeps its
	// generic plan and is not planned again.
	r, err := s.searchQueryMode(ctx, preparedMode, `WITH q(g, a, key, value) AS `+b.valuesRows(gs, as, keys, values)+`
SELECT g::int, sum(n)::bigint FROM (
	SELECT q.g, c.n FROM q
	JOIN tag_pair_counts c ON c.a = q.a AND c.key = q.key AND c.value = q.value
	UNION ALL
	SELECT q.g, d.n FROM q
	JOIN tag_pair_count_deltas d ON d.a = q.a AND d.key = q.key AND d.value = q.value
) c
GROUP BY g`, b.args...)
	if err != nil {
		return nil, mapError(err)
	}
	out := make([]int64, n)
	var g int32
	var sum int64
	_, err = pgx.ForEachRow(r, []any{&g, &sum}, func() error {
		if g < 0 || int(g) >= n {
			return fmt.Errorf("pair counts: group %d of %d", g, n)
		}
		out[g] = max(sum, 0)
		return nil
	})
	if err != nil {
		return nil, mapError(err)
	}
	return out, nil
}
