package servicehealth_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/servicehealth"
)

// resolver answers host names from a table, so that a test can make a
// name resolve to the metadata address without any DNS.
type resolver map[string][]string

func (r resolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, a := range addrs {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

func TestPolicy(t *testing.T) {
	strict := servicehealth.Policy{}
	loopbackOK := servicehealth.Policy{AllowLoopback: true}
	for _, tc := range []struct {
		addr           string
		strict, loopOK bool // admitted by each policy
	}{
		{"169.254.169.254", false, false},
		{"169.254.0.1", false, false},
		{"fe80::1", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"0.0.0.0", false, false},
		{"224.0.0.1", false, false},
		{"255.255.255.255", false, false},
		{"127.0.0.1", false, true},
		{"127.3.4.5", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"10.0.0.5", true, true},
		{"192.168.1.20", true, true},
		{"172.16.0.1", true, true},
		{"fd00::5", true, true},
		{"100.64.0.1", true, true},
		{"93.184.216.34", true, true},
	} {
		a := netip.MustParseAddr(tc.addr)
		if err := strict.CheckAddr(a); (err == nil) != tc.strict {
			t.Errorf("strict policy, %s: %v", tc.addr, err)
		}
		if err := loopbackOK.CheckAddr(a); (err == nil) != tc.loopOK {
			t.Errorf("policy with loopback, %s: %v", tc.addr, err)
		}
		if err := strict.CheckAddr(a); err != nil && !errors.Is(err, servicehealth.ErrRefused) {
			t.Errorf("%s: %v is not an ErrRefused", tc.addr, err)
		}
	}

	// Registration: literals and names, by every address they resolve to.
	p := servicehealth.Policy{Resolver: resolver{
		"metadata.internal": {"169.254.169.254"},
		"mixed.internal":    {"10.0.0.7", "169.254.169.254"},
		"self.internal":     {"127.0.0.1"},
		"llm.internal":      {"10.0.0.5"},
	}}
	ctx := context.Background()
	for _, tc := range []struct{ url, mention string }{
		{"http://169.254.169.254/latest/meta-data", "link-local"},
		{"http://[fe80::1]:8080/", "link-local"},
		{"http://metadata.internal/", "resolves to"},
		{"http://mixed.internal:9200/", "link-local"},
		{"http://self.internal:8080/healthz", "--service-allow-loopback"},
		{"http://127.0.0.1:8080/healthz", "--service-allow-loopback"},
		{"http://localhost.:8080/", ""}, // does not resolve here: let through, checked at connect
	} {
		err := p.CheckURL(ctx, "health_url", tc.url)
		if tc.mention == "" {
			if err != nil {
				t.Errorf("%s: %v, want it let through to the connect-time check", tc.url, err)
			}
			continue
		}
		var inv *catalog.InvalidError
		if !errors.As(err, &inv) || inv.Field != "health_url" || !strings.Contains(inv.Message, tc.mention) {
			t.Errorf("%s: %v, want invalid health_url mentioning %q", tc.url, err, tc.mention)
		}
	}
	for _, ok := range []string{"http://llm.internal:8080", "http://10.0.0.5:8080/healthz", "not a url at all"} {
		if err := p.CheckURL(ctx, "base_url", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}

	// At connect time: the resolved address, whatever the name was.
	if err := strict.DialControl("tcp4", "169.254.169.254:80", nil); !errors.Is(err, servicehealth.ErrRefused) {
		t.Errorf("DialControl(metadata): %v", err)
	}
	if err := strict.DialControl("tcp4", "10.0.0.5:80", nil); err != nil {
		t.Errorf("DialControl(private): %v", err)
	}
}

// TestPollerRefusesBeforeConnecting registers services in the store
// directly (as a service registered before the policy, or by a name that
// resolved elsewhere then, would be): the poller's checks of link-local,
// unspecified and — on an exposed daemon — loopback addresses fail with
// the policy's reason, and no connection to them is even attempted: the
// dialer's hook, called after the policy admitted an address and before
// connect(2), never sees them, and the loopback health server is never
// asked. A loopback service on a policy that admits loopback is checked
// (the hook and the server see it), so the test can tell.
func TestPollerRefusesBeforeConnecting(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	h := newHealthServer(t)
	for slug, url := range map[string]string{
		"metadata":    "http://169.254.169.254",
		"metadata-v6": "http://[fe80::a9fe:a9fe]",
		"unspecified": "http://0.0.0.0:9",
		"self":        h.URL,
	} {
		if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: slug, BaseURL: url}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var attempts []string
	// The check of the admitted loopback service below is its only one
	// (the next is an hour away): its timeout is far beyond what a loaded
	// machine takes to answer on loopback, so that it is healthy.
	cfg := servicehealth.WithConnecting(servicehealth.Config{Store: st, Interval: time.Hour, Timeout: 30 * time.Second, MaxIdle: 10 * time.Millisecond},
		func(addr string) { mu.Lock(); attempts = append(attempts, addr); mu.Unlock() })
	p, err := servicehealth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()
	for slug, mention := range map[string]string{"metadata": "link-local", "metadata-v6": "link-local", "unspecified": "unspecified", "self": "--service-allow-loopback"} {
		s := waitStatus(t, st, slug, catalog.ServiceUnhealthy)
		if !strings.Contains(s.LastError, "refused to connect") || !strings.Contains(s.LastError, mention) {
			t.Errorf("%s: error %q, want the policy's refusal mentioning %q", slug, s.LastError, mention)
		}
	}
	cancel()
	<-done
	mu.Lock()
	if len(attempts) != 0 {
		t.Errorf("connections attempted to %v, want none", attempts)
	}
	mu.Unlock()
	if n := h.hitCount(); n != 0 {
		t.Errorf("the loopback health server was asked %d times", n)
	}

	// The same loopback service with loopback admitted: checked.
	cfg.Policy.AllowLoopback = true
	cfg = servicehealth.WithConnecting(cfg, func(addr string) { mu.Lock(); attempts = append(attempts, addr); mu.Unlock() })
	if _, err := st.Pool().Exec(ctx, `UPDATE services SET next_check_at = now() WHERE slug = 'self'`); err != nil {
		t.Fatal(err)
	}
	p, err = servicehealth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel = context.WithCancel(ctx)
	defer cancel()
	go p.Run(runCtx)
	waitStatus(t, st, "self", catalog.ServiceHealthy)
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) == 0 || !strings.HasPrefix(attempts[0], "127.0.0.1:") {
		t.Errorf("admitted loopback check: attempts %v", attempts)
	}
}
