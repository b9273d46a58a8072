// Package query parses the search language of appstore and finds the token
// under the cursor for autocomplete. It is pure (standard library and the
// pure catalog package) so the CLI, the TUI and the daemon share one parser.
//
// # Search language
//
//	lang:go framework:gin,fiber -license:gpl "live chat" dash
//
// A query is a list of terms separated by whitespace. All terms must match
// (AND). Keys, values and text are case-insensitive: everything is
// lower-cased.
//
//	key:value       repositories carrying the tag key:value
//	key:a,b         carrying key:a or key:b (OR within one term)
//	-key:value      not carrying it (-key:a,b: carrying neither)
//	word            full text over name, description and README
//	"some phrase"   the words next to each other in that order
//	-word           full text must not contain the word
//	-"some phrase"  nor the phrase
//	status:ready    an ordinary key:value term; the search filters the
//	                ingest status with it (queued, processing, ready, failed)
//	owner:alice     an ordinary key:value term; the search selects the apps
//	                the user alice owns with it (-owner:alice: the others)
//	is:starred      an ordinary key:value term; the search selects the apps
//	                the asking user starred (-is:starred: the others)
//	sort:new        an ordinary key:value term; the search orders the
//	                results by it (trending, stars, new, launches, relevance)
//
// The last bare word, when nothing (not even a space) follows it, is being
// typed and matches as a prefix: "dash" finds "dashboard". "dash " does not.
//
// Grammar (whitespace is what unicode.IsSpace says):
//
//	query  = { space } [ term { space { space } term } ] { space }
//	term   = [ "-" ] ( phrase | filter | word )
//	phrase = '"' { any character but '"' } '"'      ; followed by space or end
//	filter = key ":" value { "," value }
//	key    = 1*64 of a-z A-Z 0-9 . _ -, not starting with '-'
//	value  = 1*128 printable characters but space, ',' and '"'
//	word   = printable characters but space, ':' and '"', not starting with '-'
//
// Values may contain ':' (runtime:node:20 is key "runtime", value "node:20").
// A word containing ':' is a filter, so text with a colon, such as a URL,
// must be quoted. Two terms with the same key are two conditions:
// lang:go lang:js selects repositories tagged with both.
//
// Limits: at most 1024 bytes (MaxBytes), 32 terms (MaxTerms) and 32 values
// in a term (MaxValues). Control and invisible characters and invalid UTF-8
// are refused.
//
// Errors are *SyntaxError with the byte position of the problem and what was
// expected: an unterminated quote, text glued to a closing quote, an empty
// phrase, a '"' inside a word or value, an empty key (":go"), an empty value
// ("lang:", "lang:a,,b", "lang:a,"), a bad key character ("c++:x"), a lone
// '-' or a doubled "--", too long a key or value, too many terms or values,
// too long a query. errors.Is(err, catalog.ErrInvalid) holds for them.
//
// # Autocomplete
//
// TokenAt(s, pos) tells which term the cursor (a byte offset) is in: a
// KindWord (a key, pair or word being typed: suggest keys and key:value pairs
// starting with Token.Prefix), a KindValue (suggest the values of Token.Key
// starting with Token.Prefix; in key:a,b the value being typed is the one
// around the cursor), or a KindPhrase (nothing to suggest). A cursor after a
// space, or right before a term, is an empty KindWord token.
// WithoutToken(s, tok) is the rest of the query, which narrows the counts of
// the suggestions. Replace(s, tok, tok.Complete(suggestion)) applies an
// accepted suggestion: the term is replaced, a negated term stays negated,
// and a finished term gets a trailing space (a key ending in ':' does not).
package query
