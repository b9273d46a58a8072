package api

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Guard refuses requests that a browser could be tricked into sending (DNS
// rebinding: a foreign Host; cross-site requests: a foreign Origin) and, when
// a token is configured, mutating requests without it.
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
	// TokenExempt lists path prefixes with their own authentication
	// (webhook signatures, the service token).
	TokenExempt []string
}

// Wrap applies the guard to next.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.HostAllowed(r.Host) {
			writeError(w, r, errorf(http.StatusForbidden, "forbidden",
				"Host %q is not a name of this daemon (refused to protect against DNS rebinding); use http://127.0.0.1:<port> or start appstored with --allowed-host %s", r.Host, hostOnly(r.Host)))
			return
		}
		if mutating(r) && !g.OriginAllowed(r) {
			writeError(w, r, errorf(http.StatusForbidden, "forbidden",
				"cross-origin request from %q refused: only pages served by this daemon may change it", r.Header.Get("Origin")))
			return
		}
		if mutating(r) && g.Token != "" && !g.exempt(r.URL.Path) && !g.TokenOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="appstored"`)
			writeError(w, r, errorf(http.StatusUnauthorized, "unauthorized",
				"this call needs the daemon token: send Authorization: Bearer <token> (the CLI reads APPSTORE_TOKEN or --token)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Guard) exempt(path string) bool {
	for _, p := range g.TokenExempt {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// mutating reports requests that change state, including WebSocket upgrades
// (a cross-site page must not open the event stream with the user's access).
func mutating(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	}
	return true
}

// TokenOK checks the bearer token in constant time.
func (g *Guard) TokenOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		// Browsers cannot set headers on a WebSocket handshake (the web
		// view's event stream): there, and only there, the token may come
		// as ?access_token=.
		if got = r.URL.Query().Get("access_token"); got == "" || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
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
	if IsLoopbackHost(host) {
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

// IsLoopbackHost reports whether host (without port) is a loopback name or
// address: localhost, *.localhost (RFC 6761), 127.0.0.0/8, ::1.
func IsLoopbackHost(host string) bool {
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
