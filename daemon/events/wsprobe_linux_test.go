//go:build linux

package events_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// runProbes reads the probes until handle stops each of them (stop true:
// the probe closes its connection normally) or a probe fails, and returns
// each probe's error (nil for those stopped). The sockets are read by one
// epoll loop per core, each on its own OS thread, rather than by a
// goroutine per probe: a message then costs one read system call and its
// share of an epoll_wait, not a second read that finds nothing, a netpoll
// and two goroutine switches. On the daemon's own two cores that halves
// what the instruments take from it. now is the time the read returned,
// shared by the messages that came in the same read. A poller that waits
// idle with no message fails its remaining probes.
func runProbes(probes []*wsProbe, idle time.Duration, handle func(i int, msg []byte, now int64) (stop bool, err error)) []error {
	errs := make([]error, len(probes))
	pollers := min(runtime.GOMAXPROCS(0), len(probes))
	var wg sync.WaitGroup
	for k := range pollers {
		var mine []int
		for i := k; i < len(probes); i += pollers {
			mine = append(mine, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pollProbes(probes, mine, idle, handle, errs)
		}()
	}
	wg.Wait()
	return errs
}

func pollProbes(probes []*wsProbe, mine []int, idle time.Duration, handle func(int, []byte, int64) (bool, error), errs []error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		for _, i := range mine {
			errs[i] = fmt.Errorf("epoll_create1: %w", err)
		}
		return
	}
	defer syscall.Close(epfd)
	open := 0
	finish := func(i int, err error) {
		p := probes[i]
		_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, p.fd, nil)
		if err == nil {
			_ = p.Close()
		} else {
			_ = p.closeSocket()
		}
		errs[i] = err
		open--
	}
	for _, i := range mine {
		p := probes[i]
		if err := p.takeOver(); err != nil {
			errs[i] = err
			continue
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(p.fd), Pad: int32(i)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.fd, &ev); err != nil {
			_ = p.closeSocket()
			errs[i] = fmt.Errorf("epoll_ctl: %w", err)
			continue
		}
		open++
		// Frames that came with the handshake answer.
		deliver(i, p, time.Now().UnixNano(), handle, finish)
	}
	events := make([]syscall.EpollEvent, 128)
	for open > 0 {
		n, err := syscall.EpollWait(epfd, events, int(idle/time.Millisecond))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("no message for %s", idle)
			}
			for _, i := range mine {
				if probes[i].fd >= 0 && errs[i] == nil {
					finish(i, fmt.Errorf("probe: %w", err))
				}
			}
			return
		}
		for _, ev := range events[:n] {
			i := int(ev.Pad)
			p := probes[i]
			nr, err := syscall.Read(p.fd, p.room())
			now := time.Now().UnixNano()
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			if err == nil && nr == 0 {
				err = errors.New("the daemon closed the connection without a close frame")
			}
			if err != nil {
				finish(i, fmt.Errorf("probe: read: %w", err))
				continue
			}
			p.w += nr
			deliver(i, p, now, handle, finish)
		}
	}
}

// deliver hands the messages in p's buffer to handle; it reports whether
// the probe is finished.
func deliver(i int, p *wsProbe, now int64, handle func(int, []byte, int64) (bool, error), finish func(int, error)) bool {
	for {
		msg, err := p.message()
		if err != nil {
			finish(i, err)
			return true
		}
		if msg == nil {
			return false
		}
		stop, err := handle(i, msg, now)
		if stop || err != nil {
			finish(i, err)
			return true
		}
	}
}

// takeOver moves the probe's socket from its net.Conn (and Go's poller)
// to a file descriptor of its own: a duplicate, which shares the socket
// and its O_NONBLOCK; closing the net.Conn then only takes the socket out
// of the runtime's epoll set.
func (p *wsProbe) takeOver() error {
	sc, ok := p.conn.(syscall.Conn)
	if !ok {
		return fmt.Errorf("probe: %T has no file descriptor", p.conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var dupErr error
	err = raw.Control(func(fd uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			dupErr = fmt.Errorf("probe: dup: %w", e)
			return
		}
		p.fd = int(r)
	})
	if err = errors.Join(err, dupErr); err != nil {
		return err
	}
	_ = p.conn.Close()
	p.conn = nil
	return nil
}

func (p *wsProbe) writeRaw(b []byte) error {
	if p.conn != nil {
		_, err := p.conn.Write(b)
		return err
	}
	for len(b) > 0 {
		n, err := syscall.Write(p.fd, b)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// EAGAIN included: control frames are a few bytes, and a
			// send buffer that cannot take them means a dead peer.
			return fmt.Errorf("probe: write: %w", err)
		}
		b = b[n:]
	}
	return nil
}

func (p *wsProbe) closeSocket() error {
	if p.conn != nil {
		return p.conn.Close()
	}
	if p.fd < 0 {
		return nil
	}
	err := syscall.Close(p.fd)
	p.fd = -1
	return err
}
