package api_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/api"
)

// A client that announces a body and then sends it slowly, or not at all,
// must not hold a connection (a goroutine and a file descriptor) forever:
// not when the token is missing (the guard answers without reading the
// body, and the server then waits to drain it), nor when it has it.
func TestSlowBodiesAreCutOff(t *testing.T) {
	st := storetest.New(t)
	s := &api.Server{Store: st, Guard: &api.Guard{Loopback: true, Token: "s3cret"}, BodyTimeout: 300 * time.Millisecond}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	for _, tc := range []struct{ name, auth string }{
		{"without the token", ""},
		{"with the token", "Authorization: Bearer s3cret\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// 10 of the 1000 announced bytes, then nothing.
			_, err = io.WriteString(conn, "POST /api/v1/repositories HTTP/1.1\r\nHost: 127.0.0.1\r\n"+tc.auth+
				"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"git_url\"")
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// The test's own limit: well past BodyTimeout (and a loaded
			// machine's scheduling), far below "forever". A server that
			// holds the connection is seen by this deadline, not by how long
			// a passing run took.
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(conn)
			if tc.auth != "" {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("no answer to a stalled body after %v: %v", time.Since(start), err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestTimeout {
					t.Fatalf("status %d (%s) for a body that never arrived, want 408", resp.StatusCode, body)
				}
				if !strings.Contains(string(body), "did not arrive within 300ms") {
					t.Errorf("message %s does not say what happened", body)
				}
				if resp.StatusCode < 400 {
					t.Fatalf("status %d for a body that never arrived", resp.StatusCode)
				}
			} else {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", resp.StatusCode)
				}
			}
			// Then the server must close the connection rather than wait
			// for the rest of the body.
			_, err = br.ReadByte()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || err == nil {
				t.Fatalf("connection still open %v after the body stalled (err %v): a slow client holds it forever", time.Since(start).Round(time.Millisecond), err)
			}
			if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Logf("connection ended with %v", err)
			}
		})
	}
}
