package events_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/events"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// startDaemon starts appstored in process; cfg.DatabaseURL empty means a
// fresh database. Without roles it takes only the API role, so that no
// worker writes events of its own (ingestions of the test's repositories)
// while the test counts them.
func startDaemon(t testing.TB, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	if cfg.Roles == nil {
		cfg.Roles = []string{daemon.RoleAPI}
	}
	return daemontest.Start(t, cfg)
}

func wsURL(base, query string) string {
	return strings.Replace(base, "http://", "ws://", 1) + "/api/v1/events" + query
}

// dial opens the event stream with raw headers, as a browser would.
func dial(t testing.TB, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if conn != nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, resp, err
}

func readEvent(t testing.TB, conn *websocket.Conn) client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type %v, want text", typ)
	}
	var e client.Event
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("message %s: %v", data, err)
	}
	return e
}

func TestWebSocketStreamsTheAPIsEvents(t *testing.T) {
	d := startDaemon(t, daemon.Config{})
	c := &client.Client{BaseURL: d.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/dash.git"}); err != nil {
		t.Fatal(err)
	}
	conn, resp, err := dial(t, wsURL(d.URL, "?topics=repository&since="+itoa(since)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hb := resp.Header.Get(client.HeartbeatHeader); hb != "15s" {
		t.Errorf("heartbeat header %q, want 15s", hb)
	}
	e := readEvent(t, conn)
	if e.Type != "repository.created" || e.Subject != "dash" || e.ID <= since || e.Time.IsZero() || !strings.Contains(string(e.Data), `"slug":"dash"`) {
		t.Errorf("first event %+v", e)
	}
	// Live: an update made now arrives on the open stream.
	name := "Dashboard"
	if _, err := c.UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if e2 := readEvent(t, conn); e2.Type != "repository.updated" || e2.ID <= e.ID {
		t.Errorf("live event %+v after %d", e2, e.ID)
	}
}

func TestWebSocketOriginIsChecked(t *testing.T) {
	// An allowed host beyond loopback makes the daemon exposed: it has a
	// token, which every handshake carries.
	const token = "s3cret-events-token-02"
	d := startDaemon(t, daemon.Config{AllowedHosts: []string{"apps.example.com"}, Token: token})
	url := wsURL(d.URL, "")
	for _, tc := range []struct {
		name   string
		header http.Header
		status int // 0: the upgrade succeeds
	}{
		{"no origin (not a browser)", nil, 0},
		{"own origin", http.Header{"Origin": {d.URL}}, 0},
		{"allowed host", http.Header{"Origin": {"https://apps.example.com"}}, 0},
		{"allowed host on another port", http.Header{"Origin": {"https://apps.example.com:8443"}}, 0},
		{"foreign origin", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"lookalike", http.Header{"Origin": {"https://apps.example.com.evil.example"}}, http.StatusForbidden},
		{"cross-site without origin", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header.Clone()
			if header == nil {
				header = http.Header{}
			}
			header.Set("Authorization", "Bearer "+token)
			conn, resp, err := dial(t, url, header)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err == nil || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v (response %v), want status %d", err, resp, tc.status)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), `"forbidden"`) {
				t.Errorf("body %s, want a forbidden error", body)
			}
		})
	}
}

func TestWebSocketNeedsTheTokenWhenOneIsSet(t *testing.T) {
	d := startDaemon(t, daemon.Config{Token: "s3cret-events-token-01"})
	if _, resp, err := dial(t, wsURL(d.URL, ""), nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without token: %v %v, want 401", err, resp)
	}
	c := &client.Client{BaseURL: d.URL, Token: "s3cret-events-token-01"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/tok.git"}); err != nil {
		t.Fatal(err)
	}
	for e, err := range c.Events(ctx, client.EventsOptions{Since: 0}) {
		if err != nil {
			t.Fatalf("with token: %v", err)
		}
		if e.Subject != "tok" {
			t.Errorf("event %+v", e)
		}
		break
	}
}

func TestWebSocketRefusesABadQuery(t *testing.T) {
	d := startDaemon(t, daemon.Config{})
	for query, field := range map[string]string{
		"?since=abc":       "since",
		"?topics=Build":    "topics",
		"?heartbeat=1ms":   "heartbeat",
		"?since=999999":    "since",
		"?subject=%0Aslug": "subject",
	} {
		_, resp, err := dial(t, wsURL(d.URL, query), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %v %v, want 400", query, err, resp)
			continue
		}
		var eb client.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		if eb.Error.Code != "invalid" || eb.Error.Field != field {
			t.Errorf("%s: error %+v, want invalid %s", query, eb.Error, field)
		}
	}
}

func TestWebSocketHeartbeats(t *testing.T) {
	d := startDaemon(t, daemon.Config{})
	conn, resp, err := dial(t, wsURL(d.URL, "?heartbeat=1s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hb := resp.Header.Get(client.HeartbeatHeader); hb != "1s" {
		t.Errorf("heartbeat header %q, want 1s", hb)
	}
	start := time.Now()
	for range 2 {
		if e := readEvent(t, conn); e.Type != client.EventHeartbeat || e.ID != 0 || e.Time.IsZero() {
			t.Fatalf("idle stream sent %+v, want a heartbeat", e)
		}
	}
	// Not sooner than asked, and far sooner than the default (15s) would
	// send two: a loaded machine may be late by seconds.
	if el := time.Since(start); el < 1500*time.Millisecond || el > 10*time.Second {
		t.Errorf("two heartbeats took %s, want about 2s", el)
	}
}

func TestTwoDaemonsOnOneDatabaseSeeEachOthersEvents(t *testing.T) {
	db := testenv.Postgres(t)
	d1 := startDaemon(t, daemon.Config{DatabaseURL: db})
	d2 := startDaemon(t, daemon.Config{DatabaseURL: db})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c1, c2 := &client.Client{BaseURL: d1.URL}, &client.Client{BaseURL: d2.URL}

	for _, tc := range []struct {
		name         string
		writer, read *client.Client
		slug         string
	}{
		{"written on 1, read on 2", c1, c2, "one"},
		{"written on 2, read on 1", c2, c1, "two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since, err := tc.read.LastEventID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Follow live (connected before the write, no replay needed).
			conn, _, err := dial(t, wsURL(tc.read.BaseURL, "?subject="+tc.slug), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tc.writer.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/" + tc.slug + ".git"}); err != nil {
				t.Fatal(err)
			}
			if e := readEvent(t, conn); e.Type != "repository.created" || e.Subject != tc.slug || e.ID <= since {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestStoredEventsAsJSONLines(t *testing.T) {
	d := startDaemon(t, daemon.Config{})
	c := &client.Client{BaseURL: d.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, slug := range []string{"a", "b", "c"} {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/" + slug + ".git"}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(d.URL + "/api/v1/events?since=0&subject=b")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"subject":"b"`) || !strings.Contains(lines[0], `"type":"repository.created"`) {
		t.Errorf("lines %q, want the one event of b", lines)
	}

	var got []string
	for e, err := range c.StoredEvents(ctx, client.EventsOptions{Topics: []string{"repository"}}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Subject)
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("stored events of %v, want a,b,c in order", got)
	}
	last, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range c.StoredEvents(ctx, client.EventsOptions{Since: last}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 0 {
		t.Errorf("%d events after the last one", n)
	}

	resp2, err := http.Get(d.URL + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "WebSocket") {
		t.Errorf("plain GET without since: %d %s", resp2.StatusCode, body)
	}
}

func TestShutdownClosesStreamsWithAReason(t *testing.T) {
	d := startDaemon(t, daemon.Config{})
	conn, _, err := dial(t, wsURL(d.URL, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, _, err := conn.Read(context.Background())
		read <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The stream never ends by itself: a shutdown that waited for it
	// would run out of its context's time and say so.
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	err = <-read
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "appstored is shutting down" {
		t.Errorf("stream ended with %v, want going away with a reason", err)
	}
}

// TestSlowWebSocketIsClosedWithAReason serves a hub with a tiny buffer to
// a client that stops reading: once the socket and the buffer are full the
// stream is cut, and the close frame says why.
func TestSlowWebSocketIsClosedWithAReason(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{Buffer: 2})
	srv := httptest.NewServer((&api.Server{Guard: &api.Guard{Loopback: true}, Events: &events.Stream{Hub: h}}).Handler())
	t.Cleanup(srv.Close)

	conn, _, err := dial(t, wsURL(srv.URL, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	waitFor(t, func() bool { return h.Stats().Subscribers == 1 }, "the subscription")
	big := strings.Repeat("x", 256<<10)
	ctx := context.Background()
	// Without a reader, the socket's buffers fill, then the hub's.
	for i := 0; h.Stats().SlowConsumers == 0; i++ {
		if i == 400 {
			t.Fatal("400 large events and the client is still not cut off")
		}
		if _, err := st.PublishEvent(ctx, store.EventSpec{Type: "build.log", Data: map[string]string{"line": big}}); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.HasPrefix(ce.Reason, "slow consumer: 3 events behind") {
				t.Fatalf("stream ended with %v, want a policy violation naming the slow consumer", err)
			}
			break
		}
		var e client.Event
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		if e.ID <= last {
			t.Fatalf("event %d after %d", e.ID, last)
		}
		last = e.ID
	}
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRoutesCheckTheOriginThemselves mounts the routes without the API's
// guard middleware: the handler still refuses a foreign Origin, and accepts
// an allowed one that coder/websocket alone would refuse.
func TestRoutesCheckTheOriginThemselves(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{})
	g := &api.Guard{Loopback: true, AllowedHosts: []string{"*.apps.example.com"}}
	stream := &events.Stream{Hub: h, OriginAllowed: g.OriginAllowed, AllowedHosts: g.AllowedHosts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/events", stream.ServeEvents)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	if _, resp, err := dial(t, wsURL(srv.URL, ""), http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %v %v, want 403", err, resp)
	}
	conn, _, err := dial(t, wsURL(srv.URL, ""), http.Header{"Origin": {"https://dash.apps.example.com"}})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	_ = conn.Close(websocket.StatusNormalClosure, "")
}
