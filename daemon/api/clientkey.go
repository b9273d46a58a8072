package api

import "net/http"

// ClientKey names the client of a request the way the guard counts it
// (the peer, or the address a proxy on this host appended): the runner
// limits the apps each client wakes with it.
func (g *Guard) ClientKey(r *http.Request) string { return g.clientKey(r) }
