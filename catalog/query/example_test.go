package query_test

import (
	"errors"
	"fmt"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
)

func ExampleParse() {
	q, err := query.Parse(`lang:go framework:Gin,fiber -license:gpl "live chat" dash`)
	if err != nil {
		panic(err)
	}
	for _, f := range q.Filters {
		fmt.Println("any of", f.Tags())
	}
	for _, f := range q.Excludes {
		fmt.Println("none of", f.Tags())
	}
	fmt.Println("phrases", q.Phrases)
	fmt.Println("words", q.Words, "prefix", q.PrefixWord())
	fmt.Println(q)
	// Output:
	// any of [lang:go]
	// any of [framework:gin framework:fiber]
	// none of [license:gpl]
	// phrases [live chat]
	// words [dash] prefix dash
	// lang:go framework:gin,fiber -license:gpl "live chat" dash
}

func ExampleParse_error() {
	_, err := query.Parse(`lang:go framework: chat`)
	var se *query.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Pos, se.Msg)
	}
	fmt.Println(errors.Is(err, catalog.ErrInvalid))
	// Output:
	// 18 empty value after "framework:": want a value, e.g. framework:go, or framework:a,b for either of two
	// true
}

func ExampleQuery_Split() {
	q, _ := query.Parse("status:ready lang:go chat")
	status, rest := q.Split("status")
	fmt.Println(status.Filters[0].Values, "|", rest)
	// Output: [ready] | lang:go chat
}

// Autocomplete: find the token under the cursor, count suggestions among
// the apps the rest of the query selects, and apply the accepted one.
func ExampleTokenAt() {
	s := "lang:go fra"
	tok := query.TokenAt(s, len(s))
	fmt.Printf("%s %q rest %q\n", tok.Kind, tok.Prefix, query.WithoutToken(s, tok))

	s, cursor := query.Replace(s, tok, tok.Complete("framework:"))
	fmt.Printf("%q %d\n", s, cursor)

	s += "g"
	tok = query.TokenAt(s, len(s))
	fmt.Printf("%s key %q prefix %q\n", tok.Kind, tok.Key, tok.Prefix)

	s, cursor = query.Replace(s, tok, tok.Complete("gin"))
	fmt.Printf("%q %d\n", s, cursor)
	// Output:
	// word "fra" rest "lang:go "
	// "lang:go framework:" 18
	// value key "framework" prefix "g"
	// "lang:go framework:gin " 22
}
