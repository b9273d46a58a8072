package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/events"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// startDaemonInProcess starts appstored with the API role only (no worker
// writes events of its own while a test counts them).
func startDaemonInProcess(t *testing.T, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	cfg.Roles = []string{daemon.RoleAPI}
	return daemontest.Start(t, cfg)
}

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func committedIDs(t *testing.T, st *store.Store, since int64) []int64 {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT id FROM events WHERE id > $1 ORDER BY id`, since)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// follow collects the ids c.Events yields until an event of type final;
// onEvent runs on each (the test's hook to act mid-stream).
func follow(ctx context.Context, c *client.Client, opts client.EventsOptions, onEvent func(client.Event)) ([]int64, error) {
	var got []int64
	for e, err := range c.Events(ctx, opts) {
		if err != nil {
			return got, err
		}
		got = append(got, e.ID)
		if onEvent != nil {
			onEvent(e)
		}
		if e.Type == "test.final" {
			return got, nil
		}
	}
	return got, errors.New("stream ended without an error")
}

// TestEventsResumeAcrossADaemonRestart restarts appstored under a connected
// client while events keep being committed; the client must see each
// committed event exactly once, in order.
func TestEventsResumeAcrossADaemonRestart(t *testing.T) {
	db := testenv.Postgres(t)
	cfg := daemon.Config{DatabaseURL: db, DataDir: t.TempDir(), Addr: testenv.FreeAddr(t), Roles: []string{daemon.RoleAPI}}
	d1 := startDaemonInProcess(t, cfg)
	st := openStore(t, db)
	c := &client.Client{BaseURL: d1.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A writer that does not go through the daemon keeps committing.
	var stopWriting atomic.Bool
	writerDone := make(chan error, 1)
	go func() {
		for !stopWriting.Load() {
			if _, err := st.PublishEvent(ctx, store.EventSpec{Type: "build.log", Subject: "w"}); err != nil {
				writerDone <- err
				return
			}
			time.Sleep(2 * time.Millisecond) // a steady trickle, not a flood
		}
		_, err := st.PublishEvent(ctx, store.EventSpec{Type: "test.final"})
		writerDone <- err
	}()

	var reconnects atomic.Int32
	restarted := make(chan struct{})
	n := 0
	got, err := follow(ctx, c, client.EventsOptions{
		Since:       0,
		OnReconnect: func(error, time.Duration) { reconnects.Add(1) },
	}, func(client.Event) {
		n++
		switch n {
		case 50:
			// Restart in the background while the stream is being read.
			go func() {
				defer close(restarted)
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := d1.Shutdown(sctx); err != nil {
					t.Errorf("shutdown: %v", err)
				}
				time.Sleep(200 * time.Millisecond) // the daemon stays down for a while
				cfg.Logger = slog.New(slog.DiscardHandler)
				d2, err := daemon.Start(context.Background(), cfg)
				if err != nil {
					t.Errorf("restart appstored: %v", err)
					return
				}
				t.Cleanup(func() { _ = d2.Shutdown(context.Background()) })
			}()
		case 400:
			<-restarted
			stopWriting.Store(true)
		}
	})
	if err != nil {
		t.Fatalf("after %d events: %v", len(got), err)
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	if want := committedIDs(t, st, 0); !slices.Equal(got, want) {
		t.Fatalf("got %d events, want the %d committed, in order, once each", len(got), len(want))
	}
	if reconnects.Load() == 0 {
		t.Error("the client never reconnected: was the daemon restarted under it?")
	}
}

// TestEventsComeBackAfterASlowConsumerCut: a consumer that stalls is cut off
// by the daemon; the client reconnects at once and resumes after the last
// event it yielded.
func TestEventsComeBackAfterASlowConsumerCut(t *testing.T) {
	st := storetest.New(t)
	hub, err := events.NewHub(events.Options{Store: st, Buffer: 2})
	if err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithCancel(context.Background())
	if err := hub.Start(hctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hcancel(); hub.Close() })
	srv := httptest.NewServer((&api.Server{Guard: &api.Guard{Loopback: true}, Events: &events.Stream{Hub: hub}}).Handler())
	t.Cleanup(srv.Close)
	c := &client.Client{BaseURL: srv.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	big := strings.Repeat("x", 256<<10)
	first, err := st.PublishEvent(ctx, store.EventSpec{Type: "build.log"})
	if err != nil {
		t.Fatal(err)
	}
	var closeReasons []string
	var mu sync.Mutex
	got, err := follow(ctx, c, client.EventsOptions{
		Since: first - 1,
		OnReconnect: func(err error, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			closeReasons = append(closeReasons, err.Error())
			if wait != 0 {
				t.Errorf("waited %s to come back after a slow-consumer cut", wait)
			}
		},
	}, func(e client.Event) {
		if e.ID != first {
			return
		}
		// Stall on the first event while large ones pile up, until the
		// daemon gives up on us.
		for hub.Stats().SlowConsumers == 0 {
			if _, err := st.PublishEvent(ctx, store.EventSpec{Type: "build.log", Data: map[string]string{"line": big}}); err != nil {
				t.Error(err)
				return
			}
		}
		if _, err := st.PublishEvent(ctx, store.EventSpec{Type: "test.final"}); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("after %d events: %v", len(got), err)
	}
	if want := committedIDs(t, st, first-1); !slices.Equal(got, want) {
		t.Fatalf("got %d events, want the %d committed, in order, once each", len(got), len(want))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(closeReasons) != 1 || !strings.Contains(closeReasons[0], "slow consumer") {
		t.Errorf("reconnections %q, want one after a slow-consumer close", closeReasons)
	}
}

// freezer is a TCP proxy whose connections can be frozen: bytes stop
// flowing but the sockets stay open, as with a hung daemon or a dead
// network path.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gates  []chan struct{} // closed when the connection is frozen
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target}
	var conns []net.Conn
	var connsMu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		connsMu.Lock()
		defer connsMu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			connsMu.Lock()
			conns = append(conns, in, out)
			connsMu.Unlock()
			gate := make(chan struct{})
			f.mu.Lock()
			f.gates = append(f.gates, gate)
			f.mu.Unlock()
			go pipe(out, in, gate)
			go pipe(in, out, gate)
		}
	}()
	return f
}

// pipe copies until gate closes; then it stops reading, leaving dst open.
func pipe(dst, src net.Conn, gate chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-gate:
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			return
		}
	}
}

// freeze stops every connection open now; later ones flow.
func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.gates {
		close(g)
	}
	f.gates = nil
}

func TestEventsNoticeASilentDaemonByItsMissingHeartbeats(t *testing.T) {
	d := startDaemonInProcess(t, daemon.Config{DatabaseURL: testenv.Postgres(t), DataDir: t.TempDir(), Addr: "127.0.0.1:0"})
	proxy := newFreezer(t, strings.TrimPrefix(d.URL, "http://"))
	c := &client.Client{BaseURL: "http://" + proxy.ln.Addr().String()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	mark, err := d.Store.PublishEvent(ctx, store.EventSpec{Type: "test.mark"})
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	var frozenAt time.Time
	got, err := follow(ctx, c, client.EventsOptions{
		Since:       mark - 1,
		Heartbeat:   time.Second,
		OnReconnect: func(err error, _ time.Duration) { lost = append(lost, err.Error()) },
	}, func(e client.Event) {
		if e.ID != mark {
			return
		}
		// The connection hangs without closing; an event committed now
		// must still arrive, through a new connection.
		proxy.freeze()
		frozenAt = time.Now()
		if _, err := d.Store.PublishEvent(ctx, store.EventSpec{Type: "test.final"}); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := committedIDs(t, d.Store, mark-1); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if el := time.Since(frozenAt); el < 2*time.Second || el > 15*time.Second {
		t.Errorf("recovered %s after the freeze, want after about three heartbeats (3s)", el)
	}
	if len(lost) != 1 || !strings.Contains(lost[0], "no event or heartbeat from appstored for 3s") {
		t.Errorf("reconnections %q, want one for missing heartbeats", lost)
	}
}

func TestEventsStopOnARefusalOrWhenTheDaemonStaysAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := func(c *client.Client, opts client.EventsOptions) error {
		for _, err := range c.Events(ctx, opts) {
			return err
		}
		return errors.New("ended without an error")
	}

	// Nothing listens: the first connection fails at once, no retries.
	start := time.Now()
	err := first(&client.Client{BaseURL: "http://" + testenv.FreeAddr(t)}, client.EventsOptions{})
	if !client.IsUnreachable(err) || time.Since(start) > 5*time.Second {
		t.Errorf("nothing listening: %v after %s, want an UnreachableError at once", err, time.Since(start))
	}

	db := testenv.Postgres(t)
	d := startDaemonInProcess(t, daemon.Config{DatabaseURL: db, DataDir: t.TempDir(), Addr: "127.0.0.1:0"})
	c := &client.Client{BaseURL: d.URL}
	err = first(c, client.EventsOptions{Topics: []string{"Not A Topic"}})
	var ae *client.APIError
	if !client.IsInvalid(err) || !errors.As(err, &ae) || ae.Field != "topics" {
		t.Errorf("bad topic: %v, want an invalid topics error", err)
	}

	// Connected, then the daemon goes away for good: give up after
	// ReconnectFor with the reason. (The daemon's own components subscribe
	// too: wait for one more subscriber before publishing the mark.)
	others := d.Events.Stats().Subscribers
	go func() {
		for d.Events.Stats().Subscribers == others && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		_, _ = d.Store.PublishEvent(ctx, store.EventSpec{Type: "test.mark"})
	}()
	var attempts atomic.Int32
	stopped := make(chan struct{})
	var stoppedAt time.Time      // written before stopped is closed
	defer func() { <-stopped }() // before the cleanup's Shutdown
	for e, err := range c.Events(ctx, client.EventsOptions{
		Since:        client.SinceNow,
		ReconnectFor: time.Second,
		OnReconnect:  func(error, time.Duration) { attempts.Add(1) },
	}) {
		if err != nil {
			if !client.IsUnreachable(err) {
				t.Errorf("daemon gone: %v, want an UnreachableError", err)
			}
			break
		}
		if e.Type != "test.mark" {
			t.Errorf("unexpected event %+v", e)
		}
		// Connected for sure: now the daemon goes.
		go func() { _ = d.Shutdown(ctx); stoppedAt = time.Now(); close(stopped) }()
	}
	// The reconnection window opens when the stream drops, which is
	// during the daemon's shutdown (its length depends on the machine's
	// load): the client must give up within about ReconnectFor of the
	// daemon being gone, often before its shutdown has even finished.
	gaveUp := time.Now()
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("the daemon did not shut down")
	}
	if late := gaveUp.Sub(stoppedAt); late > 10*time.Second {
		t.Errorf("gave up %s after the daemon was gone, want about ReconnectFor (1s)", late)
	}
	if attempts.Load() < 2 {
		t.Errorf("%d reconnection attempts, want several within ReconnectFor", attempts.Load())
	}
}
