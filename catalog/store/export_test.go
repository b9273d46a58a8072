package store

// SetFewMatchesUpTo changes the number of matches up to which Search ranks
// every match in one statement; -1 makes every search read the relevance
// tiers in launch order, the plan of broad queries on large catalogs.
func SetFewMatchesUpTo(st *Store, n int64) { st.fewMatches = n }

// MigrateWith applies the migrations ms (instead of the embedded ones).
var MigrateWith = migrate
