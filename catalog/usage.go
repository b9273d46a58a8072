package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// UsageDay is how one app was used on one day (UTC).
type UsageDay struct {
	// Day is the date, "2006-01-02" ("" in a total).
	Day string `json:"day,omitempty"`
	// Launches are the launches asked for that day (warm-pool starts
	// excluded, a reused launch not counted again).
	Launches int64 `json:"launches"`
	// PreviewRequests are the HTTP requests the preview proxy served
	// for the app, pages and assets alike.
	PreviewRequests int64 `json:"preview_requests"`
	// Visitors are the distinct clients among them, told apart by a
	// keyed hash of address and user agent under a key of the day: no
	// address is kept, and a visitor of two days counts on each.
	Visitors int64 `json:"visitors"`
	// ActiveMinutes are the minutes of the day in which the app served at
	// least one preview request.
	ActiveMinutes int64 `json:"active_minutes"`
}

// UsageStats is the usage of one app over its last days.
type UsageStats struct {
	Slug string `json:"slug"`
	// Days are the days asked for, oldest first, every day present
	// (zeros on a day without use).
	Days []UsageDay `json:"days"`
	// Total sums Days; its Visitors add the days' counts, so one visitor
	// of two days counts twice. Day is "".
	Total UsageDay `json:"total"`
	// LaunchCount and StarCount are the app's all-time counts.
	LaunchCount int64 `json:"launch_count"`
	StarCount   int64 `json:"star_count"`
}

// Limits of the usage statistics.
const (
	DefaultStatsDays = 30
	MaxStatsDays     = 400
)

// ValidateStatsDays checks the number of days asked for.
func ValidateStatsDays(days int) error {
	if days < 1 || days > MaxStatsDays {
		return Invalid("days", "%d: want 1 to %d", days, MaxStatsDays)
	}
	return nil
}

// UsageDayOf returns t's day in UTC, as usage is counted.
func UsageDayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Sort orders of search results (the sort: term of the search language).
const (
	// SortRelevance is the default of a query with words: where the words
	// were found, then launches, then newest first.
	SortRelevance = "relevance"
	// SortTrending is recent use: launches, visitors and stars, each
	// counting half as much every TrendHalfLife. The default of the
	// empty query.
	SortTrending = "trending"
	SortStars    = "stars"    // most stars first
	SortNew      = "new"      // newest registered first
	SortLaunches = "launches" // most launches of all time first
)

// SortKey is the search language's key for the order of results.
const SortKey = "sort"

// Sorts are the orders sort: accepts.
var Sorts = []string{SortTrending, SortStars, SortNew, SortLaunches, SortRelevance}

// TrendHalfLife is how fast trending forgets: a launch, a visitor or a star
// counts half as much after this long.
const TrendHalfLife = 7 * 24 * time.Hour

// Weights of the trending score: what one launch, one visitor (on one
// day) and one star add.
const (
	TrendLaunchWeight  = 3
	TrendVisitorWeight = 1
	TrendStarWeight    = 5
)

// ValidateSort checks a sort: value.
func ValidateSort(s string) error {
	if !slices.Contains(Sorts, s) {
		return Invalid("sort", "%q is not an order: use %s", s, strings.Join(Sorts, ", "))
	}
	return nil
}

// SortError explains a sort: term that cannot be used.
func SortError(values []string) string {
	if len(values) != 1 {
		return fmt.Sprintf("sort:%s: give one order, one of %s", strings.Join(values, ","), strings.Join(Sorts, ", "))
	}
	return fmt.Sprintf("sort:%s: the order is one of %s", values[0], strings.Join(Sorts, ", "))
}
