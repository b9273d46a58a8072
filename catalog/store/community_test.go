package store_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

func member(t *testing.T, st *store.Store, name string) *catalog.User {
	t.Helper()
	_, hash := catalog.NewUserToken()
	u, err := st.CreateUser(context.Background(), store.NewUser{Name: name, Role: catalog.RoleMember, TokenHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func communityEvents(t *testing.T, st *store.Store, subject string) []string {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{Subject: subject, Topics: []string{"repository", "comment"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Type != "repository.created" {
			out = append(out, e.Type)
		}
	}
	return out
}

func TestStarsCountOncePerUserAndSelectIsStarred(t *testing.T) {
	st := craftedHistory(t)
	ctx := context.Background()
	ann, bob := member(t, st, "ann"), member(t, st, "bob")
	trending := func() []string {
		page, err := st.Search(ctx, store.SearchOptions{Query: "sort:trending"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range page.Results {
			out = append(out, r.Slug)
		}
		return out
	}
	if got := trending(); got[3] != "idle" {
		t.Fatalf("trending before any star = %v", got)
	}
	for i, s := range []struct {
		slug string
		user int64
		on   bool
		want int64
	}{
		{"idle", ann.ID, true, 1},
		{"idle", ann.ID, true, 1}, // twice: still one
		{"idle", bob.ID, true, 2},
		{"old", bob.ID, true, 1},
		{"idle", bob.ID, false, 1},
		{"idle", bob.ID, false, 1}, // not starred: nothing to undo
	} {
		got, err := st.SetStar(ctx, s.slug, s.user, s.on)
		if err != nil {
			t.Fatal(err)
		}
		if got.StarCount != s.want || got.Starred != s.on {
			t.Fatalf("star %s by %d %v = %+v, want count %d", s.slug, s.user, s.on, got, s.want)
		}
		if i == 0 {
			// A star now outweighs 50 launches two months ago.
			if got := trending(); slices.Index(got, "idle") > slices.Index(got, "old") {
				t.Fatalf("trending after a star of idle = %v", got)
			}
		}
	}
	if got := communityEvents(t, st, "idle"); !slices.Equal(got, []string{"repository.starred", "repository.starred", "repository.starred"}) {
		t.Fatalf("events of idle = %v: want one per change", got)
	}
	if _, err := st.SetStar(ctx, "nope", ann.ID, true); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("star a missing app = %v", err)
	}
	state, err := st.StarState(ctx, "idle", bob.ID)
	if err != nil || state.Starred || state.StarCount != 1 {
		t.Fatalf("bob's state of idle = %+v, %v", state, err)
	}

	search := func(q string, user int64) []string {
		page, err := st.Search(ctx, store.SearchOptions{Query: q, UserID: user})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		var out []string
		for _, r := range page.Results {
			out = append(out, r.Slug)
		}
		return out
	}
	if got := search("is:starred", ann.ID); !slices.Equal(got, []string{"idle"}) {
		t.Fatalf("ann's is:starred = %v", got)
	}
	if got := search("is:starred sort:new", bob.ID); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("bob's is:starred = %v", got)
	}
	if got := search("-is:starred kind:demo sort:new", bob.ID); !slices.Equal(got, []string{"idle", "visited", "recent"}) {
		t.Fatalf("bob's -is:starred = %v", got)
	}
	if got := search("sort:stars", 0); !slices.Equal(got[:2], []string{"idle", "old"}) {
		t.Fatalf("sort:stars = %v: one star each, newest first", got)
	}
	for q, msg := range map[string]string{"is:starred": "needs to know who is asking", "is:hot": "the only mark is is:starred"} {
		if _, err := st.Search(ctx, store.SearchOptions{Query: q}); !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q without a user = %v", q, err)
		}
	}

	// Removing a user takes their stars with them, and with them what
	// the stars gave to the trending score: idle, with no other history,
	// has no score again and comes last.
	if _, err := st.DeleteUser(ctx, "ann", ""); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.StarState(ctx, "idle", 0); s.StarCount != 0 {
		t.Fatalf("idle after ann's removal: %+v", s)
	}
	var trend float64
	if err := st.Pool().QueryRow(ctx, `SELECT trend FROM repositories WHERE slug = 'idle'`).Scan(&trend); err != nil || !math.IsInf(trend, -1) {
		t.Fatalf("idle's trend after ann's removal: %v, %v; want -Infinity (no history)", trend, err)
	}
	if got := trending(); got[3] != "idle" {
		t.Fatalf("trending after ann's removal = %v: want idle last", got)
	}
}

func TestCommentsAreCleanedListedNewestLastAndRemoved(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	createRepo(t, st, "https://github.com/acme/dash.git")
	c1, err := st.AddComment(ctx, "dash", catalog.User{Name: "ann"}, "  first\r\nline two \x1b[31mred\x1b[0m\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if c1.Body != "  first\nline two red" || c1.Author != "ann" || c1.Repository != "dash" {
		t.Fatalf("stored %+v", c1)
	}
	c2, err := st.AddComment(ctx, "dash", catalog.User{Name: "bob"}, "second")
	if err != nil {
		t.Fatal(err)
	}
	for body, msg := range map[string]string{" \n\t": "empty", strings.Repeat("é", catalog.MaxCommentLen+1): "at most 2000"} {
		if _, err := st.AddComment(ctx, "dash", catalog.User{Name: "ann"}, body); !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), msg) {
			t.Errorf("comment %.10q = %v, want invalid saying %q", body, err, msg)
		}
	}
	if _, err := st.AddComment(ctx, "nope", catalog.User{Name: "ann"}, "x"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("comment on a missing app = %v", err)
	}
	list, err := st.Comments(ctx, "dash", 0)
	if err != nil || len(list) != 2 || list[0].ID != c1.ID || list[1].ID != c2.ID {
		t.Fatalf("comments = %+v, %v: want newest last", list, err)
	}
	if last, _ := st.Comments(ctx, "dash", 1); len(last) != 1 || last[0].ID != c2.ID {
		t.Fatalf("the last comment = %+v", last)
	}
	if err := st.DeleteComment(ctx, c1.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteComment(ctx, c1.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("removing twice = %v", err)
	}
	if got := communityEvents(t, st, "dash"); !slices.Equal(got, []string{"comment.created", "comment.created", "comment.deleted"}) {
		t.Fatalf("events = %v", got)
	}
}

// TestCommentsBelongToTheAccountNotTheName: a comment is its author's
// account's; once that account is removed it shows as a removed user's, and
// a new account given the same name neither owns it nor inherits it.
func TestCommentsBelongToTheAccountNotTheName(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	createRepo(t, st, "https://github.com/acme/dash.git")
	ann := member(t, st, "ann")
	c, err := st.AddComment(ctx, "dash", *ann, "the first ann")
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthorID != ann.ID || c.AuthorRemoved || !c.WrittenBy(*ann) || c.AuthorLabel() != "ann" {
		t.Fatalf("ann's comment: %+v", c)
	}
	// Without an id, the account of that name now.
	byName, err := st.AddComment(ctx, "dash", catalog.User{Name: "ann"}, "by name")
	if err != nil || byName.AuthorID != ann.ID {
		t.Fatalf("a comment by ann's name: %+v, %v", byName, err)
	}
	if _, err := st.DeleteUser(ctx, "ann", ""); err != nil {
		t.Fatal(err)
	}
	again := member(t, st, "ann")
	if again.ID == ann.ID {
		t.Fatalf("the new ann has the old id %d", ann.ID)
	}
	list, err := st.Comments(ctx, "dash", 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("comments: %+v, %v", list, err)
	}
	for _, got := range list {
		if got.Author != "ann" || !got.AuthorRemoved || got.AuthorID != 0 || got.WrittenBy(*again) || got.AuthorLabel() != "ann (removed user)" {
			t.Errorf("after ann's removal: %+v (label %q)", got, got.AuthorLabel())
		}
	}
	mine, err := st.AddComment(ctx, "dash", *again, "the second ann")
	if err != nil || mine.AuthorID != again.ID || mine.AuthorRemoved || !mine.WrittenBy(*again) {
		t.Fatalf("the new ann's comment: %+v, %v", mine, err)
	}
	if one, err := st.Comment(ctx, c.ID); err != nil || !one.AuthorRemoved {
		t.Fatalf("comment %d: %+v, %v", c.ID, one, err)
	}
}
