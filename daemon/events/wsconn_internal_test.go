package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// countingConn counts the writes that reach the TCP connection.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestBatchConnSendsHeldFramesInOneWrite(t *testing.T) {
	server, client := tcpPair(t)
	cc := &countingConn{Conn: server}
	bc := &batchConn{Conn: cc, timeout: 10 * time.Second}

	one := textFrame([]byte(`{"id":1}`))
	if err := bc.writeFrame(one); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 1 {
		t.Fatalf("%d writes for one frame not held back", n)
	}
	frames := [][]byte{
		textFrame([]byte(`{"id":2}`)),
		textFrame(bytes.Repeat([]byte("y"), 300)),
		{0x8a, 0x00}, // a pong, as coder/websocket writes it from its reader
		textFrame([]byte(`{"id":3}`)),
	}
	bc.hold()
	for i, f := range frames {
		var err error
		if i == 2 {
			_, err = bc.Write(f)
		} else {
			err = bc.writeFrame(f)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := cc.writes.Load(); n != 1 {
		t.Fatalf("%d writes while held, want none after the first", n-1)
	}
	if err := bc.release(); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 2 {
		t.Fatalf("release made %d writes, want 1", n-1)
	}
	want := bytes.Join(append([][]byte{one}, frames...), nil)
	got := make([]byte, len(want))
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the client read\n%q\nwant\n%q", got, want)
	}
	// Released: the next frame goes out on its own again.
	if err := bc.writeFrame(one); err != nil || cc.writes.Load() != 3 {
		t.Fatalf("after release: %v, %d writes", err, cc.writes.Load())
	}
}

func TestBatchConnRefusesDataAfterACloseFrame(t *testing.T) {
	server, _ := tcpPair(t)
	bc := &batchConn{Conn: server}
	// A pong, and a chunk that starts like a close frame but is not one
	// whole, change nothing.
	for _, p := range [][]byte{{0x8a, 0x00}, {0x88, 0x05, 0x03}} {
		if _, err := bc.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := bc.writeFrame(textFrame([]byte("{}"))); err != nil {
			t.Fatalf("data frame after % x: %v", p, err)
		}
	}
	closeFrame := append([]byte{0x88, 0x05, 0x03, 0xe9}, "bye"...) // 1001 "bye"
	if _, err := bc.Write(closeFrame); err != nil {
		t.Fatal(err)
	}
	if err := bc.writeFrame(textFrame([]byte("{}"))); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("data frame after the close frame: %v, want net.ErrClosed", err)
	}
}

// TestBatchConnWriteStalls has a client that never reads: once the
// socket's buffers are full a write blocks, and fails at the deadline.
func TestBatchConnWriteStalls(t *testing.T) {
	server, _ := tcpPair(t)
	const timeout = 400 * time.Millisecond
	bc := &batchConn{Conn: server, timeout: timeout}
	frame := textFrame(bytes.Repeat([]byte("z"), 64<<10))
	var err error
	var el time.Duration // of the write that failed, not of filling the buffers before it
	for i := 0; err == nil; i++ {
		if i == 10000 {
			t.Fatal("640 MB written to a client that does not read")
		}
		start := time.Now()
		err = bc.writeFrame(frame)
		el = time.Since(start)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "stopped reading") {
		t.Fatalf("stalled write failed with %v", err)
	}
	// A write starts with at least half the timeout before its deadline.
	if el < timeout/2 || el > 10*timeout {
		t.Errorf("the stalled write failed after %s, want between %s and about %s", el, timeout/2, timeout)
	}
}

// TestTextFrameHeaders checks the three length encodings of RFC 6455
// section 5.2 at their edges: the shortest form, FIN and the text opcode,
// no mask.
func TestTextFrameHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte("a"), n)
		f := textFrame(payload)
		if f[0] != 0x81 {
			t.Errorf("%d bytes: first byte %#x, want FIN and text (0x81)", n, f[0])
		}
		if f[1]&0x80 != 0 {
			t.Errorf("%d bytes: masked", n)
		}
		var size uint64
		var h int
		switch l := f[1] & 0x7f; {
		case l < 126:
			size, h = uint64(l), 2
		case l == 126:
			size, h = uint64(binary.BigEndian.Uint16(f[2:])), 4
		default:
			size, h = binary.BigEndian.Uint64(f[2:]), 10
		}
		wantH := 2
		if n >= 126 {
			wantH = 4
		}
		if n > 65535 {
			wantH = 10
		}
		if size != uint64(n) || h != wantH || !bytes.Equal(f[h:], payload) {
			t.Errorf("%d bytes: header of %d bytes says %d, want %d and %d", n, h, size, wantH, n)
		}
	}
}

func TestMessageFrameIsItsJSON(t *testing.T) {
	m := truncatedMessage(3, 9)
	h := len(m.frame) - len(m.JSON)
	if h != 2 || !bytes.Equal(m.frame[h:], m.JSON) || int(m.frame[1]) != len(m.JSON) {
		t.Fatalf("frame % x does not carry JSON %s", m.frame[:min(len(m.frame), 12)], m.JSON)
	}
	if cap(m.JSON) != len(m.JSON) {
		t.Errorf("JSON has room behind it (cap %d, len %d): an append by a reader would write into shared memory", cap(m.JSON), len(m.JSON))
	}
	if m.topic != "stream" {
		t.Errorf("topic %q, want stream", m.topic)
	}
}
