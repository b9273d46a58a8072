package builder

import (
	"context"
	"net/netip"

	bkclient "github.com/moby/buildkit/client"
)

// AdmitForTest lets w fetch from ap although it is loopback: the tests'
// stand-in for a public host that --build-allow-remote-add admits.
func AdmitForTest(w *Worker, ap netip.AddrPort) { w.fetch.admit = ap }

// BuildKitClientForTest is the worker's BuildKit client (nil when the
// engine serves none), for benchmarks that solve without the pipeline.
func BuildKitClientForTest(ctx context.Context, w *Worker) *bkclient.Client {
	_, c := w.bk.choose(ctx)
	return c
}
