package gitclone

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

// go-git picks its transports from a process-wide table and gives them no
// per-call options, so the policy travels in the context of each request:
// every go-git call of this package attaches a callState, and the HTTP
// client installed here connects only through that state's guarded
// transport.

type stateKey struct{}

// callState is what one Clone or RemoteHead brings to its HTTP requests.
// Each call has its own *http.Transport, so a connection opened under one
// policy is never reused under another.
type callState struct {
	policy    giturl.Policy
	transport *http.Transport
}

func newCallState(p giturl.Policy) *callState {
	return &callState{
		policy: p,
		transport: &http.Transport{
			// The policy resolves, checks every address and connects with
			// its Control hook: DNS rebinding after Check is caught here.
			DialContext: p.DialContext,
			// No proxy from the environment: the guard must see the
			// address it connects to, not a proxy's.
			Proxy:                 nil,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   15 * time.Second,
			ExpectContinueTimeout: time.Second,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		},
	}
}

func (s *callState) close() { s.transport.CloseIdleConnections() }

func withState(ctx context.Context, s *callState) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}

func stateFrom(ctx context.Context) (*callState, bool) {
	s, ok := ctx.Value(stateKey{}).(*callState)
	return s, ok
}

var errNoPolicy = errors.New("gitclone: go-git HTTP request without a URL policy; clone through gitclone.Clone or RemoteHead")

// policyRoundTripper sends each request through the transport of the call
// it belongs to. A request without one is refused rather than sent
// unguarded: in appstored every remote goes through this package.
type policyRoundTripper struct{}

func (policyRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	s, ok := stateFrom(req.Context())
	if !ok {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoPolicy
	}
	return s.transport.RoundTrip(req)
}

// checkRedirect refuses a redirect whose target the policy does not
// admit, before the request leaves. go-git runs it after its own
// checks (it follows redirects only for the first /info/refs request).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	s, ok := stateFrom(req.Context())
	if !ok {
		return errNoPolicy
	}
	if err := s.policy.CheckHost(req.Context(), req.URL.Hostname()); err != nil {
		from := via[len(via)-1].URL
		return fmt.Errorf("redirect from %s to %s refused: %w", from.Host, req.URL.Host, err)
	}
	return nil
}

// init puts the guarded HTTP client into go-git's protocol table. It is
// done at init, before any goroutine can be reading the table: go-git
// guards it with no lock.
func init() {
	c := githttp.NewClient(&http.Client{
		Transport:     policyRoundTripper{},
		CheckRedirect: checkRedirect,
	})
	client.InstallProtocol("http", c)
	client.InstallProtocol("https", c)
}
