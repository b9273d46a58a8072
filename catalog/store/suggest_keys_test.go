package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// TestSuggestSearchKeys: autocomplete offers the search language's keys
// that are not tags — owner: with the users who own apps, is:starred with
// the asking user's stars (not to no one), sort: with the orders — counted
// among the apps the rest of the query selects, and a word completes to
// them beside the tags.
func TestSuggestSearchKeys(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	owners := map[string]string{}
	for _, a := range []struct{ name, owner, lang string }{
		{"a", "ann", "go"}, {"b", "ann", "go"}, {"c", "bob", "go"}, {"d", "ann", "python"}, {"e", "", "go"},
	} {
		slug := addApp(t, st, app{name: a.name, tags: []string{"lang:" + a.lang, "topic:sorting"}})
		if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET owned_by = $2 WHERE slug = $1`, slug, a.owner); err != nil {
			t.Fatal(err)
		}
		owners[a.name] = slug
	}
	_, hash := catalog.NewUserToken()
	me, err := st.CreateUser(ctx, store.NewUser{Name: "cy", Role: catalog.RoleMember, TokenHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "c", "d"} {
		if _, err := st.SetStar(ctx, owners[n], me.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	as := func(userID int64, q string) []string {
		t.Helper()
		s, err := st.Suggest(ctx, store.SuggestOptions{Query: q, Pos: len(q), UserID: userID})
		if err != nil {
			t.Fatalf("suggest %q: %v", q, err)
		}
		return brief(s)
	}
	for _, tc := range []struct {
		user int64
		q    string
		want []string
	}{
		{0, "owner:", []string{"owner:ann=3", "owner:bob=1"}},
		{0, "owner:b", []string{"owner:bob=1"}},
		{0, "lang:go owner:", []string{"owner:ann=2", "owner:bob=1"}},
		{0, "-owner:a", []string{"-owner:ann=3"}},
		{0, "ow", []string{"owner:=4"}},
		{0, "lang:python ow", []string{"owner:=1"}},
		{me.ID, "is:", []string{"is:starred=3"}},
		{me.ID, "lang:go is:st", []string{"is:starred=2"}},
		{me.ID, "i", []string{"is:=3"}},
		{0, "is:", nil},
		{0, "i", nil},
		// The orders in their own order: the default first.
		{0, "sort:", []string{"sort:trending=5", "sort:stars=5", "sort:new=5", "sort:launches=5", "sort:relevance=5"}},
		{0, "lang:go sort:t", []string{"sort:trending=4"}},
		{0, "sort:x", nil},
		// A word completes to the key and to the tags, most first.
		{0, "sor", []string{"sort:=5", "topic:sorting=5"}},
		{0, "lang:python so", []string{"sort:=1", "topic:sorting=1"}},
	} {
		if got := as(tc.user, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%q (user %d): %v, want %v", tc.q, tc.user, got, tc.want)
		}
	}
}
