package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// TestSearchByOwner: owner:<name> selects the apps a user owns (not the
// Git namespace, not a tag), -owner: the others, and it combines with tags,
// words and the ingest status, in both plans of Search, with exact totals.
func TestSearchByOwner(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	own := func(slug, owner string) string {
		if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET owned_by = $2 WHERE slug = $1`, slug, owner); err != nil {
			t.Fatal(err)
		}
		return slug
	}
	dash := own(addApp(t, st, app{name: "dash", description: "a dashboard", tags: []string{"lang:go"}}), "mia")
	notes := own(addApp(t, st, app{name: "notes", tags: []string{"lang:python"}}), "mia")
	chat := own(addApp(t, st, app{name: "chat", description: "a dashboard for chats", tags: []string{"lang:go", "owner:mia"}}), "olga")
	old := addApp(t, st, app{name: "old", tags: []string{"lang:go"}, status: catalog.IngestFailed}) // registered before accounts

	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"owner:mia", []string{dash, notes}},
		{"owner:olga,mia", []string{dash, notes, chat}},
		{"-owner:mia", []string{chat, old}},
		{"owner:mia lang:go", []string{dash}},
		{"owner:mia dashboard", []string{dash}},
		{"owner:olga status:ready", []string{chat}},
		{"OWNER:Mia", []string{dash, notes}},
		{"owner:nobody", nil},
	} {
		forEachPlan(t, st, func(t *testing.T) {
			page := search(t, st, tc.q)
			if got := sorted(slugs(page.Results)); !slices.Equal(got, sorted(tc.want)) {
				t.Errorf("%q: got %v, want %v", tc.q, got, sorted(tc.want))
			}
			if page.Total != int64(len(tc.want)) || !page.TotalExact {
				t.Errorf("%q: total %d (exact %v), want %d exact", tc.q, page.Total, page.TotalExact, len(tc.want))
			}
		})
	}
}

// TestUsersInTheStore: accounts are stored with the hash of their token and
// found by it; the built-in actors are rows that cannot be removed nor get
// a token; removing an account keeps its apps' owner and counts them; a
// hand-over needs an existing user.
func TestUsersInTheStore(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	token, hash := catalog.NewUserToken()
	u, err := st.CreateUser(ctx, store.NewUser{Name: "mia", Role: catalog.RoleMember, TokenHash: hash, CreatedBy: "ada"})
	if err != nil || u.ID == 0 || u.Role != catalog.RoleMember || u.CreatedBy != "ada" || u.CreatedAt.IsZero() {
		t.Fatalf("create mia: %+v, %v", u, err)
	}
	if got, err := st.UserByTokenHash(ctx, catalog.HashUserToken(token)); err != nil || got.Name != "mia" {
		t.Errorf("by token hash: %+v, %v", got, err)
	}
	if _, err := st.UserByTokenHash(ctx, catalog.HashUserToken(token+"x")); !isNotFound(err) {
		t.Errorf("another token: %v, want not found", err)
	}
	for _, name := range []string{catalog.LocalUser, catalog.TokenUser} {
		b, err := st.User(ctx, name)
		if err != nil || !b.Builtin || b.Role != catalog.RoleAdmin || b.ID == 0 {
			t.Errorf("built-in %s: %+v, %v", name, b, err)
		}
		if _, err := st.DeleteUser(ctx, name, ""); !isInvalid(err) {
			t.Errorf("remove %s: %v, want invalid", name, err)
		}
		_, h := catalog.NewUserToken()
		if _, err := st.ReplaceUserToken(ctx, name, h); !isInvalid(err) {
			t.Errorf("token for %s: %v, want invalid", name, err)
		}
	}
	if has, err := st.HasUsers(ctx); err != nil || !has {
		t.Errorf("has users: %v, %v", has, err)
	}
	list, err := st.Users(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "mia" {
		t.Errorf("users (built-ins left out): %+v, %v", list, err)
	}

	slug := addApp(t, st, app{name: "dash"})
	mia := "mia"
	if _, err := st.UpdateRepository(ctx, slug, store.RepositoryUpdate{OwnedBy: &mia}); err != nil {
		t.Fatal(err)
	}
	ghost := "ghost"
	if _, err := st.UpdateRepository(ctx, slug, store.RepositoryUpdate{OwnedBy: &ghost}); !isInvalid(err) {
		t.Errorf("hand over to ghost: %v, want invalid", err)
	}
	if owner, err := st.RepositoryOwner(ctx, slug); err != nil || owner != "mia" {
		t.Errorf("owner: %q, %v", owner, err)
	}
	// An owner of apps goes only with someone to take them over; a
	// refusal names the apps and what to run, and changes nothing.
	_, err = st.DeleteUser(ctx, "mia", "")
	var conflict *catalog.ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "mia owns 1 app(s) (dash)") || !strings.Contains(err.Error(), "appstore users rm mia --reassign <user>") {
		t.Errorf("remove mia, who owns dash: %v, want a conflict naming dash and --reassign", err)
	}
	for who, msg := range map[string]string{"ghost": `no user "ghost"`, "mia": "its own apps"} {
		if _, err := st.DeleteUser(ctx, "mia", who); !isInvalid(err) || !strings.Contains(err.Error(), msg) {
			t.Errorf("remove mia for %s: %v, want invalid saying %q", who, err, msg)
		}
	}
	if u, err := st.User(ctx, "mia"); err != nil || u.ID == 0 {
		t.Fatalf("mia after the refusals: %+v, %v", u, err)
	}
	n, err := st.DeleteUser(ctx, "mia", catalog.TokenUser)
	if err != nil || n != 1 {
		t.Errorf("remove mia for admin: %d handed over, %v; want 1", n, err)
	}
	if r, err := st.Repository(ctx, slug); err != nil || r.OwnedBy != catalog.TokenUser || r.RegisteredBy == catalog.TokenUser {
		t.Errorf("after mia left, dash: %+v, %v; want owned by admin", r, err)
	}
	evs, err := st.Events(ctx, store.EventFilter{Subject: slug})
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Type != "repository.updated" || !strings.Contains(string(evs[len(evs)-1].Data), `"owned_by": "admin"`) || !strings.Contains(string(evs[len(evs)-1].Data), `"previous_owner": "mia"`) {
		t.Errorf("events of dash: %+v, %v; want repository.updated to admin last", evs, err)
	}
	if has, err := st.HasUsers(ctx); err != nil || has {
		t.Errorf("has users after the last left: %v, %v", has, err)
	}
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, catalog.ErrNotFound) }
func isInvalid(err error) bool  { return err != nil && errors.Is(err, catalog.ErrInvalid) }
