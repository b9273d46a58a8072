package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/appstore-dev/appstore/apitype"
)

// Accounts and personal tokens.
type (
	User           = apitype.User
	Role           = apitype.Role
	AddUserRequest = apitype.AddUserRequest
	UserToken      = apitype.UserToken
	UserList       = apitype.UserList
	UserRemoved    = apitype.UserRemoved
	// DeleteUserOptions are the options of DeleteUser.
	DeleteUserOptions = apitype.DeleteUserOptions
	Whoami            = apitype.Whoami
)

// Whoami asks who the daemon takes this client's token for.
func (c *Client) Whoami(ctx context.Context) (*Whoami, error) {
	return doJSON[Whoami](ctx, c, http.MethodGet, apiPath("whoami"), nil, nil)
}

// Users lists the accounts (admins and members and viewers; not the
// built-in actors).
func (c *Client) Users(ctx context.Context) (*UserList, error) {
	return doJSON[UserList](ctx, c, http.MethodGet, apiPath("users"), nil, nil)
}

// AddUser creates an account (admins only) and returns it with its
// personal token: the only time the token is shown.
func (c *Client) AddUser(ctx context.Context, req AddUserRequest) (*UserToken, error) {
	return doJSON[UserToken](ctx, c, http.MethodPost, apiPath("users"), nil, req)
}

// ReplaceUserToken gives the account name a new personal token (admins,
// or the user itself); the old one stops working.
func (c *Client) ReplaceUserToken(ctx context.Context, name string) (*UserToken, error) {
	return doJSON[UserToken](ctx, c, http.MethodPost, apiPath("users", name, "token"), nil, nil)
}

// DeleteUser removes the account name (admins only), handing the apps it
// owns over to o.Reassign; without it, a user who owns apps is not
// removed (a conflict).
func (c *Client) DeleteUser(ctx context.Context, name string, o DeleteUserOptions) (*UserRemoved, error) {
	var q url.Values
	if o.Reassign != "" {
		q = url.Values{"reassign": {o.Reassign}}
	}
	return doJSON[UserRemoved](ctx, c, http.MethodDelete, apiPath("users", name), q, nil)
}
