package apitype

import "github.com/appstore-dev/appstore/catalog"

// Answers of search and autocomplete.
type (
	SearchPage     = catalog.SearchPage
	SearchResult   = catalog.SearchResult
	Suggestions    = catalog.Suggestions
	Suggestion     = catalog.Suggestion
	SuggestionKind = catalog.SuggestionKind
)

// SearchOptions are the parameters of GET /api/v1/search.
type SearchOptions struct {
	// Query is in the search language (package catalog/query): key:value
	// filters, -key:value, key:a,b, "phrases", words; "" lists everything.
	Query string
	// Limit is the page size (1–100); zero lets the daemon choose (20).
	Limit int
	// Cursor is the NextCursor of the previous page of the same Query.
	Cursor string
	// ExactTotal makes the daemon count every match even for a broad query
	// whose total it would otherwise estimate.
	ExactTotal bool
}

// AutocompleteOptions are the parameters of GET /api/v1/autocomplete.
type AutocompleteOptions struct {
	// Query is the text typed so far.
	Query string
	// Pos is the cursor's byte offset in Query; negative means its end.
	Pos int
	// Limit is the number of suggestions (1–100); zero lets the daemon
	// choose (10).
	Limit int
}
