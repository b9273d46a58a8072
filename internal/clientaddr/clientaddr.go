// Package clientaddr finds the address of the client that sent a request,
// for per-client limits and counts.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Of returns the client's address without its port. When behindProxy is
// set and the peer is on loopback (a proxy on this host), it is the
// address that proxy appended last to X-Forwarded-For: earlier entries
// come from the client and prove nothing. ok is false when the peer's
// address does not parse; raw is then what RemoteAddr held.
func Of(r *http.Request, behindProxy bool) (addr netip.Addr, raw string, ok bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err = netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host, false
	}
	addr = addr.Unmap().WithZone("")
	if behindProxy && addr.IsLoopback() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				addr = a.Unmap().WithZone("")
			}
		}
	}
	return addr, host, true
}
