package servicehealth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/servicehealth"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// Modes of a healthServer.
const (
	modeHealthy int32 = iota
	modeFailing
	modeHanging
)

// healthServer is a real HTTP health endpoint whose answer the test
// switches, and which records when it was asked.
type healthServer struct {
	*httptest.Server
	mode     atomic.Int32
	inFlight atomic.Int32
	maxIn    atomic.Int32
	release  chan struct{} // closed by unhang
	once     sync.Once

	mu   sync.Mutex
	hits []time.Time
}

func newHealthServer(t *testing.T) *healthServer {
	h := &healthServer{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		for {
			m := h.maxIn.Load()
			if n <= m || h.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		h.mu.Lock()
		h.hits = append(h.hits, time.Now())
		h.mu.Unlock()
		switch h.mode.Load() {
		case modeFailing:
			http.Error(w, "database down at "+time.Now().String(), http.StatusInternalServerError)
		case modeHanging:
			select {
			case <-r.Context().Done():
			case <-h.release:
			}
		default:
			w.Write([]byte(`{"status":"ok"}`))
		}
	}))
	// Cleanups run last-in first-out: release hanging handlers, then close.
	t.Cleanup(h.Close)
	t.Cleanup(h.unhang)
	return h
}

// unhang lets the checks held by modeHanging go (they are answered 200)
// and makes that mode answer at once from then on.
func (h *healthServer) unhang() { h.once.Do(func() { close(h.release) }) }

func (h *healthServer) hitCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.hits)
}

func (h *healthServer) hitTimes() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.hits)
}

// waitHits waits until the server was asked n times in all.
func (h *healthServer) waitHits(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for h.hitCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("health endpoint asked %d times, want %d", h.hitCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// events follows the service.* events of the event log.
type events struct {
	st    *store.Store
	since int64
}

func newEvents(t *testing.T, st *store.Store) *events {
	id, err := st.LastEventID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &events{st: st, since: id}
}

func (e *events) read(t *testing.T) []catalog.Event {
	t.Helper()
	evs, err := e.st.Events(context.Background(), store.EventFilter{Since: e.since, Topics: []string{"service"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) > 0 {
		e.since = evs[len(evs)-1].ID
	}
	return evs
}

// next waits for the next service event.
func (e *events) next(t *testing.T) catalog.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := e.st.Events(context.Background(), store.EventFilter{Since: e.since, Topics: []string{"service"}, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 1 {
			e.since = evs[0].ID
			return evs[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no service event within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type updated struct {
	catalog.Service
	Changed        []string              `json:"changed"`
	PreviousStatus catalog.ServiceStatus `json:"previous_status"`
}

func decode(t *testing.T, e catalog.Event) updated {
	t.Helper()
	var u updated
	if err := json.Unmarshal(e.Data, &u); err != nil {
		t.Fatalf("%s: %v", e.Data, err)
	}
	return u
}

func startPoller(t *testing.T, cfg servicehealth.Config) *servicehealth.Poller {
	t.Helper()
	// The test's health servers listen on loopback.
	cfg.Policy.AllowLoopback = true
	p, err := servicehealth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("poller did not stop within 10s of its context's end")
		}
	})
	return p
}

// TestPollerFollowsHealth drives a real endpoint through healthy → failing
// (500) → timing out → healthy and checks that exactly one service.updated
// follows each change and none comes while the state is stable.
func TestPollerFollowsHealth(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	h := newHealthServer(t)
	svc, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: "llm", BaseURL: h.URL})
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents(t, st)
	// The timeout must pass for the hanging phase, and a healthy check on
	// a loaded machine must stay well within it: 2s.
	startPoller(t, servicehealth.Config{Store: st, Interval: 40 * time.Millisecond, Timeout: 2 * time.Second,
		MaxBackoff: 160 * time.Millisecond, MaxIdle: 50 * time.Millisecond})

	// stable checks that n more checks happen without an event. A check
	// is recorded before the next one starts (the lease holds the service
	// until then), so after n+1 hits the first n are in the database.
	stable := func(phase string, n int) {
		t.Helper()
		h.waitHits(t, h.hitCount()+n+1)
		if evs := ev.read(t); len(evs) != 0 {
			t.Errorf("%s: %d events while stable: %s", phase, len(evs), evs[0].Data)
		}
	}
	expect := func(phase string, status, prev catalog.ServiceStatus, errText string, changed ...string) {
		t.Helper()
		e := ev.next(t)
		u := decode(t, e)
		if e.Type != "service.updated" || e.Subject != "llm" || u.Status != status || u.PreviousStatus != prev ||
			u.LastError != errText || !slices.Equal(u.Changed, changed) {
			t.Errorf("%s: event %s %s, want status %s (from %q), error %q, changed %v", phase, e.Type, e.Data, status, prev, errText, changed)
		}
	}

	expect("first check", catalog.ServiceHealthy, catalog.ServiceUnknown, "", "status")
	stable("healthy", 3)
	got, _ := st.Service(ctx, "llm")
	if got.LastLatencyMS == nil || *got.LastLatencyMS <= 0 || got.LastCheckedAt == nil || !got.LastCheckedAt.After(got.UpdatedAt) {
		t.Errorf("healthy service %+v: want latency and check time kept, updated_at left at the change", got)
	}

	h.mode.Store(modeFailing)
	expect("failing", catalog.ServiceUnhealthy, catalog.ServiceHealthy, "HTTP 500 Internal Server Error", "status", "last_error")
	stable("failing", 3)

	h.mode.Store(modeHanging)
	expect("timing out", catalog.ServiceUnhealthy, "", "timed out after 2s", "last_error")
	stable("timing out", 1)

	// The check held when it recovers is answered too, rather than left
	// to time out.
	h.mode.Store(modeHealthy)
	h.unhang()
	expect("recovered", catalog.ServiceHealthy, catalog.ServiceUnhealthy, "", "status", "last_error")
	stable("recovered", 3)

	if n := h.maxIn.Load(); n != 1 {
		t.Errorf("%d checks of one service at once, want 1", n)
	}
	if got, _ := st.Service(ctx, "llm"); got.ID != svc.ID || got.Status != catalog.ServiceHealthy || got.LastError != "" {
		t.Errorf("end state %+v", got)
	}
}

// TestPollerPicksUpNewServices registers services while the poller runs,
// without waking it: the next round finds them.
func TestPollerPicksUpNewServices(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	startPoller(t, servicehealth.Config{Store: st, Interval: time.Hour, MaxIdle: 100 * time.Millisecond})
	h := newHealthServer(t)
	if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: "late", BaseURL: h.URL}); err != nil {
		t.Fatal(err)
	}
	h.waitHits(t, 1)
	waitStatus(t, st, "late", catalog.ServiceHealthy)

	// A refused connection and a redirect are failures with their reason.
	closed := "http://" + testenv.FreeAddr(t)
	if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: "down", BaseURL: closed}); err != nil {
		t.Fatal(err)
	}
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer redirect.Close()
	if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: "moved", BaseURL: redirect.URL}); err != nil {
		t.Fatal(err)
	}
	if s := waitStatus(t, st, "down", catalog.ServiceUnhealthy); s.LastError != "connection refused" {
		t.Errorf("closed port: error %q", s.LastError)
	}
	if s := waitStatus(t, st, "moved", catalog.ServiceUnhealthy); !strings.Contains(s.LastError, "HTTP 302 Found") || !strings.Contains(s.LastError, "/elsewhere") {
		t.Errorf("redirect: error %q", s.LastError)
	}
}

func waitStatus(t *testing.T, st *store.Store, slug string, want catalog.ServiceStatus) *catalog.Service {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := st.Service(context.Background(), slug)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			// What the pollers left in the row says whether the service
			// was never claimed again or checked without the wanted result.
			var row string
			_ = st.Pool().QueryRow(context.Background(), `SELECT format('next check in %s, %s failures in a row, last checked %s ago',
				next_check_at - now(), consecutive_failures, now() - last_checked_at) FROM services WHERE slug = $1`, slug).Scan(&row)
			t.Fatalf("service %s is %s (%s), want %s; %s", slug, s.Status, s.LastError, want, row)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPollersShareTheWork runs two pollers on one database, as two
// appstored processes would: a service is never checked by both at once,
// and checks stay an interval apart.
func TestPollersShareTheWork(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	h := newHealthServer(t)
	if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: "shared", BaseURL: h.URL}); err != nil {
		t.Fatal(err)
	}
	const interval = 60 * time.Millisecond
	for range 2 {
		startPoller(t, servicehealth.Config{Store: st, Interval: interval, MaxIdle: 10 * time.Millisecond})
	}
	h.waitHits(t, 12)
	hits := h.hitTimes()
	for i := 1; i < len(hits); i++ {
		// The database clock and ours both tick; a double check would
		// be a few milliseconds apart.
		if gap := hits[i].Sub(hits[i-1]); gap < interval*3/4 {
			t.Errorf("checks %d and %d only %s apart, want about %s", i-1, i, gap, interval)
		}
	}
	if n := h.maxIn.Load(); n != 1 {
		t.Errorf("%d checks at once, want 1", n)
	}
}

// TestPollerBoundsChecksInFlight registers more services than the poller
// may check at once, behind an endpoint that holds every check until the
// test lets one go: never more than Concurrency are in flight, and each
// freed slot goes to a service still waiting until all are checked.
func TestPollerBoundsChecksInFlight(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	const services_, concurrency = 5, 2
	var inFlight, maxIn, finished atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for m := maxIn.Load(); n > m && !maxIn.CompareAndSwap(m, n); m = maxIn.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		// Counted out before the answer is written, so the poller cannot
		// start its next check while this one still counts.
		inFlight.Add(-1)
		finished.Add(1)
	}))
	t.Cleanup(srv.Close)
	for i := range services_ {
		if _, _, err := st.CreateService(ctx, store.ServiceSpec{Slug: fmt.Sprintf("held-%d", i), BaseURL: srv.URL}); err != nil {
			t.Fatal(err)
		}
	}
	// The checks' timeout is far beyond the test's waits: a check is only
	// ever answered by the test.
	startPoller(t, servicehealth.Config{Store: st, Interval: time.Hour, Timeout: time.Minute, Concurrency: concurrency, MaxIdle: 10 * time.Millisecond})

	waitFor := func(what string, v *atomic.Int32, want int32) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for v.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d, want %d (at most %d checks were in flight at once)", what, v.Load(), want, maxIn.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for released := range int32(services_) {
		waitFor(fmt.Sprintf("checks in flight after %d answers", released), &inFlight, min(concurrency, services_-released))
		release <- struct{}{} // one of them is waiting for it
		waitFor("checks answered", &finished, released+1)
	}
	for i := range services_ {
		waitStatus(t, st, fmt.Sprintf("held-%d", i), catalog.ServiceHealthy)
	}
	if n := maxIn.Load(); n != concurrency {
		t.Errorf("at most %d checks were in flight at once, want %d (Concurrency)", n, concurrency)
	}
}

// TestPollerIntervalsAndBackoff checks a per-service interval override and
// that a failing service is checked ever less often, up to the cap.
func TestPollerIntervalsAndBackoff(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	fast, slow, failing := newHealthServer(t), newHealthServer(t), newHealthServer(t)
	failing.mode.Store(modeFailing)
	for _, s := range []store.ServiceSpec{
		{Slug: "fast", BaseURL: fast.URL},
		{Slug: "slow", BaseURL: slow.URL, HealthInterval: "10m"},
		{Slug: "failing", BaseURL: failing.URL},
	} {
		if _, _, err := st.CreateService(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	const interval = 30 * time.Millisecond
	startPoller(t, servicehealth.Config{Store: st, Interval: interval, MaxBackoff: 8 * interval, MaxIdle: 10 * time.Millisecond})
	failing.waitHits(t, 6)
	fast.waitHits(t, 12)
	if n := slow.hitCount(); n != 1 {
		t.Errorf("service with a 10m interval checked %d times, want once", n)
	}
	hits := failing.hitTimes()
	// Delays after failures 1..5: 1, 2, 4, 8, 8 intervals.
	want := []time.Duration{interval, 2 * interval, 4 * interval, 8 * interval, 8 * interval}
	for i, w := range want {
		if gap := hits[i+1].Sub(hits[i]); gap < w*3/4 {
			t.Errorf("gap after failure %d: %s, want about %s", i+1, gap, w)
		}
	}
	// The cap, read where the poller wrote it rather than timed: a check
	// records its next one NextDelay after it, in the same statement. After
	// five failures or more the delay is the cap (uncapped: 16 intervals).
	// While the next check is claimed, next_check_at holds the claim's
	// lease (10 s or more) instead: read again until no claim is in flight.
	var failures int
	var got time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for {
		var delay float64
		err := st.Pool().QueryRow(ctx, `SELECT consecutive_failures, extract(epoch FROM next_check_at - last_checked_at)::float8
			FROM services WHERE slug = 'failing'`).Scan(&failures, &delay)
		if err != nil {
			t.Fatal(err)
		}
		got = time.Duration(delay * float64(time.Second))
		if got < 5*time.Second || time.Now().After(deadline) {
			break
		}
	}
	if failures < 5 || got.Round(time.Millisecond) != 8*interval {
		t.Errorf("after %d failures the next check is %s later, want %s (the cap)", failures, got, 8*interval)
	}
}

func TestNextDelay(t *testing.T) {
	const s = time.Second
	cases := []struct {
		interval time.Duration
		failures int
		max      time.Duration
		want     time.Duration
	}{
		{30 * s, 0, 5 * time.Minute, 30 * s},
		{30 * s, 1, 5 * time.Minute, 30 * s},
		{30 * s, 2, 5 * time.Minute, 60 * s},
		{30 * s, 4, 5 * time.Minute, 240 * s},
		{30 * s, 5, 5 * time.Minute, 300 * s},
		{30 * s, 1000, 5 * time.Minute, 300 * s},
		{10 * time.Minute, 3, 5 * time.Minute, 10 * time.Minute}, // cap never below the interval
	}
	for _, c := range cases {
		if got := servicehealth.NextDelay(c.interval, c.failures, c.max); got != c.want {
			t.Errorf("NextDelay(%s, %d, %s) = %s, want %s", c.interval, c.failures, c.max, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var gotUA string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA = r.UserAgent()
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/weird":
			w.WriteHeader(599)
		case "/slow-body":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()

	if r := servicehealth.Check(ctx, client, srv.URL+"/ok", 30*time.Second, "ua-test"); !r.Healthy || r.StatusCode != 204 || r.Error != "" || r.Latency <= 0 || gotUA != "ua-test" {
		t.Errorf("204: %+v (user agent %q)", r, gotUA)
	}
	if r := servicehealth.Check(ctx, client, srv.URL+"/teapot", 30*time.Second, "x"); r.Healthy || r.Error != "HTTP 418 I'm a teapot" {
		t.Errorf("418: %+v", r)
	}
	if r := servicehealth.Check(ctx, client, srv.URL+"/weird", 30*time.Second, "x"); r.Healthy || r.Error != "HTTP 599" {
		t.Errorf("599: %+v", r)
	}
	if r := servicehealth.Check(ctx, client, srv.URL+"/slow-body", 200*time.Millisecond, "x"); r.Healthy || !strings.Contains(r.Error, "timed out after 200ms") {
		t.Errorf("slow body: %+v", r)
	}
}
