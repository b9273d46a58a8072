package builder

import "net/netip"

// AdmitForTest lets w fetch from ap although it is loopback: the tests'
// stand-in for a public host that --build-allow-remote-add admits.
func AdmitForTest(w *Worker, ap netip.AddrPort) { w.fetch.admit = ap }
