//go:build !linux

package events_test

import (
	"sync"
	"time"
)

// runProbes reads each probe from a goroutine of its own (see the Linux
// version for the contract). The idle bound is not enforced here.
func runProbes(probes []*wsProbe, idle time.Duration, handle func(i int, msg []byte, now int64) (stop bool, err error)) []error {
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msg, err := p.next()
				now := time.Now().UnixNano()
				if err == nil {
					var stop bool
					if stop, err = handle(i, msg, now); stop && err == nil {
						_ = p.Close()
						return
					}
				}
				if err != nil {
					errs[i] = err
					_ = p.closeSocket()
					return
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

func (p *wsProbe) writeRaw(b []byte) error {
	_, err := p.conn.Write(b)
	return err
}

func (p *wsProbe) closeSocket() error { return p.conn.Close() }
