package apitype

import "github.com/appstore-dev/appstore/catalog"

// User is an account (or a built-in actor: local, admin) as the API sends
// it. The personal token is never part of it.
type User = catalog.User

// Role is a user's role: admin, member or viewer.
type Role = catalog.Role

// AddUserRequest is the body of POST /api/v1/users.
type AddUserRequest struct {
	Name string `json:"name"`
	// Role is admin, member or viewer; "" means member.
	Role string `json:"role,omitempty"`
}

// UserToken is the answer of POST /api/v1/users and of POST
// /api/v1/users/{name}/token: the user and its new personal token, shown
// this once (the daemon keeps only a hash of it).
type UserToken struct {
	User  User   `json:"user"`
	Token string `json:"token"`
}

// UserList is the answer of GET /api/v1/users: the accounts, by name
// (the built-in actors are not listed).
type UserList struct {
	Users []User `json:"users"`
}

// Whoami is the answer of GET /api/v1/whoami: who the daemon takes the
// caller for. Anonymous callers get an empty name; Auth says whether the
// daemon wants a token for changes (it has users or a --token).
type Whoami struct {
	User User `json:"user"`
	Auth bool `json:"auth"`
}

// DeleteUserOptions are the query of DELETE /api/v1/users/{name}.
type DeleteUserOptions struct {
	// Reassign names the user who takes over the apps the removed one
	// owns (?reassign=). Without it, removing a user who owns apps is
	// refused (409) and changes nothing.
	Reassign string
}

// UserRemoved is the answer of DELETE /api/v1/users/{name}: OwnedApps
// counts the apps handed over to ReassignedTo.
type UserRemoved struct {
	Name         string `json:"name"`
	OwnedApps    int64  `json:"owned_apps"`
	ReassignedTo string `json:"reassigned_to,omitempty"`
}
