package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// Guard refuses requests that a browser could be tricked into sending (DNS
// rebinding: a foreign Host; cross-site requests: a foreign Origin) and, when
// a token is configured, mutating requests without it. The Host check covers
// every request the API serves (Hosts); the rest depends on the route's
// guard in the route table (routes.go).
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
}

// A guard kind says what a route checks before its handler runs, beyond
// the Host check that every request gets (Guard.Hosts). The route table
// gives each route one.
type guardKind int

const (
	// read: nothing more. Reading needs no token.
	read guardKind = iota
	// mutating: the Origin is this daemon's, and the daemon token when
	// one is set.
	mutating
	// serviceToken: the Origin is this daemon's, and the service token
	// (never the daemon token): the service registry's writes.
	serviceToken
	// signed: the Origin is this daemon's; the handler authenticates the
	// body itself (webhook signatures), so no token.
	signed
	// websocket: a plain GET is a read; an Upgrade is mutating (a
	// cross-site page must not open the stream with the user's access),
	// and the token may come as ?access_token= since browsers cannot set
	// headers on a WebSocket handshake.
	websocket
	// byMethod: read for GET, HEAD and OPTIONS, mutating otherwise. For
	// the fallbacks that answer any method.
	byMethod
)

func (k guardKind) String() string {
	return [...]string{"read", "mutating", "service-token", "signed", "websocket", "by-method"}[k]
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
		return h
	case mutating:
		return func(w http.ResponseWriter, r *http.Request) {
			if g.originRefused(w, r) || g.tokenRefused(w, r) {
				return
			}
			h(w, r)
		}
	case serviceToken:
		return func(w http.ResponseWriter, r *http.Request) {
			if g.originRefused(w, r) || g.serviceTokenRefused(w, r) {
				return
			}
			h(w, r)
		}
	case signed:
		return func(w http.ResponseWriter, r *http.Request) {
			if g.originRefused(w, r) {
				return
			}
			h(w, r)
		}
	case websocket:
		return func(w http.ResponseWriter, r *http.Request) {
			if isUpgrade(r) && (g.originRefused(w, r) || g.tokenRefused(w, r)) {
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

// tokenRefused answers 401 and reports true when a daemon token is set
// and the request lacks it.
func (g *Guard) tokenRefused(w http.ResponseWriter, r *http.Request) bool {
	if g.Token == "" || g.TokenOK(r) {
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="appstored"`)
	respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized,
		"this call needs the daemon token: send Authorization: Bearer <token> (the CLI reads APPSTORE_TOKEN or --token)"))
	return true
}

// serviceTokenRefused answers and reports true unless the request carries
// the service token: 403 when the daemon has none (registration disabled),
// 401 when it is missing or wrong.
func (g *Guard) serviceTokenRefused(w http.ResponseWriter, r *http.Request) bool {
	if g.ServiceToken == "" {
		respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"service registration is disabled on this daemon: start appstored with --service-token <secret> (or APPSTORE_SERVICE_TOKEN=<secret>), then send it as Authorization: Bearer <secret> (the CLI reads APPSTORE_SERVICE_TOKEN or --service-token)"))
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(got) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="appstored services"`)
		respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized,
			"this call needs the service token: send Authorization: Bearer <service token> (the CLI reads APPSTORE_SERVICE_TOKEN or --service-token; the daemon's APPSTORE_TOKEN is not accepted here)"))
		return true
	}
	// Hashing first makes the comparison constant-time in the length of
	// the token too.
	want, have := sha256.Sum256([]byte(g.ServiceToken)), sha256.Sum256([]byte(strings.TrimSpace(got)))
	if subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="appstored services", error="invalid_token"`)
		respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized,
			"the service token is wrong: send the value appstored was started with (--service-token / APPSTORE_SERVICE_TOKEN; the CLI reads APPSTORE_SERVICE_TOKEN or --service-token, not APPSTORE_TOKEN)"))
		return true
	}
	return false
}

// TokenOK checks the bearer token in constant time.
func (g *Guard) TokenOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		// Browsers cannot set headers on a WebSocket handshake (the web
		// view's event stream): there, and only there, the token may come
		// as ?access_token=.
		if got = r.URL.Query().Get("access_token"); got == "" || !isUpgrade(r) {
			return false
		}
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(g.Token)) == 1
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
