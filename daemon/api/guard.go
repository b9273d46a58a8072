package api

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
	"github.com/appstore-dev/appstore/internal/clientaddr"
)

// Guard refuses requests that a browser could be tricked into sending (DNS
// rebinding: a foreign Host; cross-site requests: a foreign Origin) and, when
// a token is configured, mutating requests without it. The Host check covers
// every request the API serves (Hosts); the rest depends on the route's
// guard in the route table (routes.go).
//
// Every token check goes through checkCredential, which also slows down a
// client that keeps presenting wrong ones (failureLimiter, below): 429 with
// Retry-After once it has used up its allowance of failures.
type Guard struct {
	// Loopback is set when the daemon listens on loopback only. Then only
	// loopback names (localhost, *.localhost, 127.0.0.0/8, ::1) and
	// AllowedHosts are accepted in the Host header.
	Loopback bool
	// AllowedHosts are extra host names accepted in Host and Origin
	// ("appstore.example.com", "*.apps.example.com"). When the daemon is not
	// on loopback and this is empty, any Host is accepted and the token is
	// the protection.
	AllowedHosts []string
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// mutating requests.
	Token string
	// ServiceToken, when set, is required as "Authorization: Bearer
	// <token>" by the routes that change the service registry; empty
	// disables them. It is separate from Token: services register
	// themselves with it, so it must not grant anything else.
	ServiceToken string
	// Exposed is set when clients beyond this host reach the daemon (it
	// listens beyond loopback, or an allowed host is reached through a
	// proxy; daemon.Config.Exposed). Then a proxy on loopback is trusted to
	// name the client in X-Forwarded-For, and the service registry shows
	// its health details to token holders only (Authenticated).
	Exposed bool
	// FailureBurst is how many wrong tokens or signatures a client may
	// present in a row before it is slowed to one per failureEvery
	// (default failureBurst).
	FailureBurst int

	// Users, when set, are the accounts whose personal tokens are
	// accepted beside Token (actor.go); Server.Handler sets it to the
	// Store.
	Users Users

	// limiter counts failed token checks per client (in memory only).
	limiterOnce sync.Once
	limiter     *failureLimiter
	// builtins caches the built-in users' rows.
	builtins builtinCache
}

// A guard kind says what a route checks before its handler runs, beyond
// the Host check that every request gets (Guard.Hosts). The route table
// gives each route one.
type guardKind int

const (
	// read: nothing more. Reading needs no token; the handler may ask who
	// is reading (catalog.ActorFrom), which then resolves the token.
	read guardKind = iota
	// mutating: the Origin is this daemon's, and the sender is a member
	// or an admin (actor.go: the daemon token, a personal token, or
	// anyone on a daemon that wants no token).
	mutating
	// serviceToken: the Origin is this daemon's, and the service token
	// (never the daemon token) or an admin's personal token: the service
	// registry's writes.
	serviceToken
	// signed: the Origin is this daemon's, and the client has not failed
	// too often; the handler authenticates the body itself (webhook
	// signatures, reporting failures with SignatureFailed), so no token.
	signed
	// websocket: a plain GET is a read; an Upgrade is mutating (a
	// cross-site page must not open the stream with the user's access),
	// and the token may come as ?access_token= since browsers cannot set
	// headers on a WebSocket handshake.
	websocket
	// byMethod: read for GET, HEAD and OPTIONS, mutating otherwise. For
	// the fallbacks that answer any method.
	byMethod
	// launching: mutating, but viewers may too: launching a preview.
	launching
	// owned: mutating, on one app (the path's {slug}, or the app of the
	// build {id}): a member must own it; admins may change any.
	owned
	// adminOnly: mutating, for admins only (accounts).
	adminOnly
	// self: mutating, on one account (the path's {name}): its own user,
	// whatever its role, or an admin.
	self
	// ownLaunch: mutating, on one launch (the path's {id}): members and
	// admins any, a viewer only the launches it started.
	ownLaunch
)

func (k guardKind) String() string {
	return [...]string{"read", "mutating", "service-token", "signed", "websocket", "by-method", "launching", "owned", "admin", "self", "own-launch"}[k]
}

// Hosts refuses a request whose Host is not a name of this daemon, then
// serves next.
func (g *Guard) Hosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.HostAllowed(r.Host) {
			respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
				"Host %q is not a name of this daemon (refused to protect against DNS rebinding); use http://127.0.0.1:<port> or start appstored with --allowed-host %s", r.Host, hostOnly(r.Host)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guard returns h behind the checks of kind.
func (g *Guard) guard(kind guardKind, h http.HandlerFunc) http.HandlerFunc {
	switch kind {
	case read:
		return func(w http.ResponseWriter, r *http.Request) {
			h(w, g.withLazyActor(r))
		}
	case mutating, launching, owned, adminOnly, self, ownLaunch:
		return func(w http.ResponseWriter, r *http.Request) {
			if g.originRefused(w, r) {
				return
			}
			r, ok := g.authorize(w, r, kind)
			if !ok {
				return
			}
			h(w, r)
		}
	case serviceToken:
		return func(w http.ResponseWriter, r *http.Request) {
			if g.originRefused(w, r) {
				return
			}
			r, refused := g.serviceTokenRefused(w, r)
			if refused {
				return
			}
			if rec, ok := w.(*statusRecorder); ok {
				rec.Actor = catalog.ActorName(r.Context())
			}
			h(w, r)
		}
	case signed:
		return func(w http.ResponseWriter, r *http.Request) {
			if g.originRefused(w, r) || g.throttled(w, r) {
				return
			}
			h(w, r.WithContext(catalog.WithActor(r.Context(), webhookActor)))
		}
	case websocket:
		return func(w http.ResponseWriter, r *http.Request) {
			if !isUpgrade(r) {
				h(w, g.withLazyActor(r))
				return
			}
			if g.originRefused(w, r) {
				return
			}
			r, ok := g.authorize(w, r, websocket)
			if !ok {
				return
			}
			h(w, r)
		}
	case byMethod:
		return func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				g.guard(websocket, h)(w, r)
			default:
				g.guard(mutating, h)(w, r)
			}
		}
	}
	panic("api: unknown guard kind")
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// originRefused answers 403 and reports true when the request comes from
// a page of another site.
func (g *Guard) originRefused(w http.ResponseWriter, r *http.Request) bool {
	if g.OriginAllowed(r) {
		return false
	}
	respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
		"cross-origin request from %q refused: only pages served by this daemon may change it", r.Header.Get("Origin")))
	return true
}

// serviceTokenRefused answers and reports true unless the request carries
// the service token: 403 when the daemon has none (registration disabled),
// 401 when it is missing or wrong, 429 after too many failures.
//
// An admin's personal token is accepted too (admins may do everything), and
// the request then carries that admin as its actor; another account's is
// 403. The daemon token is not: it is a wrong service token.
func (g *Guard) serviceTokenRefused(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if g.ServiceToken == "" {
		respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"service registration is disabled on this daemon: start appstored with --service-token <secret> (or APPSTORE_SERVICE_TOKEN=<secret>), then send it as Authorization: Bearer <secret> (the CLI reads APPSTORE_SERVICE_TOKEN or --service-token)"))
		return r, true
	}
	got := bearerToken(r)
	if got != "" && g.Users != nil && !tokenEqual(got, g.ServiceToken) && (g.Token == "" || !tokenEqual(got, g.Token)) {
		if wait := g.failures().wait(g.clientKey(r)); wait > 0 {
			writeThrottled(w, r, wait)
			return r, true
		}
		u, err := g.Users.UserByTokenHash(r.Context(), catalog.HashUserToken(got))
		switch {
		case err == nil && u.Can(catalog.RoleAdmin):
			return r.WithContext(catalog.WithActor(r.Context(), *u)), false
		case err == nil:
			respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
				"%s is %s %s: the service registry is changed by admins, and with the service token (--service-token / APPSTORE_SERVICE_TOKEN)", u.Name, article(u.Role), u.Role))
			return r, true
		case !errors.Is(err, catalog.ErrNotFound):
			respond.WriteError(w, r, err)
			return r, true
		}
	}
	switch g.checkCredential(w, r, got, g.ServiceToken) {
	case credentialOK:
		return r.WithContext(catalog.WithActor(r.Context(), serviceActor)), false
	case credentialThrottled:
		return r, true
	case credentialMissing:
		w.Header().Set("WWW-Authenticate", `Bearer realm="appstored services"`)
		respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized,
			"this call needs the service token: send Authorization: Bearer <service token> (the CLI reads APPSTORE_SERVICE_TOKEN or --service-token; the daemon token is not accepted here, an admin's personal token is)"))
		return r, true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="appstored services", error="invalid_token"`)
	respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized,
		"the service token is wrong: send the value appstored was started with (--service-token / APPSTORE_SERVICE_TOKEN; the CLI reads APPSTORE_SERVICE_TOKEN or --service-token, not APPSTORE_TOKEN), or an admin's personal token"))
	return r, true
}

// Authenticated reports whether a read comes from a token holder: it
// carries the daemon token or the service token. A request that carries
// neither is anonymous (false, and nothing answered). A wrong token is
// answered here — 401, or 429 after too many — and answered is true: a read
// that changed its answer with the token's rightness would be an oracle for
// guessing it.
func (g *Guard) Authenticated(w http.ResponseWriter, r *http.Request) (ok, answered bool) {
	got := bearerToken(r)
	if got == "" {
		return false, false
	}
	var want []string
	for _, t := range []string{g.Token, g.ServiceToken} {
		if t != "" {
			want = append(want, t)
		}
	}
	client := g.clientKey(r)
	if wait := g.failures().wait(client); wait > 0 {
		writeThrottled(w, r, wait)
		return false, true
	}
	for _, t := range want {
		if tokenEqual(got, t) {
			return true, false
		}
	}
	// A personal token: its holder is a user of the daemon.
	if g.Users != nil {
		_, err := g.Users.UserByTokenHash(r.Context(), catalog.HashUserToken(got))
		if err == nil {
			return true, false
		}
		if !errors.Is(err, catalog.ErrNotFound) {
			respond.WriteError(w, r, err)
			return false, true
		}
	}
	g.failures().fail(client)
	w.Header().Set("WWW-Authenticate", `Bearer realm="appstored", error="invalid_token"`)
	respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized,
		"the token is wrong: send your personal token, the daemon token (--token) or the service token (--service-token), or no Authorization header to read what anyone may"))
	return false, true
}

// IsCredential reports whether token is the daemon token, the service
// token, or shaped like a personal token (catalog.UserTokenPrefix: no
// lookup, so a preview request costs no query): the preview proxy takes
// such credentials off requests before they reach an app
// (runner.Config.DaemonToken).
func (g *Guard) IsCredential(token string) bool {
	token = strings.TrimSpace(token)
	if strings.HasPrefix(token, catalog.UserTokenPrefix) {
		return true
	}
	return token != "" && (g.Token != "" && tokenEqual(token, g.Token) || g.ServiceToken != "" && tokenEqual(token, g.ServiceToken))
}

// credentialResult is what checkCredential found.
type credentialResult int

const (
	credentialMissing   credentialResult = iota // none presented: nothing counted or answered
	credentialOK                                // it matches one of the wanted tokens
	credentialWrong                             // presented, matches none: counted, not answered
	credentialThrottled                         // the client failed too often: 429 answered
)

// checkCredential is the one place where a presented token is compared:
// a client over its allowance of failures gets 429 with Retry-After before
// its token is looked at, a wrong token counts as a failure of its client.
// An empty got means nothing was presented.
func (g *Guard) checkCredential(w http.ResponseWriter, r *http.Request, got string, want ...string) credentialResult {
	if got == "" {
		return credentialMissing
	}
	client := g.clientKey(r)
	if wait := g.failures().wait(client); wait > 0 {
		writeThrottled(w, r, wait)
		return credentialThrottled
	}
	for _, t := range want {
		if tokenEqual(got, t) {
			return credentialOK
		}
	}
	g.failures().fail(client)
	return credentialWrong
}

// SignatureFailed counts a webhook delivery whose signature was wrong
// against its client, as a wrong token is (the route's signed guard then
// slows that client down).
func (g *Guard) SignatureFailed(r *http.Request) { g.failures().fail(g.clientKey(r)) }

// throttled answers 429 and reports true when the request's client has
// used up its allowance of failures.
func (g *Guard) throttled(w http.ResponseWriter, r *http.Request) bool {
	if wait := g.failures().wait(g.clientKey(r)); wait > 0 {
		writeThrottled(w, r, wait)
		return true
	}
	return false
}

func writeThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	respond.WriteError(w, r, throttledError(wait))
}

// bearerToken returns the token of "Authorization: Bearer <token>", or "".
func bearerToken(r *http.Request) string {
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(got)
}

// bearerOrQueryToken is bearerToken, or on a WebSocket upgrade without an
// Authorization header the ?access_token= parameter: browsers cannot set
// headers on a handshake (the web view's event stream); elsewhere a token
// in a URL would end up in logs and Referer headers, so it is not read.
func bearerOrQueryToken(r *http.Request) string {
	if r.Header.Get("Authorization") == "" && isUpgrade(r) {
		return strings.TrimSpace(r.URL.Query().Get("access_token"))
	}
	return bearerToken(r)
}

// tokenEqual compares in constant time; hashing first makes it constant
// in the length of the token too.
func tokenEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (g *Guard) failures() *failureLimiter {
	g.limiterOnce.Do(func() {
		if g.limiter == nil {
			g.limiter = newFailureLimiter(cmp.Or(g.FailureBurst, failureBurst), failureEvery, time.Now)
		}
	})
	return g.limiter
}

// clientKey names the client that failures are counted against: the
// peer's address, or on an exposed daemon whose peer is a proxy on this
// host (loopback), the address that proxy appended last to
// X-Forwarded-For (earlier entries come from the client and prove
// nothing). IPv6 clients count by their /64, which one host usually has
// whole.
func (g *Guard) clientKey(r *http.Request) string {
	addr, raw, ok := clientaddr.Of(r, g.Exposed)
	if !ok {
		return raw
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// Failed token checks are allowed in a burst of failureBurst per client,
// then one per failureEvery: a person who mistyped a token retries at once,
// a guesser gets 10 tries a minute.
const (
	failureBurst = 10
	failureEvery = 6 * time.Second
	// maxTrackedClients bounds the limiter's memory.
	maxTrackedClients = 1 << 16
)

// failureLimiter counts failures per client with a generic cell rate
// algorithm: each failure moves the client's "due" time one interval
// forward (from now at the latest); the client is refused while due is
// more than burst intervals ahead. It lives in memory only: a restart
// forgives everyone, and no address is ever stored.
type failureLimiter struct {
	mu      sync.Mutex
	due     map[string]time.Time
	burst   time.Duration // burst × every: the slack before refusals
	every   time.Duration
	now     func() time.Time
	maxKeys int
}

func newFailureLimiter(burst int, every time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{due: map[string]time.Time{}, burst: time.Duration(burst) * every, every: every, now: now, maxKeys: maxTrackedClients}
}

// wait is how long client must wait before a token of its is looked at
// again: 0 unless it failed more than its allowance.
func (l *failureLimiter) wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	due, ok := l.due[client]
	if !ok {
		return 0
	}
	return max(due.Sub(l.now())-l.burst+l.every, 0)
}

// fail counts one failure of client.
func (l *failureLimiter) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	due, ok := l.due[client]
	if !ok && len(l.due) >= l.maxKeys {
		l.sweep(now)
	}
	if due.Before(now) {
		due = now
	}
	l.due[client] = due.Add(l.every)
}

// sweep forgets clients whose failures are all forgiven; if that frees
// nothing (more failing clients than maxKeys at once), it forgets the
// oldest half of the map's arbitrary order, so memory stays bounded.
func (l *failureLimiter) sweep(now time.Time) {
	for k, due := range l.due {
		if !due.After(now) {
			delete(l.due, k)
		}
	}
	for k := range l.due {
		if len(l.due) < l.maxKeys/2 {
			break
		}
		delete(l.due, k)
	}
}

// HostAllowed reports whether a Host header names this daemon.
func (g *Guard) HostAllowed(hostport string) bool {
	host := strings.ToLower(hostOnly(hostport))
	if host == "" {
		return false
	}
	for _, a := range g.AllowedHosts {
		if matchHost(strings.ToLower(a), host) {
			return true
		}
	}
	if isLoopbackHost(host) {
		return true
	}
	return !g.Loopback && len(g.AllowedHosts) == 0
}

// OriginAllowed reports whether a request's Origin (if any) is this daemon:
// the same host:port as the request, or an allowed host.
func (g *Guard) OriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		// Not a browser, or a same-origin navigation that sends none.
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	host := strings.ToLower(u.Hostname())
	for _, a := range g.AllowedHosts {
		if matchHost(strings.ToLower(a), host) {
			return true
		}
	}
	return false
}

func matchHost(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return pattern == host
}

// isLoopbackHost reports whether host (without port) is a loopback name or
// address: localhost, *.localhost (RFC 6761), 127.0.0.0/8, ::1.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(hostport, "[]")
}
