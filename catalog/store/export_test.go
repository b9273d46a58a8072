package store

// SetFewMatchesUpTo changes the number of matches up to which Search ranks
// every match in one statement; -1 makes every search read the relevance
// tiers in launch order, the plan of broad queries on large catalogs.
func SetFewMatchesUpTo(st *Store, n int64) { st.fewMatches = n }

// MigrateWith applies the migrations ms (instead of the embedded ones).
var MigrateWith = migrate

// Modes of SetTagWalk.
const (
	TagWalkAuto   = 0
	TagWalkOff    = tagWalkOff
	TagWalkAlways = tagWalkAlways
)

// SetTagWalk makes Search walk a tag filter's tag_sort_keys in the page's
// order whenever it can (TagWalkAlways), never (TagWalkOff: the plans it
// had before), or as the counts decide (TagWalkAuto).
func SetTagWalk(st *Store, mode int) { st.tagWalk = mode }
