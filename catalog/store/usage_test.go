package store_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

func TestUsageCountsVisitorsOncePerDayAndMinutesOnce(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	createRepo(t, st, "https://github.com/acme/dash.git")
	now := time.Date(2026, 3, 10, 15, 4, 0, 0, time.UTC)
	yesterday := now.AddDate(0, 0, -1)
	batch := []store.UsageCount{
		{Slug: "dash", Day: now, PreviewRequests: 5, Visitors: [][]byte{[]byte("v1"), []byte("v2")}, Minutes: []int{904, 905}},
		{Slug: "dash", Day: yesterday, PreviewRequests: 1, Visitors: [][]byte{[]byte("v1")}, Minutes: []int{0}},
		{Slug: "gone", Day: now, PreviewRequests: 9}, // removed since: dropped
	}
	if err := st.RecordUsage(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// A second process's batch: v2 again, v3 new, minute 905 again.
	if err := st.RecordUsage(ctx, []store.UsageCount{{Slug: "dash", Day: now, PreviewRequests: 2,
		Visitors: [][]byte{[]byte("v2"), []byte("v3")}, Minutes: []int{905, 1439}}}); err != nil {
		t.Fatal(err)
	}
	stats, err := st.UsageStats(ctx, "dash", 3, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.UsageDay{
		{Day: "2026-03-08"},
		{Day: "2026-03-09", PreviewRequests: 1, Visitors: 1, ActiveMinutes: 1},
		{Day: "2026-03-10", PreviewRequests: 7, Visitors: 3, ActiveMinutes: 3},
	}
	if !slices.Equal(stats.Days, want) {
		t.Fatalf("days = %+v\nwant %+v", stats.Days, want)
	}
	if stats.Total != (catalog.UsageDay{PreviewRequests: 8, Visitors: 4, ActiveMinutes: 4}) {
		t.Fatalf("total = %+v", stats.Total)
	}
	if _, err := st.UsageStats(ctx, "nope", 3, now); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("stats of a missing app = %v, want not found", err)
	}
	if _, err := st.UsageStats(ctx, "dash", 0, now); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("0 days = %v, want invalid", err)
	}
}

func TestUsageKeysAreSharedPerDayAndPrunedWithTheHashes(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/dash.git")
	now := time.Now().UTC()
	old := now.AddDate(0, 0, -3)
	k1, err := st.UsageKeys(ctx, now, old)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := st.UsageKeys(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	today := catalog.UsageDayOf(now)
	if len(k1[today]) != 32 || string(k1[today]) != string(k2[today]) {
		t.Fatalf("the day's key changed between calls: %x, %x", k1[today], k2[today])
	}
	if string(k1[today]) == string(k1[catalog.UsageDayOf(old)]) {
		t.Fatal("two days share a key")
	}
	if err := st.RecordUsage(ctx, []store.UsageCount{
		{Slug: "dash", Day: old, PreviewRequests: 1, Visitors: [][]byte{[]byte("a")}},
		{Slug: "dash", Day: now, PreviewRequests: 1, Visitors: [][]byte{[]byte("b")}},
		{Slug: "dash", Day: now.AddDate(0, 0, -100), Launches: 1},
	}); err != nil {
		t.Fatal(err)
	}
	n, err := st.PruneUsage(ctx, 50*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("pruned %d daily rows, want the one 100 days old", n)
	}
	var hashes, keys, days int
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM usage_visitors), (SELECT count(*) FROM usage_keys),
		(SELECT count(*) FROM usage_days WHERE repository_id = $1)`, repo.ID).Scan(&hashes, &keys, &days); err != nil {
		t.Fatal(err)
	}
	if hashes != 1 || keys != 1 || days != 2 {
		t.Fatalf("after pruning: %d hashes, %d keys, %d days; want today's hash and key, and the two recent days", hashes, keys, days)
	}
	stats, err := st.UsageStats(ctx, "dash", 4, now)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Days[0].Visitors != 1 {
		t.Fatalf("the count of a pruned day's visitors went with its hashes: %+v", stats.Days)
	}
}

// craftedHistory registers four apps with a known history, oldest first:
// old (50 launches two months ago), recent (2 launches yesterday), visited
// (10 visitors three days ago), idle (nothing).
func craftedHistory(t *testing.T) *store.Store {
	t.Helper()
	st := storetest.New(t)
	ctx := context.Background()
	for _, name := range []string{"old", "recent", "visited", "idle"} {
		createRepo(t, st, "https://github.com/acme/"+name+".git", "kind:demo")
	}
	now := time.Now()
	var visitors [][]byte
	for i := range 10 {
		visitors = append(visitors, []byte{byte(i)})
	}
	if err := st.RecordUsage(ctx, []store.UsageCount{
		{Slug: "old", Day: now.AddDate(0, 0, -60), Launches: 50},
		{Slug: "recent", Day: now.AddDate(0, 0, -1), Launches: 2},
		{Slug: "visited", Day: now.AddDate(0, 0, -3), Visitors: visitors, PreviewRequests: 40},
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

func slugsOf(t *testing.T, st *store.Store, q string, limit int) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 10 {
		page, err := st.Search(context.Background(), store.SearchOptions{Query: q, Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		for _, r := range page.Results {
			out = append(out, r.Slug)
		}
		if cursor = page.NextCursor; cursor == "" {
			return out
		}
	}
	t.Fatalf("search %q: more pages than results", q)
	return nil
}

func TestTrendingOrderOnACraftedHistory(t *testing.T) {
	st := craftedHistory(t)
	want := map[string][]string{
		"":                {"visited", "recent", "old", "idle"},
		"sort:trending":   {"visited", "recent", "old", "idle"},
		"kind:demo":       {"old", "recent", "idle", "visited"}, // launches, then newest
		"sort:launches":   {"old", "recent", "idle", "visited"},
		"sort:new":        {"idle", "visited", "recent", "old"},
		"sort:stars":      {"idle", "visited", "recent", "old"}, // no stars: newest first
		"-zzz sort:new":   {"idle", "visited", "recent", "old"},
		"recent sort:new": {"recent"},
		"SORT:Trending ":  {"visited", "recent", "old", "idle"},
	}
	for _, plan := range []struct {
		name string
		few  int64
	}{{"ranked", 0}, {"tiers", -1}} {
		store.SetFewMatchesUpTo(st, plan.few)
		for q, w := range want {
			for _, limit := range []int{1, 3, 20} {
				if got := slugsOf(t, st, q, limit); !slices.Equal(got, w) {
					t.Errorf("%s plan, %q by %d: %v, want %v", plan.name, q, limit, got, w)
				}
			}
		}
	}
	store.SetFewMatchesUpTo(st, 0)
	// A cursor of one order does not continue another.
	page, err := st.Search(context.Background(), store.SearchOptions{Query: "sort:new", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Search(context.Background(), store.SearchOptions{Query: "sort:stars", Limit: 1, Cursor: page.NextCursor}); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("a sort:new cursor on sort:stars = %v, want invalid", err)
	}
}

func TestSortTermsAreChecked(t *testing.T) {
	st := storetest.New(t)
	for q, msg := range map[string]string{
		"sort:hot":               "sort:hot: the order is one of trending, stars, new, launches, relevance",
		"sort:new,stars":         "give one order",
		"sort:new sort:stars":    "give one sort: term",
		"lang:go -sort:trending": "an order cannot be excluded",
	} {
		_, err := st.Search(context.Background(), store.SearchOptions{Query: q})
		if !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want invalid saying %q", q, err, msg)
		}
	}
}

// TestPruningUsageRewritesTrends: usage past the retention goes, and with
// it what it gave to the trending score; the others' scores stay.
func TestPruningUsageRewritesTrends(t *testing.T) {
	st := craftedHistory(t)
	ctx := context.Background()
	trends := func() map[string]float64 {
		rows, err := st.Pool().Query(ctx, `SELECT slug, trend FROM repositories`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for rows.Next() {
			var slug string
			var trend float64
			if err := rows.Scan(&slug, &trend); err != nil {
				t.Fatal(err)
			}
			out[slug] = trend
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := trends()
	if math.IsInf(before["old"], -1) {
		t.Fatalf("old has no score before pruning: %v", before)
	}
	n, err := st.PruneUsage(ctx, 30*24*time.Hour, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("prune: %d rows, %v; want old's one", n, err)
	}
	after := trends()
	if !math.IsInf(after["old"], -1) {
		t.Errorf("old's trend after its only usage was pruned: %v, want -Infinity", after["old"])
	}
	for _, slug := range []string{"recent", "visited", "idle"} {
		if after[slug] != before[slug] {
			t.Errorf("%s's trend changed from %v to %v", slug, before[slug], after[slug])
		}
	}
}
