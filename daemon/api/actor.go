package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// Users is what the guard reads of the catalog to tell who sends a request
// and whether they may change an app (*store.Store).
type Users interface {
	// UserByTokenHash finds the account of a personal token
	// (catalog.HashUserToken); catalog.ErrNotFound when none has it.
	UserByTokenHash(ctx context.Context, hash string) (*catalog.User, error)
	// User returns a user by name (the built-in actors included).
	User(ctx context.Context, name string) (*catalog.User, error)
	// HasUsers reports whether any account exists.
	HasUsers(ctx context.Context) (bool, error)
	// RepositoryOwner and BuildOwner name the owner of an app, and of a
	// build's app; catalog.ErrNotFound when there is no such thing.
	RepositoryOwner(ctx context.Context, slug string) (string, error)
	BuildOwner(ctx context.Context, id int64) (string, error)
	// LaunchStarter returns the users row (0: the daemon, or a removed
	// account) and name of who started a launch.
	LaunchStarter(ctx context.Context, id int64) (userID int64, name string, err error)
}

// Who sends a request (Guard.identify):
//
//   - the daemon token (--token): the built-in admin (catalog.TokenUser);
//   - a personal token: its account, with its role;
//   - no token, or any token, to a daemon without --token and without
//     accounts: the built-in local user, an admin — a local-only daemon
//     works as it did before accounts;
//   - no token otherwise: anonymous, who may read and nothing more;
//   - a wrong token: refused (401, and counted against its client: 429
//     after too many).
//
// The service token and webhook signatures are not users: requests on
// those routes carry the actors "service" and "webhook", which may do
// nothing else.

// Actors of the routes that are not authenticated by a user's token.
var (
	serviceActor = catalog.User{Name: "service"}
	webhookActor = catalog.User{Name: "webhook"}
)

// identify tells who sends r. The error is the refusal to answer: 401 for
// a wrong token, 429 for a client over its allowance of failures, 503 when
// the catalog cannot say.
func (g *Guard) identify(r *http.Request) (catalog.User, error) {
	ctx := r.Context()
	got := bearerOrQueryToken(r)
	if got == "" {
		open, err := g.open(ctx)
		if err != nil {
			return catalog.User{}, err
		}
		if open {
			return g.builtin(ctx, catalog.LocalUser)
		}
		return catalog.User{}, nil
	}
	client := g.clientKey(r)
	if wait := g.failures().wait(client); wait > 0 {
		return catalog.User{}, throttledError(wait)
	}
	if g.Token != "" && tokenEqual(got, g.Token) {
		return g.builtin(ctx, catalog.TokenUser)
	}
	if g.Users != nil {
		u, err := g.Users.UserByTokenHash(ctx, catalog.HashUserToken(got))
		if err == nil {
			return *u, nil
		}
		if !errors.Is(err, catalog.ErrNotFound) {
			return catalog.User{}, err
		}
	}
	open, err := g.open(ctx)
	if err != nil {
		return catalog.User{}, err
	}
	if open {
		// A daemon that wants no token takes any, as it always has.
		return g.builtin(ctx, catalog.LocalUser)
	}
	g.failures().fail(client)
	return catalog.User{}, &respond.Error{Status: http.StatusUnauthorized,
		Header: http.Header{"Www-Authenticate": {`Bearer realm="appstored", error="invalid_token"`}},
		Detail: apitype.ErrorDetail{Code: apitype.CodeUnauthorized, Message: g.wrongTokenMessage()}}
}

func (g *Guard) wrongTokenMessage() string {
	if g.Users == nil {
		return "the daemon token is wrong: send the value appstored was started with (--token / APPSTORE_TOKEN; the CLI reads APPSTORE_TOKEN or --token)"
	}
	return "the token is wrong: send your personal token (an admin gives you one with `appstore users add` or replaces a lost one with `appstore users token <name>`) or the daemon token (--token); the CLI reads APPSTORE_TOKEN or --token"
}

func throttledError(wait time.Duration) error {
	secs := int((wait + time.Second - 1) / time.Second)
	return &respond.Error{Status: http.StatusTooManyRequests,
		Header: http.Header{"Retry-After": {fmt.Sprint(secs)}},
		Detail: apitype.ErrorDetail{Code: apitype.CodeTooManyRequests, Message: fmt.Sprintf(
			"too many wrong tokens or signatures from this address: retry in %d s with the right one (--token / APPSTORE_TOKEN, --service-token, or the webhook's secret)", secs)}}
}

// open reports whether the daemon wants no token: no --token and no
// accounts.
func (g *Guard) open(ctx context.Context) (bool, error) {
	if g.Token != "" {
		return false, nil
	}
	if g.Users == nil {
		return true, nil
	}
	has, err := g.Users.HasUsers(ctx)
	return !has, err
}

// builtin returns the built-in actor name (its row, for its id; cached:
// built-in rows never change).
func (g *Guard) builtin(ctx context.Context, name string) (catalog.User, error) {
	if g.Users == nil {
		return catalog.User{Name: name, Role: catalog.RoleAdmin, Builtin: true}, nil
	}
	if u, ok := g.builtins.Load(name); ok {
		return u.(catalog.User), nil
	}
	u, err := g.Users.User(ctx, name)
	if err != nil {
		return catalog.User{}, fmt.Errorf("built-in user %q: %w", name, err)
	}
	g.builtins.Store(name, *u)
	return *u, nil
}

// builtinCache is the guard's copy of the built-in rows.
type builtinCache = sync.Map

// authorize answers and reports false unless r's sender may use a route
// of kind: it is identified (identify), not anonymous, its role grants the
// kind's (minRole), and on the routes of one app (owned) it owns the app
// or is an admin. On success the request's context carries the actor
// (catalog.ActorFrom).
func (g *Guard) authorize(w http.ResponseWriter, r *http.Request, kind guardKind) (*http.Request, bool) {
	actor, err := g.identify(r)
	if err != nil {
		respond.WriteError(w, r, err)
		return r, false
	}
	if actor.Anonymous() {
		w.Header().Set("WWW-Authenticate", `Bearer realm="appstored"`)
		respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized, "%s", g.missingTokenMessage()))
		return r, false
	}
	need := kind.minRole()
	if !actor.Can(need) {
		respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"%s is %s %s, and %s: ask an admin (`appstore users ls` lists them)", actor.Name, article(actor.Role), actor.Role, kind.needs()))
		return r, false
	}
	if kind == owned && !actor.Can(catalog.RoleAdmin) {
		owner, what, err := g.ownerOf(r)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			// The handler says what is missing.
		case err != nil:
			respond.WriteError(w, r, err)
			return r, false
		case !actor.MayChange(owner):
			ask := "an admin"
			if owner != "" && owner != catalog.LocalUser && owner != catalog.TokenUser {
				ask = owner + " or an admin"
			}
			respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
				"%s may change only the apps it owns, and %s: ask %s (an admin hands an app over with `appstore edit <slug> --owner <name>`)", actor.Name, what, ask))
			return r, false
		}
	}
	if kind == ownLaunch && !actor.Can(catalog.RoleMember) {
		if refused := g.notStarter(w, r, actor); refused {
			return r, false
		}
	}
	if kind == self && !actor.Can(catalog.RoleAdmin) && r.PathValue("name") != actor.Name {
		respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"%s may replace only its own token, not %s's: ask an admin", actor.Name, r.PathValue("name")))
		return r, false
	}
	if rec, ok := w.(*statusRecorder); ok {
		rec.Actor = actor.Name
	}
	return r.WithContext(catalog.WithActor(r.Context(), actor)), true
}

func (g *Guard) missingTokenMessage() string {
	if g.Users == nil {
		return "this call needs the daemon token: send Authorization: Bearer <token> (the CLI reads APPSTORE_TOKEN or --token)"
	}
	return "this call needs a token: send Authorization: Bearer <your personal token, or the daemon token> (the CLI reads APPSTORE_TOKEN or --token; an admin gives you a token with `appstore users add`)"
}

// ownerOf names the owner of the app a route of kind owned is about: the
// {slug} of its path, or the app of the build {id}.
func (g *Guard) ownerOf(r *http.Request) (owner, what string, err error) {
	if g.Users == nil {
		return "", "", fmt.Errorf("api: the guard has no users to ask who owns %s", r.URL.Path)
	}
	if slug := r.PathValue("slug"); slug != "" {
		owner, err = g.Users.RepositoryOwner(r.Context(), slug)
		return owner, fmt.Sprintf("%s is owned by %s", slug, ownerOrNobody(owner)), err
	}
	if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/api/v1/builds/") {
		n, perr := buildID(r)
		if perr != nil {
			// The handler refuses the id.
			return "", "", &catalog.NotFoundError{Kind: "build", Key: id}
		}
		owner, err = g.Users.BuildOwner(r.Context(), n)
		return owner, fmt.Sprintf("build %d is of an app owned by %s", n, ownerOrNobody(owner)), err
	}
	return "", "", fmt.Errorf("api: route %s names no app to check the owner of", r.Pattern)
}

// notStarter refuses (and reports true) a viewer's request about a launch
// it did not start (the path's {id}); a launch that does not exist is the
// handler's to report.
func (g *Guard) notStarter(w http.ResponseWriter, r *http.Request, actor catalog.User) bool {
	if g.Users == nil {
		respond.WriteError(w, r, fmt.Errorf("api: the guard has no users to ask who started launch %s", r.PathValue("id")))
		return true
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return false // the handler refuses the id
	}
	starter, name, err := g.Users.LaunchStarter(r.Context(), id)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return false
	case err != nil:
		respond.WriteError(w, r, err)
		return true
	case starter != 0 && starter == actor.ID:
		return false
	}
	by := name
	if by == "" {
		by = "appstored itself (a wake, the warm pool, a redeploy) or by an account since removed"
	}
	respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
		"%s is %s %s and may stop only the launches it started; launch %d was started by %s: ask a member or an admin", actor.Name, article(actor.Role), actor.Role, id, by))
	return true
}

func ownerOrNobody(owner string) string {
	if owner == "" {
		return "no one (registered before accounts)"
	}
	return owner
}

func article(r catalog.Role) string {
	if r == catalog.RoleAdmin {
		return "an"
	}
	return "a"
}

// minRole is the weakest role that may use a route of kind k.
func (k guardKind) minRole() catalog.Role {
	switch k {
	case launching, websocket, self, ownLaunch:
		return catalog.RoleViewer
	case adminOnly:
		return catalog.RoleAdmin
	}
	return catalog.RoleMember
}

// needs says what a route of kind k needs, for a refusal.
func (k guardKind) needs() string {
	switch k {
	case adminOnly:
		return "only admins may do this"
	case launching, websocket, self, ownLaunch:
		return "this needs a viewer, member or admin"
	}
	return "changing the catalog needs a member or an admin"
}

// withLazyActor returns r whose context resolves its actor on first use
// (catalog.ActorFrom): reads do not pay for a token lookup they do not use.
func (g *Guard) withLazyActor(r *http.Request) *http.Request {
	base := r
	return r.WithContext(catalog.WithActorFunc(r.Context(), func() (catalog.User, error) { return g.identify(base) }))
}

// mayHandOver refuses a change of an app's owner by anyone but an admin.
func mayHandOver(ctx context.Context) error {
	actor, err := catalog.ActorFrom(ctx)
	if err != nil {
		return err
	}
	if !actor.Can(catalog.RoleAdmin) {
		return respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"only admins hand an app over to another owner, and %s is %s %s: ask an admin", actor.Name, article(actor.Role), actor.Role)
	}
	return nil
}
