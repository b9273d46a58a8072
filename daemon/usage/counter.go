// Package usage counts how apps are used through the preview proxy:
// requests, unique visitors and active minutes per app and day, kept in
// memory and written to the catalog in batches (catalog/store's
// RecordUsage), so that counting never waits on the database in a preview
// request. Launches are counted by the store with the launch itself.
//
// A visitor is a keyed hash (HMAC-SHA-256) of the client's address and user
// agent under the day's key (store.UsageKeys, shared by every process):
// the address is hashed in the request and never kept, not even in memory
// beyond the request.
package usage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/clientaddr"
)

// Store is what the counter needs of the catalog (store.Store).
type Store interface {
	RecordUsage(ctx context.Context, counts []store.UsageCount) error
	UsageKeys(ctx context.Context, days ...time.Time) (map[time.Time][]byte, error)
}

// DefaultFlushInterval is how often counts are written.
const DefaultFlushInterval = 10 * time.Second

// Bounds of what waits in memory between two writes: beyond them new apps
// and new visitors of a batch are not counted (requests still are), so a
// flood of clients or a database outage cannot grow the daemon's memory.
const (
	maxPendingApps     = 10_000
	maxPendingVisitors = 100_000
)

// visitorLen is the length of a stored visitor hash (the first bytes of
// the HMAC): enough to tell a day's visitors of one app apart.
const visitorLen = 16

// Counter counts preview requests. Preview is safe for concurrent use and
// never blocks on I/O; Run writes the counts.
type Counter struct {
	Store  Store
	Logger *slog.Logger
	// FlushInterval is how often counts are written (default
	// DefaultFlushInterval).
	FlushInterval time.Duration
	// TrustForwarded takes the client's address from the last entry of
	// X-Forwarded-For when the peer is on loopback (a proxy in front of
	// an exposed daemon), as the API guard does.
	TrustForwarded bool
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu       sync.Mutex
	keys     map[time.Time][]byte
	pending  map[appDay]*counts
	visitors int // in pending, across apps
	dropped  bool
}

type appDay struct {
	slug string
	day  time.Time
}

type counts struct {
	requests int64
	visitors map[[visitorLen]byte]struct{}
	minutes  map[int]struct{}
}

func (c *Counter) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// LoadKeys reads (or creates) the keys of today and tomorrow. Run calls it
// before each write; call it once before serving so that the first
// requests' visitors count too (without a key a visitor is not counted).
func (c *Counter) LoadKeys(ctx context.Context) error {
	today := catalog.UsageDayOf(c.now())
	keys, err := c.Store.UsageKeys(ctx, today, today.AddDate(0, 0, 1))
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range c.keys {
		if d.Before(today.AddDate(0, 0, -1)) {
			delete(c.keys, d)
		}
	}
	if c.keys == nil {
		c.keys = map[time.Time][]byte{}
	}
	for d, k := range keys {
		c.keys[d] = k
	}
	return nil
}

// Preview counts one request of the preview proxy for the app slug.
func (c *Counter) Preview(slug string, r *http.Request) {
	now := c.now().UTC()
	day := catalog.UsageDayOf(now)
	addr := c.clientAddr(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	k := appDay{slug, day}
	e := c.pending[k]
	if e == nil {
		if len(c.pending) >= maxPendingApps {
			c.dropped = true
			return
		}
		if c.pending == nil {
			c.pending = map[appDay]*counts{}
		}
		e = &counts{visitors: map[[visitorLen]byte]struct{}{}, minutes: map[int]struct{}{}}
		c.pending[k] = e
	}
	e.requests++
	e.minutes[now.Hour()*60+now.Minute()] = struct{}{}
	key := c.keys[day]
	if key == nil || c.visitors >= maxPendingVisitors {
		return
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(addr))
	h.Write([]byte{0})
	h.Write([]byte(r.UserAgent()))
	var v [visitorLen]byte
	copy(v[:], h.Sum(nil))
	if _, seen := e.visitors[v]; !seen {
		e.visitors[v] = struct{}{}
		c.visitors++
	}
}

// clientAddr is the client's address without its port (an IPv6 client
// counts by its address, not its /64: a visitor is a browser, not a host).
func (c *Counter) clientAddr(r *http.Request) string {
	addr, raw, ok := clientaddr.Of(r, c.TrustForwarded)
	if !ok {
		return raw
	}
	return addr.String()
}

// take removes and returns what waits to be written.
func (c *Counter) take() []store.UsageCount {
	c.mu.Lock()
	pending, dropped := c.pending, c.dropped
	c.pending, c.visitors, c.dropped = nil, 0, false
	c.mu.Unlock()
	if dropped {
		c.Logger.Warn("usage counts dropped: too many apps or visitors waited to be written", "max_apps", maxPendingApps, "max_visitors", maxPendingVisitors)
	}
	out := make([]store.UsageCount, 0, len(pending))
	for k, e := range pending {
		uc := store.UsageCount{Slug: k.slug, Day: k.day, PreviewRequests: e.requests}
		for v := range e.visitors {
			uc.Visitors = append(uc.Visitors, v[:])
		}
		for m := range e.minutes {
			uc.Minutes = append(uc.Minutes, m)
		}
		out = append(out, uc)
	}
	return out
}

// putBack returns counts that could not be written to the next batch.
func (c *Counter) putBack(batch []store.UsageCount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, uc := range batch {
		k := appDay{uc.Slug, uc.Day}
		e := c.pending[k]
		if e == nil {
			if len(c.pending) >= maxPendingApps {
				c.dropped = true
				continue
			}
			if c.pending == nil {
				c.pending = map[appDay]*counts{}
			}
			e = &counts{visitors: map[[visitorLen]byte]struct{}{}, minutes: map[int]struct{}{}}
			c.pending[k] = e
		}
		e.requests += uc.PreviewRequests
		for _, m := range uc.Minutes {
			e.minutes[m] = struct{}{}
		}
		for _, v := range uc.Visitors {
			var h [visitorLen]byte
			copy(h[:], v)
			if _, seen := e.visitors[h]; !seen && c.visitors < maxPendingVisitors {
				e.visitors[h] = struct{}{}
				c.visitors++
			}
		}
	}
}

// Flush writes what waits. On failure the counts wait for the next flush.
func (c *Counter) Flush(ctx context.Context) error {
	batch := c.take()
	if len(batch) == 0 {
		return nil
	}
	if err := c.Store.RecordUsage(ctx, batch); err != nil {
		c.putBack(batch)
		return err
	}
	return nil
}

// Run writes the counts every FlushInterval, and once more when ctx ends.
func (c *Counter) Run(ctx context.Context) {
	every := c.FlushInterval
	if every <= 0 {
		every = DefaultFlushInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := c.Flush(last); err != nil {
				c.Logger.Warn("writing the last usage counts failed: they are lost", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		if err := c.LoadKeys(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Warn("reading the visitor keys failed; visitors are not counted until it works", "err", err)
		}
		if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Warn("writing usage counts failed; they wait for the next write", "err", err)
		}
	}
}
