// Package servicehealth keeps the health of the service registry: a poller that
// checks each registered service's health URL on its interval and records
// status, latency and error in the catalog, which publishes service.updated
// when (and only when) the status or the error changes.
//
// Any number of appstored processes may run a poller against one database:
// services are claimed with a lease (store.ClaimDueServices), so each check
// happens once, and the table is re-read on every round, so services added
// or changed by any process are picked up without a restart.
package servicehealth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// Defaults of Config.
const (
	DefaultInterval    = 30 * time.Second
	DefaultMaxBackoff  = 5 * time.Minute
	DefaultConcurrency = 8
	DefaultMaxIdle     = time.Second
)

// maxBodyRead bounds how much of a health answer is read (and thrown away)
// so that the connection can be reused.
const maxBodyRead = 64 << 10

// Config configures a Poller. Zero values mean the defaults.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger

	// Interval is how often a healthy service is checked unless it sets
	// its own health_interval (default 30s, --health-interval).
	Interval time.Duration
	// Timeout bounds one check (default: half the interval, between 1s and
	// 5s).
	Timeout time.Duration
	// MaxBackoff caps the delay between checks of a failing service, which
	// doubles with each failure in a row (default 5m; never below the
	// service's interval).
	MaxBackoff time.Duration
	// Concurrency is the number of checks in flight at most (default 8).
	Concurrency int
	// MaxIdle is the longest the poller sleeps before it reads the table
	// again, which bounds how long a service registered by another process
	// waits for its first check (default 1s).
	MaxIdle time.Duration
	// Policy decides which addresses checks may connect to; every
	// connection of the default Client goes through its DialControl. The
	// zero value is the strict one (no loopback; never link-local).
	Policy Policy
	// Client sends the checks. Default: connections under Policy,
	// redirects not followed (a health URL should be the final address),
	// no proxy from the environment (health URLs are usually internal).
	// A Client given here is used as it is, without Policy.
	Client *http.Client
	// UserAgent is sent with each check (default "appstored-health-check").
	UserAgent string

	// connecting, when set, is told each address the default Client is
	// about to connect to, after Policy admitted it (tests).
	connecting func(address string)
}

// Poller checks the health of registered services. Create it with New and
// run it with Run.
type Poller struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Poller, error) {
	if cfg.Store == nil {
		return nil, errors.New("services poller: no store")
	}
	if cfg.Interval < 0 || cfg.Timeout < 0 || cfg.MaxBackoff < 0 || cfg.Concurrency < 0 || cfg.MaxIdle < 0 {
		return nil, errors.New("services poller: negative interval, timeout, backoff, concurrency or idle time")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = min(max(cfg.Interval/2, time.Second), 5*time.Second)
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = DefaultMaxIdle
	}
	if cfg.Client == nil {
		cfg.Client = newHTTPClient(cfg.Policy, cfg.connecting)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "appstored-health-check"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Poller{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}, nil
}

func newHTTPClient(policy Policy, connecting func(string)) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConnsPerHost = 2
	// The policy is checked on the resolved address right before
	// connect(2): a name that resolved to an admitted address at
	// registration and to the metadata address now is refused here.
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, c syscall.RawConn) error {
			if err := policy.DialControl(network, address, c); err != nil {
				return err
			}
			if connecting != nil {
				connecting(address)
			}
			return nil
		}}
	t.DialContext = dialer.DialContext
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Wake makes the poller read the table now instead of at its next round:
// the API calls it after a service is registered or changed, so the first
// check does not wait.
func (p *Poller) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// lease is how long a claimed service is reserved for this process: past
// it, another process assumes this one died and checks the service.
func (p *Poller) lease() time.Duration { return 2*p.cfg.Timeout + 10*time.Second }

// Run polls until ctx is done, then waits for the checks in flight (which
// ctx cancels; their results are dropped and their leases expire).
func (p *Poller) Run(ctx context.Context) {
	ctx = catalog.WithCause(ctx, catalog.CauseHealth)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, p.cfg.Concurrency)
	failing := false // log database trouble once per outage, not every round
	for {
		claimed := 0
		if free := cap(slots) - len(slots); free > 0 {
			targets, err := p.cfg.Store.ClaimDueServices(ctx, free, p.lease())
			switch {
			case ctx.Err() != nil:
				return
			case err != nil && !failing:
				p.log.Warn("cannot claim services for health checks; retrying", "err", err)
				failing = true
			case err == nil && failing:
				p.log.Info("health checks resumed")
				failing = false
			}
			for _, t := range targets {
				slots <- struct{}{}
				claimed++
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots; p.Wake() }()
					p.check(ctx, t)
				}()
			}
		}
		wait := p.cfg.MaxIdle
		if claimed == 0 || len(slots) == cap(slots) {
			// Sleep until the next service is due; a finished check or
			// Wake cuts it short.
			if in, ok, err := p.cfg.Store.NextServiceCheck(ctx); err == nil && ok {
				wait = min(max(in, 5*time.Millisecond), p.cfg.MaxIdle)
			}
		} else {
			wait = 0 // claimed a full batch: more may be due
		}
		if wait == 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-p.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// check runs one health check and records it.
func (p *Poller) check(ctx context.Context, t store.ServiceCheckTarget) {
	res := Check(ctx, p.cfg.Client, t.HealthURL, p.cfg.Timeout, p.cfg.UserAgent)
	if ctx.Err() != nil {
		return // shutting down: not the service's fault
	}
	failures := 0
	if !res.Healthy {
		failures = t.Failures + 1
	}
	interval := t.Interval
	if interval == 0 {
		interval = p.cfg.Interval
	}
	next := NextDelay(interval, failures, p.cfg.MaxBackoff)
	svc, changed, err := p.cfg.Store.RecordServiceCheck(ctx, store.ServiceCheck{
		ID: t.ID, HealthURL: t.HealthURL, Healthy: res.Healthy, Error: res.Error, Latency: res.Latency, NextIn: next,
	})
	switch {
	case err != nil:
		if ctx.Err() == nil {
			p.log.Warn("cannot record health check", "service", t.Slug, "err", err)
		}
	case svc != nil && len(changed) > 0:
		level := slog.LevelInfo
		if svc.Status == catalog.ServiceUnhealthy {
			level = slog.LevelWarn
		}
		p.log.Log(ctx, level, "service health changed", "service", t.Slug, "status", svc.Status,
			"error", svc.LastError, "latency", res.Latency.Round(time.Microsecond), "next_check_in", next)
	}
}

// NextDelay is how long after a check the next one is due: the interval
// while the service is healthy; after failures checks in a row that failed,
// the interval doubled for each failure after the first, capped at
// maxBackoff (or at the interval when that is longer). A service that just
// failed is re-checked after one interval, so a blip is confirmed or cleared
// quickly; one that stays down is checked ever less often.
func NextDelay(interval time.Duration, failures int, maxBackoff time.Duration) time.Duration {
	if failures <= 1 {
		return interval
	}
	limit := max(maxBackoff, interval)
	d := interval
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Result is the outcome of one health check.
type Result struct {
	Healthy bool
	// StatusCode is the HTTP status of the answer (0 when there was none).
	StatusCode int
	// Error says why the check failed, in words that do not change from
	// one check to the next while the service fails the same way (no
	// timings, no ports of the client): a change of it is a change of the
	// service and is published.
	Error   string
	Latency time.Duration
}

// Check sends GET healthURL and waits at most timeout: a 2xx answer is
// healthy; anything else is not, and Error says what happened (the HTTP
// status, a timeout, a refused connection…).
func Check(ctx context.Context, client *http.Client, healthURL string, timeout time.Duration, userAgent string) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, healthURL, nil)
	if err != nil {
		return Result{Error: fmt.Sprintf("bad health URL: %v", err)}
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json, text/plain, */*")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Result{Error: describe(err, timeout), Latency: time.Since(start)}
	}
	_, readErr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyRead))
	resp.Body.Close()
	res := Result{StatusCode: resp.StatusCode, Latency: time.Since(start)}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Error = fmt.Sprintf("HTTP %s: redirect to %q not followed; set health_url to the final address",
			statusText(resp.StatusCode), resp.Header.Get("Location"))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		res.Error = "HTTP " + statusText(resp.StatusCode)
	case readErr != nil && ctx.Err() != nil:
		res.Error = fmt.Sprintf("timed out after %s reading the answer", timeout)
	default:
		res.Healthy = true
	}
	return res
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprint(code)
}

// describe turns a transport error into a stable, readable reason.
func describe(err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var policyErr *PolicyError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &policyErr):
		return policyErr.Reason
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the service"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("cannot resolve host %q", dnsErr.Name)
		}
		return fmt.Sprintf("cannot resolve host %q: %s", dnsErr.Name, dnsErr.Err)
	case errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &certErr):
		return "TLS certificate not trusted: " + unwrapURL(err).Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the service before it answered"
	}
	return unwrapURL(err).Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unwrapURL drops the *url.Error wrapper, whose text repeats the URL the
// service already names.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
