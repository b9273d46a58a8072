package api

import (
	"context"
	"net/http"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// AccountStore is what the account handlers need of the catalog
// (*store.Store).
type AccountStore interface {
	Users(ctx context.Context) ([]catalog.User, error)
	CreateUser(ctx context.Context, in store.NewUser) (*catalog.User, error)
	ReplaceUserToken(ctx context.Context, name, tokenHash string) (*catalog.User, error)
	DeleteUser(ctx context.Context, name, reassignTo string) (handedOver int64, err error)
	HasUsers(ctx context.Context) (bool, error)
}

// Accounts serves the accounts and their personal tokens, and whoami. Who
// may call which is the route table's (adminOnly, self); the tokens are
// made here, answered once, and only their hashes reach the store.
type Accounts struct {
	Store AccountStore
	// MaxBodyBytes bounds request bodies (default: the server's).
	MaxBodyBytes int64
	guard        *Guard
}

func (h *Accounts) defaults(s *Server) {
	if h.Store == nil && s.Store != nil {
		h.Store = s.Store
	}
	if h.MaxBodyBytes <= 0 {
		h.MaxBodyBytes = s.MaxBodyBytes
	}
	h.guard = s.Guard
}

// whoami is GET /api/v1/whoami: who the daemon takes the caller for.
func (h *Accounts) whoami(w http.ResponseWriter, r *http.Request) {
	actor, err := catalog.ActorFrom(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	open, err := h.guard.open(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, apitype.Whoami{User: actor, Auth: !open})
}

// list is GET /api/v1/users.
func (h *Accounts) list(w http.ResponseWriter, r *http.Request) {
	users, err := h.Store.Users(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if users == nil {
		users = []catalog.User{}
	}
	respond.JSON(w, http.StatusOK, apitype.UserList{Users: users})
}

// create is POST /api/v1/users: a new account and its token.
func (h *Accounts) create(w http.ResponseWriter, r *http.Request) {
	var req apitype.AddUserRequest
	if err := respond.DecodeJSON(w, r, h.MaxBodyBytes, &req); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if err := catalog.ValidateUserName(req.Name); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	role := catalog.RoleMember
	if req.Role != "" {
		var err error
		if role, err = catalog.ParseRole(req.Role); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	actor, err := catalog.ActorFrom(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	token, hash := catalog.NewUserToken()
	u, err := h.Store.CreateUser(r.Context(), store.NewUser{Name: req.Name, Role: role, TokenHash: hash, CreatedBy: actor.Name})
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/users/"+u.Name)
	w.Header().Set("Cache-Control", "no-store")
	respond.JSON(w, http.StatusCreated, apitype.UserToken{User: *u, Token: token})
}

// token is POST /api/v1/users/{name}/token: a new token replaces the old
// one, which stops working at once.
func (h *Accounts) token(w http.ResponseWriter, r *http.Request) {
	token, hash := catalog.NewUserToken()
	u, err := h.Store.ReplaceUserToken(r.Context(), r.PathValue("name"), hash)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	respond.JSON(w, http.StatusOK, apitype.UserToken{User: *u, Token: token})
}

// delete is DELETE /api/v1/users/{name}?reassign=<user>: the apps the
// account owns go to reassign; without it, owning apps is a conflict.
func (h *Accounts) delete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if actor, err := catalog.ActorFrom(r.Context()); err == nil && actor.Name == name {
		respond.WriteError(w, r, respond.Errorf(http.StatusConflict, apitype.CodeConflict,
			"%s cannot remove itself: another admin removes it (so that a daemon is never left without the admin who asked)", name))
		return
	}
	reassign := r.URL.Query().Get("reassign")
	owned, err := h.Store.DeleteUser(r.Context(), name, reassign)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	out := apitype.UserRemoved{Name: name, OwnedApps: owned}
	if owned > 0 {
		out.ReassignedTo = reassign
	}
	respond.JSON(w, http.StatusOK, out)
}
