package api_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/api"
)

// TestAccountsAndTokensAreNeverStored: accounts made through the API get
// tokens that work at once; the tokens are nowhere in the database (every
// column of every table is read back), nor in the events or the request
// log; a replaced or removed account's token stops working; whoami says
// who is asking; the registering user owns the app, and only an admin hands
// it over.
func TestAccountsAndTokensAreNeverStored(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &api.Server{Store: st, Logger: logger, Guard: &api.Guard{Loopback: true, Token: rolesDaemonToken}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	admin := (&client.Client{BaseURL: srv.URL}).WithToken(rolesDaemonToken)

	who, err := admin.Whoami(ctx)
	if err != nil || who.User.Name != catalog.TokenUser || who.User.Role != catalog.RoleAdmin || !who.User.Builtin || !who.Auth {
		t.Fatalf("whoami with the daemon token: %+v, %v", who, err)
	}
	ada, err := admin.AddUser(ctx, client.AddUserRequest{Name: "ada", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	mia, err := admin.AddUser(ctx, client.AddUserRequest{Name: "mia"})
	if err != nil {
		t.Fatal(err)
	}
	if mia.User.Role != catalog.RoleMember || mia.User.CreatedBy != catalog.TokenUser || !strings.HasPrefix(mia.Token, catalog.UserTokenPrefix) || len(mia.Token) != len(catalog.UserTokenPrefix)+64 {
		t.Errorf("users add mia: %+v", mia)
	}
	if _, err := admin.AddUser(ctx, client.AddUserRequest{Name: "mia"}); !client.IsConflict(err) {
		t.Errorf("a second mia: %v, want a conflict", err)
	}
	if _, err := admin.AddUser(ctx, client.AddUserRequest{Name: "Mia Bad"}); !client.IsInvalid(err) {
		t.Errorf("a bad name: %v, want invalid", err)
	}
	if _, err := admin.AddUser(ctx, client.AddUserRequest{Name: "root", Role: "superuser"}); !client.IsInvalid(err) || !strings.Contains(err.Error(), "admin, member or viewer") {
		t.Errorf("a bad role: %v, want invalid naming the roles", err)
	}
	asMia := (&client.Client{BaseURL: srv.URL}).WithToken(mia.Token)
	who, err = asMia.Whoami(ctx)
	if err != nil || who.User.Name != "mia" || who.User.Role != catalog.RoleMember {
		t.Fatalf("whoami as mia: %+v, %v", who, err)
	}
	anon, err := (&client.Client{BaseURL: srv.URL}).Whoami(ctx)
	if err != nil || !anon.User.Anonymous() || !anon.Auth {
		t.Errorf("whoami without a token: %+v, %v", anon, err)
	}
	if _, err := (&client.Client{BaseURL: srv.URL}).WithToken("aps_wrong").Whoami(ctx); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("whoami with a wrong token: %v, want 401", err)
	}

	// mia registers an app and owns it; she may not hand it over.
	repo, err := asMia.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/dash.git"})
	if err != nil {
		t.Fatal(err)
	}
	if repo.OwnedBy != "mia" || repo.RegisteredBy != "mia" {
		t.Errorf("registered by mia: owned_by %q registered_by %q", repo.OwnedBy, repo.RegisteredBy)
	}
	ownerAda := "ada"
	if _, err := asMia.UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{OwnedBy: &ownerAda}); !isStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "only admins") {
		t.Errorf("mia hands over: %v, want 403", err)
	}
	nobody := "nobody"
	if _, err := admin.UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{OwnedBy: &nobody}); !client.IsInvalid(err) || !strings.Contains(err.Error(), "no user \"nobody\"") {
		t.Errorf("hand over to nobody: %v, want invalid", err)
	}
	got, err := admin.UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{OwnedBy: &ownerAda})
	if err != nil || got.OwnedBy != "ada" || got.RegisteredBy != "mia" {
		t.Fatalf("admin hands dash to ada: %+v, %v", got, err)
	}
	desc := "mine again?"
	if _, err := asMia.UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{Description: &desc}); !isStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "owned by ada") {
		t.Errorf("mia edits ada's app: %v, want 403 naming ada", err)
	}

	// The events say who did it.
	evs, err := st.Events(ctx, storeEventFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	actors := map[string]string{}
	for _, e := range evs {
		actors[e.Type] += e.Actor + ","
	}
	if actors["repository.created"] != "mia," || !strings.Contains(actors["repository.updated"], catalog.TokenUser) || actors["user.created"] != "admin,admin," {
		t.Errorf("event actors: %v", actors)
	}

	// mia replaces her own token; the old one stops working.
	renewed, err := asMia.ReplaceUserToken(ctx, "mia")
	if err != nil || renewed.Token == mia.Token {
		t.Fatalf("mia replaces her token: %+v, %v", renewed, err)
	}
	if _, err := asMia.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/notes.git"}); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("the old token after users token: %v, want 401", err)
	}
	asMia = asMia.WithToken(renewed.Token)
	if w, err := asMia.Whoami(ctx); err != nil || w.User.Name != "mia" {
		t.Errorf("the new token: %+v, %v", w, err)
	}

	// Nothing of any token in any column of any table, nor in the log.
	tokens := []string{ada.Token, mia.Token, renewed.Token, rolesDaemonToken}
	for _, table := range tableNames(t, st) {
		rows, err := st.Pool().Query(ctx, `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			for _, tok := range tokens {
				if strings.Contains(row, tok) || strings.Contains(row, strings.TrimPrefix(tok, catalog.UserTokenPrefix)) {
					t.Errorf("table %s holds a token: %s", table, row)
				}
			}
		}
		rows.Close()
	}
	var hash string
	if err := st.Pool().QueryRow(ctx, `SELECT token_hash FROM users WHERE name = 'mia'`).Scan(&hash); err != nil || hash != catalog.HashUserToken(renewed.Token) {
		t.Errorf("mia's stored hash %q, %v: want the SHA-256 of her token", hash, err)
	}
	for _, tok := range tokens {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("the request log holds a token")
		}
	}
	// Each change is logged with who asked for it.
	logged := false
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "method=POST path=/api/v1/repositories status=201") {
			logged = strings.Contains(line, "level=INFO") && strings.HasSuffix(strings.TrimSpace(line), "actor=mia")
		}
	}
	if !logged {
		t.Errorf("the request log does not name mia as the actor of her registration:\n%s", logs.String())
	}

	// Users are listed without their hashes; removing one ends its token
	// and says how many apps it still owns; nobody removes themselves.
	list, err := asMia.Users(ctx)
	if err != nil || len(list.Users) != 2 || list.Users[0].Name != "ada" || list.Users[1].Name != "mia" {
		t.Errorf("users: %+v, %v", list, err)
	}
	asAda := (&client.Client{BaseURL: srv.URL}).WithToken(ada.Token)
	if _, err := asAda.DeleteUser(ctx, "ada", client.DeleteUserOptions{}); !client.IsConflict(err) {
		t.Errorf("ada removes herself: %v, want a conflict", err)
	}
	if _, err := asAda.DeleteUser(ctx, catalog.LocalUser, client.DeleteUserOptions{}); !client.IsInvalid(err) || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("removing the built-in local user: %v, want invalid", err)
	}
	// mia owns dash again: she goes only with someone to take it over.
	ownerMia := "mia"
	if _, err := asAda.UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{OwnedBy: &ownerMia}); err != nil {
		t.Fatal(err)
	}
	if _, err := asAda.DeleteUser(ctx, "mia", client.DeleteUserOptions{}); !client.IsConflict(err) || !strings.Contains(err.Error(), "mia owns 1 app(s) (dash)") || !strings.Contains(err.Error(), "--reassign <user>") {
		t.Errorf("remove mia, who owns dash: %v, want a conflict naming dash and --reassign", err)
	}
	removed, err := asAda.DeleteUser(ctx, "mia", client.DeleteUserOptions{Reassign: "ada"})
	if err != nil || removed.OwnedApps != 1 || removed.ReassignedTo != "ada" {
		t.Errorf("remove mia for ada: %+v, %v", removed, err)
	}
	if r, err := asAda.Repository(ctx, "dash"); err != nil || r.OwnedBy != "ada" {
		t.Errorf("dash after mia left: %+v, %v; want owned by ada", r, err)
	}
	if _, err := asMia.Whoami(ctx); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("whoami with a removed user's token: %v, want 401", err)
	}
	if _, err := asAda.DeleteUser(ctx, "mia", client.DeleteUserOptions{}); !client.IsNotFound(err) {
		t.Errorf("removing mia twice: %v, want not found", err)
	}
}

// TestLocalDaemonWithoutUsersKeepsItsWays: a daemon without --token and
// without accounts lets anyone change it, as the local user (an admin);
// the first account closes it: then a change needs a token.
func TestLocalDaemonWithoutUsersKeepsItsWays(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	srv := httptest.NewServer((&api.Server{Store: st, Guard: &api.Guard{Loopback: true}}).Handler())
	t.Cleanup(srv.Close)
	c := &client.Client{BaseURL: srv.URL}

	who, err := c.Whoami(ctx)
	if err != nil || who.User.Name != catalog.LocalUser || who.User.Role != catalog.RoleAdmin || who.Auth {
		t.Fatalf("whoami on an open daemon: %+v, %v", who, err)
	}
	repo, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/dash.git"})
	if err != nil || repo.OwnedBy != catalog.LocalUser || repo.RegisteredBy != catalog.LocalUser {
		t.Fatalf("add on an open daemon: %+v, %v", repo, err)
	}
	// Any token is taken, as before accounts.
	if _, err := c.WithToken("whatever").Whoami(ctx); err != nil {
		t.Errorf("a token on an open daemon: %v", err)
	}
	bob, err := c.AddUser(ctx, client.AddUserRequest{Name: "bob", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/notes.git"}); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("add without a token once an account exists: %v, want 401", err)
	}
	asBob := c.WithToken(bob.Token)
	if _, err := asBob.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/notes.git"}); !isStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "bob is a viewer") {
		t.Errorf("a viewer adds: %v, want 403 saying bob is a viewer", err)
	}
	if _, err := c.Repository(ctx, "dash"); err != nil {
		t.Errorf("reading stays open: %v", err)
	}
	// What was registered before is local's: members leave it to admins.
	token, hash := catalog.NewUserToken()
	if _, err := st.CreateUser(ctx, store.NewUser{Name: "mia", Role: catalog.RoleMember, TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	desc := "mine?"
	_, err = c.WithToken(token).UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{Description: &desc})
	if !isStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "dash is owned by local: ask an admin") {
		t.Errorf("a member edits local's app: %v, want 403 sending her to an admin", err)
	}
}

func isStatus(err error, status int) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.StatusCode == status
}

func storeEventFilterAll() store.EventFilter { return store.EventFilter{Limit: 10000} }

// tableNames lists the tables of the test's catalog.
func tableNames(t *testing.T, st *store.Store) []string {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) < 10 {
		t.Fatalf("tables: %v, %v", names, err)
	}
	return names
}

// TestPersonalTokensAreCredentials: a personal token counts as a token
// holder's on the service registry's reads (not a wrong token), and the
// preview proxy takes anything shaped like one off requests to apps.
func TestPersonalTokensAreCredentials(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	g := &api.Guard{Loopback: true, Exposed: true, Token: rolesDaemonToken}
	srv := httptest.NewServer((&api.Server{Store: st, Guard: g}).Handler())
	t.Cleanup(srv.Close)
	token, hash := catalog.NewUserToken()
	if _, err := st.CreateUser(ctx, store.NewUser{Name: "vic", Role: catalog.RoleViewer, TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	c := &client.Client{BaseURL: srv.URL}
	if _, err := c.WithToken(token).Services(ctx, client.ListServicesOptions{}); err != nil {
		t.Errorf("the registry with a personal token: %v", err)
	}
	if _, err := c.WithToken(token+"0").Services(ctx, client.ListServicesOptions{}); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("the registry with a wrong token: %v, want 401", err)
	}
	if !g.IsCredential(token) || !g.IsCredential(catalog.UserTokenPrefix+"anything") || g.IsCredential("an-app-token") {
		t.Errorf("IsCredential: personal tokens must be taken off preview requests, others left")
	}
}
