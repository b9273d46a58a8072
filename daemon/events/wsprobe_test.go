package events_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsProbe is the subscriber of BenchmarkWebSocketFanOut: a WebSocket
// client (RFC 6455) cut down to what a measuring instrument needs, so that
// 1000 of them on the daemon's own two cores take as little CPU from it as
// a real client over TCP can. It does the real opening handshake (and
// checks Sec-WebSocket-Accept), parses the daemon's frames from the bytes
// of its TCP connection, answers pings and the closing handshake with
// masked frames, and hands over each data message as a slice of its read
// buffer: no JSON decoding, no allocation per message. It refuses what the
// daemon never sends (fragmented messages, extensions, masked frames)
// rather than half-supporting it.
//
// A probe is read either with next (its own blocking net.Conn) or, on
// Linux, by a probePoller that reads many probes' sockets from one thread
// (wsprobe_linux_test.go).
type wsProbe struct {
	conn net.Conn // nil once a poller took the socket over
	fd   int      // the socket, when a poller reads it

	buf  []byte // bytes read from the daemon; buf[r:w] are not parsed yet
	r, w int
	ctl  []byte // a control frame being written; reused
}

// wsGUID is the key suffix of RFC 6455 section 1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

const (
	// probeMaxMessage bounds a message the probe accepts; events are far
	// smaller.
	probeMaxMessage = 1 << 20
	// probeBuffer is a probe's read buffer; it grows for a larger frame.
	probeBuffer = 8 << 10
)

// dialProbe opens a WebSocket to a ws:// URL.
func dialProbe(ctx context.Context, rawURL string) (*wsProbe, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("probe: %s: only ws:// URLs", rawURL)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("probe: send handshake: %w", err)
	}
	br := bufio.NewReaderSize(conn, probeBuffer)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("probe: read handshake answer: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		conn.Close()
		return nil, fmt.Errorf("probe: handshake refused: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	switch {
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		err = fmt.Errorf("Upgrade: %q", resp.Header.Get("Upgrade"))
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		err = fmt.Errorf("Connection: %q", resp.Header.Get("Connection"))
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		err = fmt.Errorf("Sec-WebSocket-Accept %q does not match the key", resp.Header.Get("Sec-WebSocket-Accept"))
	case resp.Header.Get("Sec-WebSocket-Extensions") != "":
		err = fmt.Errorf("unrequested extensions %q", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("probe: bad handshake answer: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	p := &wsProbe{conn: conn, fd: -1, buf: make([]byte, probeBuffer), ctl: make([]byte, 0, 2+4+125)}
	// Frames may have come with the answer.
	p.w = copy(p.buf, must(br.Peek(br.Buffered())))
	return p, nil
}

func must[T any](v T, _ error) T { return v }

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// probeClosed is the error of a probe after the daemon's close frame.
type probeClosed struct {
	code   int
	reason string
}

func (e *probeClosed) Error() string {
	return fmt.Sprintf("closed by the daemon: %d %s", e.code, e.reason)
}

// Opcodes (RFC 6455 section 5.2).
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// parseFrame parses the frame at the start of b. n is 0 when b does not
// hold all of it yet; then need, when not 0, is the whole frame's size,
// more than cap(b).
func parseFrame(b []byte) (fin bool, op byte, payload []byte, n, need int, err error) {
	if len(b) < 2 {
		return false, 0, nil, 0, 0, nil
	}
	fin, op = b[0]&0x80 != 0, b[0]&0x0f
	if b[0]&0x70 != 0 {
		return false, 0, nil, 0, 0, fmt.Errorf("probe: frame with RSV bits %#x, but no extension was negotiated", b[0]&0x70)
	}
	if b[1]&0x80 != 0 {
		return false, 0, nil, 0, 0, errors.New("probe: masked frame from the server (RFC 6455 section 5.1 forbids it)")
	}
	size, h := uint64(b[1]&0x7f), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return false, 0, nil, 0, 0, nil
		}
		size, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return false, 0, nil, 0, 0, nil
		}
		size, h = binary.BigEndian.Uint64(b[2:]), 10
	}
	if op >= opClose && (!fin || size > 125) {
		return false, 0, nil, 0, 0, fmt.Errorf("probe: control frame %#x fragmented or longer than 125 bytes", op)
	}
	if size > probeMaxMessage {
		return false, 0, nil, 0, 0, fmt.Errorf("probe: %d-byte frame, more than the %d it accepts", size, probeMaxMessage)
	}
	if uint64(len(b)-h) < size {
		if need := h + int(size); need > cap(b) {
			return false, 0, nil, 0, need, nil
		}
		return false, 0, nil, 0, 0, nil
	}
	return fin, op, b[h : h+int(size)], h + int(size), 0, nil
}

// message returns the next data message already in the buffer (nil when
// there is none yet), answering pings and skipping pongs on the way. A
// close frame is answered and ends the probe with a *probeClosed. The
// slice is valid until the buffer is read into again.
func (p *wsProbe) message() ([]byte, error) {
	for {
		fin, op, payload, n, need, err := parseFrame(p.buf[p.r:p.w:len(p.buf)])
		if need > 0 {
			nb := make([]byte, max(need, 2*len(p.buf)))
			p.w = copy(nb, p.buf[p.r:p.w])
			p.buf, p.r = nb, 0
			return nil, nil
		}
		if err != nil || n == 0 {
			return nil, err
		}
		p.r += n
		if p.r == p.w {
			p.r, p.w = 0, 0 // payload stays valid: nothing is read before the caller is done
		}
		switch op {
		case opText, opBinary:
			if !fin {
				return nil, errors.New("probe: fragmented message (the daemon sends each event in one frame)")
			}
			return payload, nil
		case opPing:
			if err := p.writeControl(opPong, payload); err != nil {
				return nil, err
			}
		case opPong:
		case opClose:
			ce := &probeClosed{code: 1005}
			if len(payload) >= 2 {
				ce.code = int(binary.BigEndian.Uint16(payload))
				ce.reason = string(payload[2:])
			}
			// Echo the status, as RFC 6455 section 5.5.1 asks.
			_ = p.writeControl(opClose, payload[:min(len(payload), 2)])
			return nil, ce
		default:
			return nil, fmt.Errorf("probe: unexpected opcode %#x", op)
		}
	}
}

// room makes space at the end of the buffer for a read.
func (p *wsProbe) room() []byte {
	if p.r > 0 && len(p.buf)-p.w < len(p.buf)/4 {
		p.w = copy(p.buf, p.buf[p.r:p.w])
		p.r = 0
	}
	return p.buf[p.w:]
}

// next returns the next data message, reading the connection as needed.
func (p *wsProbe) next() ([]byte, error) {
	for {
		if msg, err := p.message(); msg != nil || err != nil {
			return msg, err
		}
		n, err := p.conn.Read(p.room())
		p.w += n
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// writeControl sends a masked control frame (clients mask every frame).
func (p *wsProbe) writeControl(op byte, payload []byte) error {
	var key [4]byte
	_, _ = rand.Read(key[:])
	f := append(p.ctl[:0], 0x80|op, 0x80|byte(len(payload)))
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return p.writeRaw(f)
}

// Close sends a normal close frame and closes the connection.
func (p *wsProbe) Close() error {
	_ = p.writeControl(opClose, []byte{0x03, 0xe8}) // 1000
	return p.closeSocket()
}

// jsonInt finds key (`"t":`) in a message and reads the non-negative
// integer after it, without a full decode and without allocating.
func jsonInt(msg []byte, key string) (int64, bool) {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := msg[i+len(key):]
	var n int64
	j := 0
	for ; j < len(rest) && j < 19 && rest[j] >= '0' && rest[j] <= '9'; j++ {
		n = n*10 + int64(rest[j]-'0')
	}
	return n, j > 0
}

// TestProbeSpeaksWebSocket has coder/websocket's server send the probe
// messages of each length encoding, a ping and a close frame: the probe
// must read them all, answer the ping with a pong the server accepts, and
// complete the closing handshake, both on its own connection and through
// runProbes.
func TestProbeSpeaksWebSocket(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 70000)
	mid := bytes.Repeat([]byte("m"), 300)
	serverDone := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			serverDone <- err
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		err = errors.Join(
			c.Write(ctx, websocket.MessageText, []byte("a")),
			c.Write(ctx, websocket.MessageBinary, big),
			c.Write(ctx, websocket.MessageText, mid),
		)
		if err == nil {
			c.CloseRead(ctx) // reads the pong and the close reply
			if err = c.Ping(ctx); err != nil {
				err = fmt.Errorf("ping: %w", err)
			} else if err = c.Close(4000, "bye"); err != nil {
				err = fmt.Errorf("close: %w", err)
			}
		}
		serverDone <- err
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "ws://", 1)
	want := [][]byte{[]byte("a"), big, mid}

	for _, via := range []string{"next", "runProbes"} {
		t.Run(via, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, err := dialProbe(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]byte
			var end error
			if via == "next" {
				for end == nil {
					var msg []byte
					if msg, end = p.next(); end == nil {
						got = append(got, bytes.Clone(msg))
					}
				}
				_ = p.closeSocket()
			} else {
				end = runProbes([]*wsProbe{p}, 10*time.Second, func(_ int, msg []byte, _ int64) (bool, error) {
					got = append(got, bytes.Clone(msg))
					return false, nil
				})[0]
			}
			var ce *probeClosed
			if !errors.As(end, &ce) || ce.code != 4000 || ce.reason != "bye" {
				t.Errorf("ended with %v, want the server's close 4000 bye", end)
			}
			if len(got) != len(want) {
				t.Fatalf("%d messages, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("message %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
				}
			}
			if err := <-serverDone; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
}

func TestDialProbeChecksTheHandshake(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Sec-WebSocket-Accept", "d3Jvbmcga2V5IGFuc3dlcg==")
		w.WriteHeader(http.StatusSwitchingProtocols)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "ws://", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := dialProbe(ctx, url+"/refuse"); err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "no token") {
		t.Errorf("refused handshake: %v", err)
	}
	if _, err := dialProbe(ctx, url+"/wrong"); err == nil || !strings.Contains(err.Error(), "Sec-WebSocket-Accept") {
		t.Errorf("wrong accept key: %v", err)
	}
}

// TestProbeReadsWithoutAllocating: the probe's part of a delivery (parse
// the frame, find the id and the time stamp) allocates nothing, so that
// 100 000 messages a second cost the instruments no garbage collection.
func TestProbeReadsWithoutAllocating(t *testing.T) {
	frame := []byte{0x81, 0}
	body := []byte(`{"id":12345,"type":"bench.tick","subject":"","data":{"t":1700000000123456789},"time":"2026-01-01T00:00:00Z"}`)
	frame[1] = byte(len(body))
	frame = append(frame, body...)
	p := &wsProbe{buf: make([]byte, probeBuffer)}
	var id, ts int64
	allocs := testing.AllocsPerRun(1000, func() {
		p.w = copy(p.buf, frame)
		msg, err := p.message()
		if err != nil || msg == nil {
			t.Fatalf("message: %q %v", msg, err)
		}
		id, _ = jsonInt(msg, `"id":`)
		ts, _ = jsonInt(msg, `"t":`)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message", allocs)
	}
	if id != 12345 || ts != 1700000000123456789 {
		t.Errorf("read id %d and t %d", id, ts)
	}
}
