package runner

import (
	"cmp"
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
// limits add up to at most that. A launch past either is refused with a
// *QuotaError (HTTP 429) that names what runs and how to stop it; with
// Config.EvictIdle the least recently used idle launch is put to sleep
// instead (stop reason "evicted": its next request wakes it). A launch of
// an app that already runs (a relaunch, another profile, a redeploy)
// replaces it and is never refused. Wakes by preview requests obey the
// same caps, and each client may start at most WakeBurst apps, then one
// per WakeInterval.

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

// admit decides whether a launch of t with profile prof may start, putting
// idle apps to sleep when EvictIdle allows. Its release must be called once
// the launch is recorded (begin), so that two launches cannot both take the
// last place.
func (r *Runner) admit(ctx context.Context, t *store.LaunchTarget, prof Profile) (release func(), err error) {
	maxN, maxMem := r.cfg.MaxRunning, r.cfg.MaxRunningMemory
	if maxN < 0 && maxMem <= 0 {
		return func() {}, nil
	}
	r.quotaMu.Lock()
	release = r.quotaMu.Unlock
	warm := false
	active, err := r.st.ListLaunches(ctx, store.LaunchFilter{Runner: r.id, Active: true, Warm: &warm, Limit: 1000})
	if err != nil {
		release()
		return nil, err
	}
	var counted []catalog.Launch
	for _, l := range active {
		if l.Status == catalog.LaunchStopping {
			continue // on its way out
		}
		if l.RepositoryID == t.RepositoryID {
			return release, nil // it replaces (or is) the app's own launch
		}
		counted = append(counted, l)
	}
	for {
		n, mem := len(counted), int64(0)
		for _, l := range counted {
			mem += r.launchMemory(l)
		}
		overN := maxN >= 0 && n+1 > maxN
		overMem := maxMem > 0 && mem+prof.Memory > maxMem
		if !overN && !overMem {
			return release, nil
		}
		var victim *catalog.Launch
		if r.cfg.EvictIdle {
			victim = r.leastRecentlyUsedIdle(counted)
		}
		if victim == nil {
			release()
			return nil, r.quotaError(t.Slug, prof, counted, overN, mem)
		}
		msg := fmt.Sprintf("put to sleep to make room for %s (--evict-idle): it was the least recently used idle app; a request wakes it", t.Slug)
		if _, err := r.stop(ctx, victim.ID, catalog.LaunchStopped, msg, "evicted"); err != nil {
			release()
			return nil, fmt.Errorf("put %s to sleep to make room: %w", victim.Repository, err)
		}
		r.logger.Info("put an idle app to sleep to make room", "slug", victim.Repository, "launch", victim.ID, "for", t.Slug)
		counted = slices.DeleteFunc(counted, func(l catalog.Launch) bool { return l.ID == victim.ID })
	}
}

// launchMemory is the memory limit of a launch's profile.
func (r *Runner) launchMemory(l catalog.Launch) int64 {
	p, err := r.cfg.Limits.resolveProfile(l.ResourceProfile, "")
	if err != nil {
		return 0
	}
	return p.Memory
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
func (r *Runner) quotaError(slug string, prof Profile, running []catalog.Launch, overN bool, mem int64) error {
	slices.SortFunc(running, func(a, b catalog.Launch) int { return cmp.Compare(a.Repository, b.Repository) })
	var names []string
	for i, l := range running {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(running)-10))
			break
		}
		names = append(names, fmt.Sprintf("%s (launch %d, %s)", l.Repository, l.ID, l.ResourceProfile))
	}
	var why string
	if overN {
		why = fmt.Sprintf("%d apps run on this appstored, the most it allows (--max-running %d)", len(running), r.cfg.MaxRunning)
	} else {
		why = fmt.Sprintf("the apps running on this appstored have %s of memory limits, and %s's %s profile (%s) would pass --max-running-memory %s",
			catalog.FormatSize(mem), slug, prof.Name, catalog.FormatSize(prof.Memory), catalog.FormatSize(r.cfg.MaxRunningMemory))
	}
	stopHint := "appstore stop <slug>"
	if len(running) > 0 {
		stopHint = "appstore stop " + running[0].Repository
	}
	msg := fmt.Sprintf("%s cannot start: %s. Running: %s. Stop one (`%s`) and launch again",
		slug, why, strings.Join(names, ", "), stopHint)
	if !r.cfg.EvictIdle {
		msg += ", or run appstored with --evict-idle to put the least recently used idle app to sleep instead"
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
