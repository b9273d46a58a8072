package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Role is what a user may do.
//
//   - admin: everything, users and services included;
//   - member: add apps, launch, star, comment, and edit and remove the
//     apps they own;
//   - viewer: read and launch previews.
type Role string

const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// Roles are the roles, strongest first.
var Roles = []Role{RoleAdmin, RoleMember, RoleViewer}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleMember:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }

// ParseRole checks a role given by a person.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", Invalid("role", "%q is not a role: use admin, member or viewer", s)
	}
	return r, nil
}

// Names of the built-in users: the actors without an account.
const (
	// LocalUser is whoever reaches a local-only daemon that has no users
	// and no token: an admin, as before accounts existed.
	LocalUser = "local"
	// TokenUser is whoever presents the daemon token (--token): an admin.
	TokenUser = "admin"
)

// User is a person (or a built-in actor) known to the daemon. The zero
// User is the anonymous actor: a request without a token to a daemon that
// wants one.
type User struct {
	// ID is the users row; 0 for the anonymous actor.
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
	Role Role   `json:"role,omitempty"`
	// Builtin is set for LocalUser and TokenUser, which have no personal
	// token and cannot be removed.
	Builtin bool `json:"builtin,omitempty"`
	// CreatedBy names the admin who added the user.
	CreatedBy      string    `json:"created_by,omitempty"`
	CreatedAt      time.Time `json:"created_at,omitzero"`
	TokenCreatedAt time.Time `json:"token_created_at,omitzero"`
}

// Anonymous reports whether u is no one: no token was presented.
func (u User) Anonymous() bool { return u.Name == "" }

// Can reports whether u's role grants min.
func (u User) Can(min Role) bool { return !u.Anonymous() && u.Role.AtLeast(min) }

// MayChange reports whether u may edit or remove an app owned by owner:
// an admin may change any, a member the ones it owns.
func (u User) MayChange(owner string) bool {
	return u.Can(RoleAdmin) || u.Can(RoleMember) && owner != "" && owner == u.Name
}

// MaxUserNameLen is the longest user name.
const MaxUserNameLen = 64

// ValidateUserName checks a new user's name: 1 to 64 of a-z, 0-9, '-',
// '_' and '.', starting with a letter or digit; the built-in names and
// "anonymous" are taken.
func ValidateUserName(name string) error {
	if name == "" {
		return Invalid("name", "is empty: give the user a name such as alice")
	}
	if len(name) > MaxUserNameLen {
		return Invalid("name", "is %d bytes, longer than %d", len(name), MaxUserNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return Invalid("name", "%q has %q at byte %d: use lower-case letters, digits, '-', '_' and '.', starting with a letter or digit", name, string(c), i)
		}
	}
	switch name {
	case LocalUser, TokenUser, DaemonActor, "anonymous", "system", "service", "webhook":
		return Invalid("name", "%q is reserved for the daemon's built-in actors: choose another name", name)
	}
	return nil
}

// UserTokenPrefix starts every personal token, so that one found in a file
// or a log is recognisable (and secret scanners can match it).
const UserTokenPrefix = "aps_"

// NewUserToken returns a new personal token (32 random bytes) and the hash
// under which it is stored.
func NewUserToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	token = UserTokenPrefix + hex.EncodeToString(b)
	return token, HashUserToken(token)
}

// HashUserToken is how a personal token is stored and looked up: SHA-256,
// hex. The token has 256 random bits, so a fast hash cannot be reversed by
// guessing.
func HashUserToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// The actor of a request travels in its context. The API's guard sets it:
// at once for the routes that change something, on first use for reads
// (most reads never ask, and resolving a token costs a query).
type actorKey struct{}

type actorSlot struct {
	mu      sync.Mutex
	resolve func() (User, error) // nil once done
	user    User
	err     error
}

func (s *actorSlot) get() (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resolve != nil {
		s.user, s.err = s.resolve()
		s.resolve = nil
	}
	return s.user, s.err
}

// WithActor returns ctx carrying u as its actor.
func WithActor(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, actorKey{}, &actorSlot{user: u})
}

// WithActorFunc returns ctx whose actor is resolve's answer, asked for on
// the first ActorFrom only.
func WithActorFunc(ctx context.Context, resolve func() (User, error)) context.Context {
	return context.WithValue(ctx, actorKey{}, &actorSlot{resolve: resolve})
}

// ActorFrom returns the actor of ctx: who is asking. A context without one
// (the daemon's own work) gives the anonymous User. The error is the
// refusal of a wrong token (an API handler answers it as it is:
// respond.WriteError gives 401 or 429).
func ActorFrom(ctx context.Context) (User, error) {
	s, ok := ctx.Value(actorKey{}).(*actorSlot)
	if !ok {
		return User{}, nil
	}
	return s.get()
}

// DaemonActor is the actor of what the daemon does by itself, with no
// request behind it. Events and timeline steps of that work carry
// DaemonActor, or DaemonActor + ":" + the cause (WithCause): "appstored:idle"
// for an idle launch put to sleep. No user name has a colon, so an actor
// with one is always the daemon.
const DaemonActor = "appstored"

// Causes of the daemon's own work (WithCause), as they appear after
// "appstored:" in events.actor.
const (
	CauseIngest    = "ingest"    // an ingestion run of the queue's worker
	CauseSync      = "sync"      // the periodic sync queued a refresh (--sync-interval)
	CauseBuild     = "build"     // a build worker
	CauseReconcile = "reconcile" // a reconciler put back lost work
	CausePrune     = "prune"     // the cleanup job (retention)
	CauseLaunch    = "launch"    // the runner started, followed or ended a launch
	CauseIdle      = "idle"      // an idle launch stopped (scale to zero)
	CauseTTL       = "ttl"       // a launch's time to live ran out
	CauseWake      = "wake"      // a preview request woke a sleeping app
	CauseWarm      = "warm"      // the warm pool
	CauseRedeploy  = "redeploy"  // a new build replaced a running launch
	CauseShutdown  = "shutdown"  // appstored stopping
	CauseThumbnail = "thumbnail" // the thumbnail service
	CauseHealth    = "health"    // the service health poller
)

type causeKey struct{}

// WithCause returns ctx for work the daemon does by itself for cause (one
// of the Cause constants): what it writes carries the actor
// "appstored:<cause>" (ActorName) unless ctx carries a request's actor,
// which stays the one who asked.
func WithCause(ctx context.Context, cause string) context.Context {
	return context.WithValue(ctx, causeKey{}, cause)
}

// DaemonActorName is the actor of the daemon's own work for cause.
func DaemonActorName(cause string) string {
	if cause == "" {
		return DaemonActor
	}
	return DaemonActor + ":" + cause
}

// IsDaemonActor reports whether actor (events.actor) is the daemon's.
func IsDaemonActor(actor string) bool {
	return actor == DaemonActor || strings.HasPrefix(actor, DaemonActor+":")
}

// ActorID is the users row of ctx's actor if it is already known (as
// ActorName), 0 if not or if the actor has none (anonymous, the daemon).
func ActorID(ctx context.Context) int64 {
	s, ok := ctx.Value(actorKey{}).(*actorSlot)
	if !ok || !s.mu.TryLock() {
		return 0
	}
	defer s.mu.Unlock()
	if s.resolve != nil || s.err != nil {
		return 0
	}
	return s.user.ID
}

// ActorName is the name of ctx's actor if it is already known, "" if not:
// what stores write beside a change (events.actor) without resolving a
// token themselves. A context that carries no request (the daemon's own
// work) gives DaemonActorName of its cause (WithCause).
func ActorName(ctx context.Context) string {
	s, ok := ctx.Value(actorKey{}).(*actorSlot)
	if !ok {
		cause, _ := ctx.Value(causeKey{}).(string)
		return DaemonActorName(cause)
	}
	if !s.mu.TryLock() {
		return ""
	}
	defer s.mu.Unlock()
	if s.resolve != nil || s.err != nil {
		return ""
	}
	return s.user.Name
}
