package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// switchable is a real health endpoint whose answer the test changes.
type switchable struct {
	*httptest.Server
	mode    atomic.Value // "ok", "fail", "hang"
	hits    atomic.Int64
	release chan struct{}
}

func newSwitchable(t *testing.T) *switchable {
	s := &switchable{release: make(chan struct{})}
	s.mode.Store("ok")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		switch s.mode.Load() {
		case "fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-s.release:
			}
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.release) })
	return s
}

func (s *switchable) waitHits(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.hits.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("health endpoint asked %d times, want %d", s.hits.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// follow streams the service events of the daemon over the WebSocket.
func follow(t *testing.T, c *client.Client, since int64) <-chan client.Event {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan client.Event, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e, err := range c.Events(ctx, client.EventsOptions{Since: since, Topics: []string{"service"}}) {
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("event stream: %v", err)
				}
				return
			}
			out <- e
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return out
}

type serviceEvent struct {
	client.Service
	Changed        []string              `json:"changed"`
	PreviousStatus catalog.ServiceStatus `json:"previous_status"`
}

func nextEvent(t *testing.T, ch <-chan client.Event) (client.Event, serviceEvent) {
	t.Helper()
	select {
	case e := <-ch:
		var d serviceEvent
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("event %s: %v", e.Data, err)
		}
		return e, d
	case <-time.After(20 * time.Second):
		t.Fatal("no service event over the WebSocket within 20s")
	}
	panic("unreachable")
}

// TestServiceHealthOverTheEventStream registers a service while appstored
// runs and follows its health through healthy → failing → timing out →
// healthy on the WebSocket stream: exactly one service.updated per change,
// none while the state holds.
func TestServiceHealthOverTheEventStream(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{ServiceToken: "svc-token-0123456789", HealthInterval: 100 * time.Millisecond})
	ctx := context.Background()
	c := &client.Client{BaseURL: d.URL}
	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events := follow(t, c, since)
	h := newSwitchable(t)

	if _, _, err := c.WithToken("svc-token-0123456789").CreateService(ctx, client.ServiceSpec{Slug: "llm", BaseURL: h.URL}); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ     string
		status  catalog.ServiceStatus
		errText string
		changed []string
		// After the event, the state is checked extra more times (no
		// event may follow) before then changes it. Failing states back
		// off, so they are held briefly.
		extra int64
		then  func()
	}{
		{"service.created", catalog.ServiceUnknown, "", nil, 0, nil},
		{"service.updated", catalog.ServiceHealthy, "", []string{"status"}, 2, func() { h.mode.Store("fail") }},
		{"service.updated", catalog.ServiceUnhealthy, "HTTP 500 Internal Server Error", []string{"status", "last_error"}, 1, func() { h.mode.Store("hang") }},
		// --health-interval 100ms gives checks a 1s timeout.
		{"service.updated", catalog.ServiceUnhealthy, "timed out after 1s", []string{"last_error"}, 0, func() { h.mode.Store("ok") }},
		{"service.updated", catalog.ServiceHealthy, "", []string{"status", "last_error"}, 0, nil},
	}
	for i, w := range want {
		e, got := nextEvent(t, events)
		if e.Type != w.typ || e.Subject != "llm" || got.Status != w.status || got.LastError != w.errText || !slices.Equal(got.Changed, w.changed) {
			t.Fatalf("event %d: %s %s, want %s status %s error %q changed %v", i, e.Type, e.Data, w.typ, w.status, w.errText, w.changed)
		}
		if w.then != nil {
			h.waitHits(t, h.hits.Load()+w.extra)
			w.then()
		}
	}
	// Stable again: more checks, no event. The delete is a sentinel: it
	// must be the very next event.
	h.waitHits(t, h.hits.Load()+4)
	if err := c.WithToken("svc-token-0123456789").DeleteService(ctx, "llm"); err != nil {
		t.Fatal(err)
	}
	if e, _ := nextEvent(t, events); e.Type != "service.deleted" {
		t.Errorf("after a stable stretch: %s %s, want service.deleted next", e.Type, e.Data)
	}
}

// TestServicePollingOnTheWorkerRole splits appstored into an API process
// and a worker process on one database, as a scaled-out deployment does: a
// service registered on the API is checked by the worker, without restart.
func TestServicePollingOnTheWorkerRole(t *testing.T) {
	db := testenv.Postgres(t)
	apiOnly := daemontest.Start(t, daemon.Config{DatabaseURL: db, Roles: []string{daemon.RoleAPI}, ServiceToken: "svc-token-0123456789", HealthInterval: time.Hour})
	daemontest.Start(t, daemon.Config{DatabaseURL: db, Roles: []string{daemon.RoleWorker}, HealthInterval: time.Hour})
	h := newSwitchable(t)
	ctx := context.Background()
	c := (&client.Client{BaseURL: apiOnly.URL}).WithToken("svc-token-0123456789")
	if _, _, err := c.CreateService(ctx, client.ServiceSpec{Slug: "late", BaseURL: h.URL}); err != nil {
		t.Fatal(err)
	}
	h.waitHits(t, 1)
	deadline := time.Now().Add(20 * time.Second)
	for {
		svc, err := c.Service(ctx, "late")
		if err != nil {
			t.Fatal(err)
		}
		if svc.Status == catalog.ServiceHealthy && svc.LastLatencyMS != nil && svc.LastCheckedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service still %s after 20s", svc.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.hits.Load(); n != 1 {
		t.Errorf("checked %d times within an interval of an hour, want once", n)
	}
}
