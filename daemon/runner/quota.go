package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// Quotas. A runner runs at most Config.MaxRunning launches at once
// (starting or running; warm-pool containers not attached are not
// launches) and, with Config.MaxRunningMemory, launches whose memory
// limits add up to at most that; Config.CatalogMaxRunning and
// CatalogMaxRunningMemory cap the launches of every runner of the catalogue the
// same way. The store decides, in the transaction that records the launch
// (store.LaunchQuota), so that two launches — of one runner or of several
// sharing the catalogue — cannot both take the last place. A launch past a
// cap is refused with a *QuotaError (HTTP 429) that names what runs and
// how to stop it; with Config.EvictIdle the least recently used idle
// launch of this runner is put to sleep instead (stop reason "evicted":
// its next request wakes it). A launch of an app that already runs on this
// runner (a relaunch, another profile, a redeploy) replaces it and is
// never refused. Wakes by preview requests obey the same caps, and each
// client may start at most WakeBurst apps, then one per WakeInterval.

// Defaults of the quota fields of Config.
const (
	DefaultMaxRunning   = 20
	DefaultWakeBurst    = 5
	DefaultWakeInterval = 12 * time.Second
)

// QuotaError refuses a launch past the runner's caps.
type QuotaError struct{ Message string }

func (e *QuotaError) Error() string { return e.Message }

// IsQuota reports whether err is a refusal past the caps (HTTP 429).
func IsQuota(err error) bool {
	var q *QuotaError
	return errors.As(err, &q)
}

// quota is the caps a launch is admitted under; nil when none is set.
func (r *Runner) quota() *store.LaunchQuota {
	q := &store.LaunchQuota{
		MaxRunning: max(r.cfg.MaxRunning, 0), MaxMemory: max(r.cfg.MaxRunningMemory, 0),
		CatalogMaxRunning: max(r.cfg.CatalogMaxRunning, 0), CatalogMaxMemory: max(r.cfg.CatalogMaxRunningMemory, 0),
	}
	if q.MaxRunning == 0 && q.MaxMemory == 0 && q.CatalogMaxRunning == 0 && q.CatalogMaxMemory == 0 {
		return nil
	}
	q.ProfileMemory = map[string]int64{}
	for _, p := range Profiles {
		q.ProfileMemory[p.Name] = p.Memory
	}
	return q
}

// admitted begins a launch of t under the caps (the store admits it in the
// transaction that records it), putting idle apps of this runner to sleep
// while EvictIdle allows and a cap refuses.
func (r *Runner) admitted(ctx context.Context, t *store.LaunchTarget, ref string, port int, prof Profile, ttl time.Duration, exact bool, env launchEnv) (*catalog.Launch, store.LaunchOrigin, error) {
	q := r.quota()
	if q != nil {
		// One admission of this process at a time: two evictions for
		// one place would put two apps to sleep.
		r.quotaMu.Lock()
		defer r.quotaMu.Unlock()
	}
	evicted := map[int64]bool{}
	for {
		l, origin, err := r.begin(ctx, t, ref, port, prof, ttl, exact, 0, env, q)
		var refusal *store.QuotaRefusal
		if !errors.As(err, &refusal) {
			return l, origin, err
		}
		var victim *catalog.Launch
		if r.cfg.EvictIdle {
			victim = r.leastRecentlyUsedIdle(slices.DeleteFunc(slices.Clone(refusal.Running), func(l catalog.Launch) bool {
				return l.Runner != r.id || evicted[l.ID]
			}))
		}
		if victim == nil {
			return nil, 0, r.quotaError(t.Slug, prof, refusal)
		}
		evicted[victim.ID] = true
		msg := fmt.Sprintf("put to sleep to make room for %s (--evict-idle): it was the least recently used idle app; a request wakes it", t.Slug)
		if _, err := r.stop(ctx, victim.ID, catalog.LaunchStopped, msg, "evicted"); err != nil {
			return nil, 0, fmt.Errorf("put %s to sleep to make room: %w", victim.Repository, err)
		}
		r.logger.Info("put an idle app to sleep to make room", "slug", victim.Repository, "launch", victim.ID, "for", t.Slug)
	}
}

// leastRecentlyUsedIdle picks the running launch that serves no request
// now and was used least recently (its last request, else its start).
func (r *Runner) leastRecentlyUsedIdle(ls []catalog.Launch) *catalog.Launch {
	var best *catalog.Launch
	var bestAt time.Time
	for i := range ls {
		l := &ls[i]
		if l.Status != catalog.LaunchRunning || r.routes.inUse(l.ID) || r.isBusy(l.ID) {
			continue
		}
		at := l.CreatedAt
		if l.StartedAt != nil {
			at = *l.StartedAt
		}
		if l.LastRequestAt != nil && l.LastRequestAt.After(at) {
			at = *l.LastRequestAt
		}
		if rt := r.routes.get(l.Repository); rt != nil && rt.launchID == l.ID {
			if last := rt.last.Load(); last > at.UnixNano() {
				at = time.Unix(0, last)
			}
		}
		if best == nil || at.Before(bestAt) {
			best, bestAt = l, at
		}
	}
	return best
}

// quotaError says which cap the launch would pass, what runs, and what to
// do.
func (r *Runner) quotaError(slug string, prof Profile, q *store.QuotaRefusal) error {
	running := q.Running
	var names []string
	for i, l := range running {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(running)-10))
			break
		}
		name := fmt.Sprintf("%s (launch %d, %s", l.Repository, l.ID, l.ResourceProfile)
		if q.Scope == store.QuotaCatalog && l.Runner != r.id {
			name += ", runner " + l.Runner
		}
		names = append(names, name+")")
	}
	where, flag := "on this appstored", "--max-running"
	if q.Scope == store.QuotaCatalog {
		where, flag = "in this catalogue (every runner)", "--catalog-max-running"
	}
	var why string
	if !q.Memory {
		why = fmt.Sprintf("%d apps run %s, the most it allows (%s %d)", len(running), where, flag, q.Max)
	} else {
		why = fmt.Sprintf("the apps running %s have %s of memory limits, and %s's %s profile (%s) would pass %s-memory %s",
			where, catalog.FormatSize(q.Used), slug, prof.Name, catalog.FormatSize(prof.Memory), flag, catalog.FormatSize(q.Max))
	}
	stopHint := "appstore stop <slug>"
	if len(running) > 0 {
		stopHint = "appstore stop " + running[0].Repository
	}
	msg := fmt.Sprintf("%s cannot start: %s. Running: %s. Stop one (`%s`) and launch again",
		slug, why, strings.Join(names, ", "), stopHint)
	if !r.cfg.EvictIdle {
		msg += ", or run appstored with --evict-idle to put the least recently used idle app to sleep instead"
	} else if q.Scope == store.QuotaCatalog {
		msg += " (no app of this runner is idle: each is serving a request or starting, and apps of other runners are not put to sleep for it)"
	} else {
		msg += " (no app is idle: each is serving a request or starting)"
	}
	return &QuotaError{Message: msg}
}

// wakeLimiter counts the apps each client started through preview
// requests: a burst, then one per interval (a token bucket per client,
// in memory: no address is stored anywhere else).
type wakeLimiter struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	buckets  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// take spends one wake of client; it returns how long to wait when there
// is none left.
func (w *wakeLimiter) take(client string, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buckets == nil {
		w.buckets = map[string]*bucket{}
	}
	if len(w.buckets) > 10000 {
		// Forget the clients whose allowance is whole again.
		for k, b := range w.buckets {
			if now.Sub(b.at) > time.Duration(w.burst)*w.interval {
				delete(w.buckets, k)
			}
		}
	}
	b := w.buckets[client]
	if b == nil {
		b = &bucket{tokens: w.burst, at: now}
		w.buckets[client] = b
	}
	b.tokens = min(w.burst, b.tokens+float64(now.Sub(b.at))/float64(w.interval))
	b.at = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) * float64(w.interval))
	}
	b.tokens--
	return 0
}

// clientKey names the client of a preview request for the wake limit:
// Config.ClientKey (the API guard's, which knows the proxies in front),
// else the peer's address.
func (r *Runner) clientKey(req *http.Request) string {
	if r.cfg.ClientKey != nil {
		return r.cfg.ClientKey(req)
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}
