package catalog_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
)

// TestActorInContext: a context without an actor is anonymous; a lazy
// actor is resolved once, on the first ActorFrom, and ActorName (what the
// store writes) does not resolve it; a resolution error is kept.
func TestActorInContext(t *testing.T) {
	ctx := context.Background()
	if u, err := catalog.ActorFrom(ctx); err != nil || !u.Anonymous() || catalog.ActorName(ctx) != catalog.DaemonActor {
		t.Errorf("no actor: %+v, %v, name %q; want anonymous, named %q", u, err, catalog.ActorName(ctx), catalog.DaemonActor)
	}
	// The daemon's own work names its cause; a request's actor wins over
	// a cause (work done for a request is the requester's).
	idle := catalog.WithCause(ctx, catalog.CauseIdle)
	if got := catalog.ActorName(idle); got != "appstored:idle" || !catalog.IsDaemonActor(got) {
		t.Errorf("idle work: actor %q, want appstored:idle", got)
	}
	if u, _ := catalog.ActorFrom(idle); !u.Anonymous() {
		t.Errorf("idle work has a user: %+v", u)
	}
	asked := catalog.WithCause(catalog.WithActor(ctx, catalog.User{Name: "mia", Role: catalog.RoleMember}), catalog.CauseBuild)
	if got := catalog.ActorName(asked); got != "mia" || catalog.IsDaemonActor(got) {
		t.Errorf("a request's work: actor %q, want mia", got)
	}
	if err := catalog.ValidateUserName(catalog.DaemonActor); err == nil {
		t.Errorf("a user may be named %q", catalog.DaemonActor)
	}
	calls := 0
	lazy := catalog.WithActorFunc(ctx, func() (catalog.User, error) {
		calls++
		return catalog.User{Name: "mia", Role: catalog.RoleMember}, nil
	})
	if catalog.ActorName(lazy) != "" || calls != 0 {
		t.Errorf("ActorName resolved the actor (%d calls)", calls)
	}
	for range 2 {
		if u, err := catalog.ActorFrom(lazy); err != nil || u.Name != "mia" {
			t.Errorf("lazy actor: %+v, %v", u, err)
		}
	}
	if calls != 1 || catalog.ActorName(lazy) != "mia" {
		t.Errorf("resolved %d times, name %q; want once, mia", calls, catalog.ActorName(lazy))
	}
	wrong := errors.New("wrong token")
	bad := catalog.WithActorFunc(ctx, func() (catalog.User, error) { return catalog.User{}, wrong })
	if _, err := catalog.ActorFrom(bad); !errors.Is(err, wrong) || catalog.ActorName(bad) != "" {
		t.Errorf("a failed resolution: %v", err)
	}
}

// TestRolesAndNames: what each role grants, who may change an app, which
// names and roles are accepted, and what a token and its hash look like.
func TestRolesAndNames(t *testing.T) {
	admin := catalog.User{Name: "ada", Role: catalog.RoleAdmin}
	member := catalog.User{Name: "mia", Role: catalog.RoleMember}
	viewer := catalog.User{Name: "vic", Role: catalog.RoleViewer}
	for _, tc := range []struct {
		u    catalog.User
		min  catalog.Role
		want bool
	}{
		{admin, catalog.RoleAdmin, true}, {admin, catalog.RoleViewer, true},
		{member, catalog.RoleAdmin, false}, {member, catalog.RoleMember, true}, {member, catalog.RoleViewer, true},
		{viewer, catalog.RoleMember, false}, {viewer, catalog.RoleViewer, true},
		{catalog.User{}, catalog.RoleViewer, false}, {catalog.User{Name: "service"}, catalog.RoleViewer, false},
	} {
		if got := tc.u.Can(tc.min); got != tc.want {
			t.Errorf("%+v can %s: %v, want %v", tc.u, tc.min, got, tc.want)
		}
	}
	if !admin.MayChange("mia") || !member.MayChange("mia") || member.MayChange("olga") || member.MayChange("") || viewer.MayChange("vic") {
		t.Error("MayChange: admins change any app, members their own, viewers none")
	}
	for _, ok := range []string{"alice", "a", "bob-2", "j.doe", "x_y"} {
		if err := catalog.ValidateUserName(ok); err != nil {
			t.Errorf("name %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Alice", "-bob", "a b", "é", "local", "admin", "service", "webhook", strings.Repeat("a", 65)} {
		if err := catalog.ValidateUserName(bad); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("name %q accepted", bad)
		}
	}
	if r, err := catalog.ParseRole(" Viewer "); err != nil || r != catalog.RoleViewer {
		t.Errorf("ParseRole: %q, %v", r, err)
	}
	if _, err := catalog.ParseRole("root"); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("ParseRole(root): %v", err)
	}
	tok, hash := catalog.NewUserToken()
	tok2, _ := catalog.NewUserToken()
	if !strings.HasPrefix(tok, catalog.UserTokenPrefix) || len(tok) != 68 || tok == tok2 || len(hash) != 64 || hash != catalog.HashUserToken(tok) || strings.Contains(hash, tok[4:]) {
		t.Errorf("token %q hash %q", tok, hash)
	}
}
