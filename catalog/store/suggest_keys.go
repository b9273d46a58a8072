package store

import (
	"context"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
)

// The keys of the search language that are not tags, and so are in no
// counter: owner:<name>, is:starred and sort:<order>. Autocomplete offers
// them as it offers tags, counted among the repositories the rest of the
// query selects: owner: the apps each user owns, is:starred the apps the
// asking user starred (nothing for no one: the term needs a user), sort:
// every selected app (an order selects nothing away). They are counted
// only when the token being typed can become one of them, so the tag
// completions keep their cost.

const ownerKey = "owner"

// wordKeys are the keys a word completes to besides the tags'.
var wordKeys = []string{ownerKey, catalog.IsKey, catalog.SortKey}

// isSearchKey reports whether key is one of wordKeys: its values are
// completed here, not from the tags.
func isSearchKey(key string) bool { return slices.Contains(wordKeys, key) }

// keyFacets completes tok with the search language's own keys (a word
// that starts one of them) or their values (after owner:, is:, sort:),
// counted among the repositories sel selects.
func (s *Store) keyFacets(ctx context.Context, sel *selection, tok query.Token, userID int64, limit int) ([]facetCountRow, error) {
	prefix := strings.ToLower(tok.Prefix)
	switch {
	case tok.Kind == query.KindValue && tok.Key == ownerKey:
		b := sel.builder()
		where := append(sel.conditions(), "r.owned_by <> ''", "r.owned_by LIKE "+b.arg(likeEscape(prefix)+"%"))
		rows, err := s.searchQuery(ctx, `SELECT 'owner', r.owned_by, count(*) FROM repositories r`+whereClause(where)+`
GROUP BY r.owned_by ORDER BY 3 DESC, 2 LIMIT `+b.arg(int64(limit)), b.args...)
		if err != nil {
			return nil, mapError(err)
		}
		f, err := collectFacets(rows)
		return f, mapError(err)
	case tok.Kind == query.KindValue && tok.Key == catalog.IsKey:
		if userID == 0 || !strings.HasPrefix(catalog.IsStarred, prefix) {
			return nil, nil
		}
		n, _, _, err := s.keyCounts(ctx, sel, userID)
		if err != nil || n == 0 {
			return nil, err
		}
		return []facetCountRow{{catalog.IsKey, catalog.IsStarred, n}}, nil
	case tok.Kind == query.KindValue && tok.Key == catalog.SortKey:
		var out []facetCountRow
		for _, o := range catalog.Sorts {
			if strings.HasPrefix(o, prefix) {
				out = append(out, facetCountRow{key: catalog.SortKey, value: o})
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		_, _, all, err := s.keyCounts(ctx, sel, 0)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i].n = all
		}
		return out, nil
	case tok.Kind == query.KindWord && prefix != "":
		var keys []string
		for _, k := range wordKeys {
			if strings.HasPrefix(k, prefix) && (k != catalog.IsKey || userID != 0) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return nil, nil
		}
		starred, owned, all, err := s.keyCounts(ctx, sel, userID)
		if err != nil {
			return nil, err
		}
		var out []facetCountRow
		for _, k := range keys {
			n := map[string]int64{ownerKey: owned, catalog.IsKey: starred, catalog.SortKey: all}[k]
			if n > 0 {
				out = append(out, facetCountRow{key: k, n: n})
			}
		}
		return out, nil
	}
	return nil, nil
}

// keyCounts counts, among the repositories sel selects, those userID
// starred (none for 0), those with an owner, and all.
func (s *Store) keyCounts(ctx context.Context, sel *selection, userID int64) (starred, owned, all int64, err error) {
	if len(sel.conditions()) == 0 {
		// The whole catalog: every app is in one status (the status
		// counters), the owned ones are in the owner index, the user's
		// stars in theirs; no pass over the repositories.
		err = s.pool.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM stars WHERE user_id = $1),
	(SELECT count(*) FROM repositories WHERE owned_by <> ''),
	(SELECT coalesce(sum(n), 0)::bigint FROM (SELECT n FROM tag_counts WHERE key = 'status' AND value <> ''
		UNION ALL SELECT n FROM tag_count_deltas WHERE key = 'status' AND value <> '') c)`, userID).Scan(&starred, &owned, &all)
		return starred, owned, all, mapError(err)
	}
	b := sel.builder()
	starredExpr := "0"
	if userID != 0 {
		starredExpr = "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM stars st WHERE st.repository_id = r.id AND st.user_id = " + b.arg(userID) + "))"
	}
	err = s.pool.QueryRow(ctx, `SELECT `+starredExpr+`, count(*) FILTER (WHERE r.owned_by <> ''), count(*)
FROM repositories r`+whereClause(sel.conditions()), b.args...).Scan(&starred, &owned, &all)
	return starred, owned, all, mapError(err)
}

// conditions are sel's WHERE conditions, its text search among them.
func (sel *selection) conditions() []string {
	where := slices.Clone(sel.where)
	if sel.text != "" {
		where = append(where, "r.search @@ "+sel.text)
	}
	return where
}

// mergeFacets puts the search language's own keys among the tags'
// completions, most first, at most limit. For a value of one of those
// keys the tags' completions (a tag that happens to use the key, which
// the search never matches) are left out.
func mergeFacets(tok query.Token, tags, keys []facetCountRow, limit int) []facetCountRow {
	if tok.Kind == query.KindValue && isSearchKey(tok.Key) {
		return keys
	}
	if len(keys) == 0 {
		return tags
	}
	out := append(slices.Clone(tags), keys...)
	slices.SortStableFunc(out, func(a, b facetCountRow) int {
		switch {
		case a.n != b.n:
			if a.n > b.n {
				return -1
			}
			return 1
		case a.key != b.key:
			return strings.Compare(a.key, b.key)
		}
		return strings.Compare(a.value, b.value)
	})
	return out[:min(len(out), limit)]
}
