package events

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// controlFrameBuffer is the size of coder/websocket's write buffer: more
// than the largest control frame, so that each goes to batchConn.Write in
// one call.
const controlFrameBuffer = 256

// maxBatch bounds the bytes of the messages written to a WebSocket with
// one system call.
const maxBatch = 64 << 10

// hijacker hands coder/websocket a batchConn instead of the bare TCP
// connection when it takes the connection over. coder/websocket keeps the
// handshake, reading, and the control frames (pongs, the closing
// handshake); the stream's data frames bypass it: each Message carries its
// frame, made once for all subscribers, and the writer loop hands it to
// the batchConn, which writes the shared bytes as they are. The messages
// already waiting for a subscriber go out in one system call. On loopback
// a TCP write costs 6–9 µs of kernel time on this project's machines, most
// of the daemon's cost per delivery, and coder/websocket's Write spent
// another 1.4 µs framing, locking and copying each message into its
// buffer. Batching only happens when messages are already waiting, so an
// idle stream gets no delay and a busy one gets cheaper exactly when CPU
// is short.
type hijacker struct {
	http.ResponseWriter
	writeTimeout time.Duration
	conn         *batchConn // set by Hijack
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: nc, timeout: h.writeTimeout}
	// Nothing is buffered yet: the 101 answer went out in Hijack. The
	// writer only ever holds one control frame (at most 2+125 bytes), so
	// it need not be the server's 4 KiB one.
	brw.Writer = bufio.NewWriterSize(h.conn, controlFrameBuffer)
	return h.conn, brw, nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// batchConn is a WebSocket's TCP connection with three additions: the
// writer loop writes whole data frames with writeFrame, writes can be held
// back and sent together (hold, release), and every write has a deadline.
//
// Write is what coder/websocket calls. Since the data frames bypass it,
// all it writes are control frames, each in one call (they fit its
// buffer, controlFrameBuffer, which it flushes at the end of every
// frame); once it has written a close frame, writeFrame refuses, as
// RFC 6455 wants no data after a close frame.
//
// The deadline is moved forward only when less than half of timeout is
// left, rather than set per write (a timer operation each): a write that
// stalls fails after between timeout/2 and timeout.
type batchConn struct {
	net.Conn
	timeout time.Duration

	mu        sync.Mutex // serialises writes: the writer loop's, and coder/websocket's from other goroutines
	closeSent bool
	holding   bool
	held      []byte
	deadline  time.Time
}

// Write writes coder/websocket's frames.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if isCloseFrame(p) {
		c.closeSent = true
	}
	if c.holding {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	return c.writeLocked(p)
}

// isCloseFrame reports whether p is exactly one unmasked close frame
// (FIN, opcode 8, a payload of at most 125 bytes): what coder/websocket
// writes to send one.
func isCloseFrame(p []byte) bool {
	return len(p) >= 2 && p[0] == 0x88 && p[1]&0x80 == 0 && int(p[1]) == len(p)-2
}

// writeFrame writes a whole data frame; frame is not modified or kept.
func (c *batchConn) writeFrame(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if c.holding {
		c.held = append(c.held, frame...)
		return nil
	}
	_, err := c.writeLocked(frame)
	return err
}

func (c *batchConn) writeLocked(p []byte) (int, error) {
	if c.timeout > 0 {
		if now := time.Now(); c.deadline.Sub(now) < c.timeout/2 {
			c.deadline = now.Add(c.timeout)
			if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
				return 0, err
			}
		}
	}
	n, err := c.Conn.Write(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("write stalled for at least %s: the client stopped reading: %w", c.timeout/2, err)
	}
	return n, err
}

// hold makes writes accumulate until release.
func (c *batchConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// release sends what was held back in one write and lets writes through
// again.
func (c *batchConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if len(c.held) == 0 {
		return nil
	}
	_, err := c.writeLocked(c.held)
	if cap(c.held) > 2*maxBatch {
		c.held = nil // a one-off large message: do not keep its buffer
	} else {
		c.held = c.held[:0]
	}
	return err
}
