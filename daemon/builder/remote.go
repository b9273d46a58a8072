package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

// checkRemoteSources refuses the Dockerfile's ADD instructions that fetch a
// URL from a host that is not a public address. The classic builder
// downloads ADD URLs inside the engine, on the engine host's own network: a
// hostile repository could otherwise read what listens on the host's
// loopback, or the cloud metadata address, into its image. Loopback,
// link-local and other never-public addresses are always refused; private
// ones only when the Git policy refuses them (an internet-facing daemon).
//
// This is a check before the build, not at connect time: a host whose DNS
// answer changes between the two is not caught here. RUN steps, which run
// in a container on the engine's network, are bounded by --build-network.
func checkRemoteSources(ctx context.Context, dockerfile []byte, policy giturl.Policy) error {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil // the engine reports syntax errors, with their line
	}
	for _, n := range res.AST.Children {
		if !strings.EqualFold(n.Value, command.Add) {
			continue
		}
		var args []string
		for a := n.Next; a != nil; a = a.Next {
			args = append(args, a.Value)
		}
		if len(args) < 2 {
			continue
		}
		for _, src := range args[:len(args)-1] { // the last one is the destination
			u, err := url.Parse(src)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				continue
			}
			if why := forbiddenFetchHost(ctx, u.Hostname(), policy); why != "" {
				return &contextError{msg: fmt.Sprintf("Dockerfile line %d: ADD %s: %s, and the engine would fetch it from its own host's network; refused. Serve the file from a public address, or download it in a RUN step",
					n.StartLine, src, why)}
			}
		}
	}
	return nil
}

// forbiddenFetchHost says why host may not be fetched from ("" when it
// may). It resolves host as the Git policy does (literals, the policy's
// resolver, its ranges), and refuses loopback even where the policy admits
// it: the engine host's loopback is not the daemon's user's. A host that
// does not resolve is left to the engine, which fails the build saying so.
func forbiddenFetchHost(ctx context.Context, host string, policy giturl.Policy) string {
	addrs, err := policy.Resolve(ctx, host)
	var pe *giturl.PolicyError
	if errors.As(err, &pe) && pe.Addr.IsValid() {
		return describeAddr(host, pe.Addr)
	}
	for _, a := range addrs {
		if a.IsLoopback() {
			return describeAddr(host, a)
		}
	}
	return ""
}

// describeAddr says what kind of address host is, or resolves to.
func describeAddr(host string, a netip.Addr) string {
	class, _ := giturl.Classify(a)
	if a.String() == host {
		return fmt.Sprintf("%s is %s", host, class)
	}
	return fmt.Sprintf("%s resolves to %s, which is %s", host, a, class)
}
