package api

import (
	"net/http/httptest"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestFailureLimiterAllowsABurstThenOnePerInterval: a client gets burst
// failures at once, then is refused with the wait until its next try; one
// more failure per interval after that; a quiet client is forgiven; other
// clients are not affected.
func TestFailureLimiterAllowsABurstThenOnePerInterval(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	const every = 6 * time.Second
	l := newFailureLimiter(10, every, clock.now)
	for i := range 10 {
		if w := l.wait("a"); w != 0 {
			t.Fatalf("failure %d of the burst: wait %s", i+1, w)
		}
		l.fail("a")
	}
	if w := l.wait("a"); w != every {
		t.Fatalf("after the burst: wait %s, want %s", w, every)
	}
	if w := l.wait("b"); w != 0 {
		t.Errorf("another client waits %s", w)
	}
	clock.t = clock.t.Add(every / 2)
	if w := l.wait("a"); w != every/2 {
		t.Errorf("half an interval later: wait %s, want %s", w, every/2)
	}
	clock.t = clock.t.Add(every / 2)
	if w := l.wait("a"); w != 0 {
		t.Errorf("an interval later: wait %s, want 0", w)
	}
	l.fail("a")
	if w := l.wait("a"); w != every {
		t.Errorf("one failure per interval: wait %s, want %s", w, every)
	}
	// A long quiet forgives everything: a whole burst again.
	clock.t = clock.t.Add(time.Hour)
	for i := range 10 {
		if w := l.wait("a"); w != 0 {
			t.Fatalf("after an hour, failure %d: wait %s", i+1, w)
		}
		l.fail("a")
	}
}

// TestFailureLimiterMemoryIsBounded: an address space of failing clients
// does not grow the map past its bound.
func TestFailureLimiterMemoryIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newFailureLimiter(10, 6*time.Second, clock.now)
	l.maxKeys = 100
	for i := range 1000 {
		l.fail(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := len(l.due); n > l.maxKeys {
		t.Errorf("%d clients tracked, bound %d", n, l.maxKeys)
	}
}

// TestClientKey: failures count against the peer, against the address a
// proxy on loopback appended to X-Forwarded-For only on an exposed daemon
// (elsewhere the header is anyone's to forge), and IPv6 by /64.
func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		exposed bool
		remote  string
		xff     []string
		want    string
	}{
		{false, "192.0.2.7:5555", nil, "192.0.2.7"},
		{true, "192.0.2.7:5555", []string{"198.51.100.1"}, "192.0.2.7"},             // not from a local proxy: the header is ignored
		{false, "127.0.0.1:5555", []string{"198.51.100.1"}, "127.0.0.1"},            // local-only: no proxy to trust
		{true, "127.0.0.1:5555", []string{"198.51.100.1"}, "198.51.100.1"},          // the proxy's entry
		{true, "127.0.0.1:5555", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"}, // the client's own entries prove nothing
		{true, "127.0.0.1:5555", []string{"6.6.6.6", "198.51.100.2"}, "198.51.100.2"},
		{true, "127.0.0.1:5555", []string{"garbage"}, "127.0.0.1"},
		{false, "[2001:db8:1:2:3:4:5:6]:5555", nil, "2001:db8:1:2::/64"},
		{false, "[2001:db8:1:2:ffff::1]:5555", nil, "2001:db8:1:2::/64"},
		{false, "[::ffff:192.0.2.9]:5555", nil, "192.0.2.9"},
	} {
		g := &Guard{Exposed: tc.exposed}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := g.clientKey(r); got != tc.want {
			t.Errorf("exposed %v, peer %s, X-Forwarded-For %q: key %q, want %q", tc.exposed, tc.remote, tc.xff, got, tc.want)
		}
	}
}
