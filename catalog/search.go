package catalog

import "time"

// SearchResult is one repository found by a search: what a result list
// shows, without the fields only the detail view needs.
type SearchResult struct {
	ID          int64  `json:"id"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Emoji is the app's emoji, "" when it has none.
	Emoji string `json:"emoji,omitempty"`
	// Tags are the repository's key:value tags of every source, once each,
	// sorted (Source is not set).
	Tags         []Tag        `json:"tags"`
	IngestStatus IngestStatus `json:"ingest_status"`
	// LatestBuild is the newest build, nil when there is none.
	LatestBuild *BuildSummary `json:"latest_build,omitempty"`
	// ThumbnailURL is the path of the app's screenshot, "" while it has
	// none; ColorFrom and ColorTo are the colours its Hugging Face front
	// matter gives its card (colorFrom, colorTo), for a card without one.
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
	ColorFrom    string `json:"color_from,omitempty"`
	ColorTo      string `json:"color_to,omitempty"`
	LaunchCount  int64  `json:"launch_count"`
	// StarCount is how many people starred the app.
	StarCount int64     `json:"star_count"`
	CreatedAt time.Time `json:"created_at"`
	// Relevance is where the words of the query were found: 3 all in the
	// name, 2 in the name and description, 1 somewhere including the
	// README; 0 when the query has no words or a sort: other than
	// relevance. Results are ordered by it, then by launches, then newest
	// first, unless sort: says otherwise.
	Relevance int `json:"relevance,omitempty"`
}

// SearchPage is one page of search results.
type SearchPage struct {
	Results []SearchResult `json:"results"`
	// Total is the number of repositories the query matches. It is exact
	// when TotalExact is set, else the database's estimate: counting every
	// match of a broad query would cost more than the page itself (see
	// docs/performance.md); ask for an exact total when it matters.
	Total      int64 `json:"total"`
	TotalExact bool  `json:"total_exact"`
	// NextCursor is set when more results follow; pass it as cursor with
	// the same query for the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// SuggestionKind says what a suggestion completes.
type SuggestionKind string

const (
	SuggestKey   SuggestionKind = "key"   // "framework:", a key whose values come next
	SuggestPair  SuggestionKind = "pair"  // "framework:gin", a whole key:value term
	SuggestValue SuggestionKind = "value" // a value of the key being typed
)

// Suggestion is one completion of the token under the cursor.
type Suggestion struct {
	// Text replaces query[Start:End] of the Suggestions: the whole term,
	// with its leading '-' when the term is negated.
	Text  string         `json:"text"`
	Kind  SuggestionKind `json:"kind"`
	Key   string         `json:"key"`
	Value string         `json:"value,omitempty"` // "" for a key
	// Count is the number of repositories that carry the tag (or the key,
	// or are in the ingest status), among those the rest of the query
	// selects.
	Count int64 `json:"count"`
	// Query is the whole query with the suggestion accepted, and Cursor
	// the byte offset where typing goes on (after a space for a finished
	// term, right after the ':' of a key).
	Query  string `json:"query"`
	Cursor int    `json:"cursor"`
}

// Suggestions are the completions of the token under a cursor.
type Suggestions struct {
	// Start and End are the byte range of the token in the query; Start ==
	// End when the cursor is not in a term (a new one would go there).
	Start int `json:"start"`
	End   int `json:"end"`
	// Token is "word" (a key, pair or word), "value" (a value of Key) or
	// "phrase" (a quoted phrase: nothing is suggested).
	Token string `json:"token"`
	Key   string `json:"key,omitempty"`
	// Prefix is the lower-cased text before the cursor that every
	// suggestion starts with (its key, or its value).
	Prefix string `json:"prefix"`
	// Narrowed says the counts are among the repositories the rest of the
	// query selects, rather than the whole catalog.
	Narrowed bool `json:"narrowed"`
	// Approximate says the counts were scaled from a sample of the
	// repositories the rest selects: it selects too many to count them all
	// while typing, and the counters cover only a rest of one filter (or
	// of statuses). Show them as estimates ("~1,200").
	Approximate bool         `json:"approximate,omitempty"`
	Suggestions []Suggestion `json:"suggestions"`
}
