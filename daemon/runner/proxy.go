package runner

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// The preview proxy. Requests for http://<slug>.<preview-domain>/ (any port)
// and for /apps/<slug>/ on the daemon's own names go to the app's running
// launch on this runner; an app that does not run is started (woken) by the
// request. Routing is an in-memory table, so a proxied request costs no
// database round trip; the time of the last request is written in batches
// by the sweep.

// route is where an app's requests go.
type route struct {
	launchID int64
	slug     string
	target   *url.URL
	addr     string // 127.0.0.1:<host port>
	// last is the unix-nano time of the last request; active counts the
	// requests in flight (a WebSocket is one for its whole life), which
	// keep the app awake.
	last    atomic.Int64
	active  atomic.Int64
	written atomic.Int64 // last value written to the database
	// foreignUntil, for a route to another runner's Swarm launch, is when
	// its address must be asked again (unix nano; 0 for this runner's).
	foreignUntil atomic.Int64
	// retired is set once the route left the table (a newer launch took
	// the app, or the launch stops): a request that found it then goes to
	// the current route instead (see previewHandler.ServeHTTP and drain).
	retired atomic.Bool
}

// drainMax bounds how long the stop of a replaced launch waits for the
// requests it is still serving.
const drainMax = 10 * time.Second

// acquire counts a request on the route, unless it is retired.
func (rt *route) acquire() bool {
	rt.active.Add(1)
	if rt.retired.Load() {
		rt.active.Add(-1)
		return false
	}
	return true
}

// drain waits (at most max) until the retired route serves no request.
// A request counts itself before it checks retired, and drain runs after
// retired is set, so no request reaches the container once drain returned.
func (rt *route) drain(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	for rt.active.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

type routeTable struct {
	mu     sync.RWMutex
	bySlug map[string]*route
	// retired are routes a newer launch replaced, until their launch is
	// stopped (remove), so that the stop can drain them.
	retired map[int64]*route
}

func (t *routeTable) get(slug string) *route {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.bySlug[slug]
}

// set routes the app to rt unless this or a newer launch of it is routed
// already (the existing route keeps its request times).
func (t *routeTable) set(rt *route) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.bySlug[rt.slug]
	if old != nil && old.launchID >= rt.launchID {
		return
	}
	t.bySlug[rt.slug] = rt
	if old != nil {
		old.retired.Store(true)
		if t.retired == nil {
			t.retired = map[int64]*route{}
		}
		t.retired[old.launchID] = old
	}
}

// remove takes the launch's route out of the table and returns it (also
// when a newer launch had already replaced it), retired, or nil.
func (t *routeTable) remove(launchID int64) *route {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out *route
	for slug, rt := range t.bySlug {
		if rt.launchID == launchID {
			delete(t.bySlug, slug)
			out = rt
		}
	}
	if rt, ok := t.retired[launchID]; ok {
		delete(t.retired, launchID)
		out = rt
	}
	if out != nil {
		out.retired.Store(true)
	}
	return out
}

// retain drops the routes of launches not in live.
func (t *routeTable) retain(live map[int64]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for slug, rt := range t.bySlug {
		if !live[rt.launchID] {
			rt.retired.Store(true)
			delete(t.bySlug, slug)
		}
	}
	for id := range t.retired {
		if !live[id] {
			delete(t.retired, id)
		}
	}
}

func (t *routeTable) inUse(launchID int64) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, rt := range t.bySlug {
		if rt.launchID == launchID {
			return rt.active.Load() > 0
		}
	}
	return false
}

// pending returns the request times not yet written: the last request's, or
// now for a route serving a request at this moment.
func (t *routeTable) pending(now time.Time) map[int64]time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out map[int64]time.Time
	for _, rt := range t.bySlug {
		last := rt.last.Load()
		if rt.active.Load() > 0 {
			last = now.UnixNano()
		}
		if last > rt.written.Load() {
			if out == nil {
				out = map[int64]time.Time{}
			}
			out[rt.launchID] = time.Unix(0, last)
		}
	}
	return out
}

func (t *routeTable) flushed(batch map[int64]time.Time) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, rt := range t.bySlug {
		if at, ok := batch[rt.launchID]; ok && at.UnixNano() > rt.written.Load() {
			rt.written.Store(at.UnixNano())
		}
	}
}

// addRoute routes the launch's app to its container.
func (r *Runner) addRoute(l *catalog.Launch) {
	if l.HostPort == 0 || l.Warm {
		return
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(l.HostPort))
	if u, err := url.Parse(l.InstanceURL); err == nil && u.Host != "" {
		// A Swarm task's node address (the docker runtime's is loopback).
		addr = u.Host
	}
	rt := &route{launchID: l.ID, slug: l.Repository, addr: addr, target: &url.URL{Scheme: "http", Host: addr}}
	if l.LastRequestAt != nil {
		rt.written.Store(l.LastRequestAt.UnixNano())
	}
	r.routes.set(rt)
}

type ctxKey struct{}

// target is what one proxied request is routed to.
type target struct {
	route  *route
	prefix string // "/apps/<slug>" on the path fallback, else ""
	scheme string // the preview domain's scheme, when configured
}

// Preview returns the handler of a preview request, or nil when req is not
// one. The route table (daemon/api/routes.go) asks it before the API (and
// before the API's Host guard, since preview host names are not the
// daemon's own names).
func (r *Runner) Preview(req *http.Request) http.Handler {
	host := strings.ToLower(req.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if slug, ok := strings.CutSuffix(host, "."+r.preview.host); ok && catalog.ValidSlug(slug) {
		return &previewHandler{r: r, slug: slug}
	}
	if rest, ok := strings.CutPrefix(req.URL.Path, "/apps/"); ok && r.pathHostAllowed(req.Host) {
		slug, _, _ := strings.Cut(rest, "/")
		if catalog.ValidSlug(slug) {
			return &previewHandler{r: r, slug: slug, prefix: "/apps/" + slug}
		}
	}
	return nil
}

func (r *Runner) pathHostAllowed(hostport string) bool {
	if r.cfg.HostAllowed != nil {
		return r.cfg.HostAllowed(hostport)
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(strings.ToLower(host), "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type previewHandler struct {
	r      *Runner
	slug   string
	prefix string
}

func (h *previewHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r := h.r
	setPreviewHeaders(w.Header())
	if h.prefix != "" && req.URL.Path == h.prefix {
		// Relative links of the app only work below a trailing slash.
		u := *req.URL
		u.Path += "/"
		u.RawPath = ""
		http.Redirect(w, req, u.RequestURI(), http.StatusPermanentRedirect)
		return
	}
	if r.cfg.OnPreview != nil {
		r.cfg.OnPreview(h.slug, req)
	}
	var rt *route
	for range 3 {
		if rt = r.routes.get(h.slug); rt != nil && rt.foreignUntil.Load() != 0 && time.Now().UnixNano() > rt.foreignUntil.Load() {
			r.routes.remove(rt.launchID)
			rt = nil
		}
		if rt == nil {
			rt = r.foreignRoute(req.Context(), h.slug)
		}
		if rt == nil {
			if rt = r.wake(w, req, h.slug); rt == nil {
				return
			}
		}
		if rt.acquire() {
			break
		}
		// Replaced (a redeploy) between the look-up and now: the newer
		// launch serves it.
		rt = nil
	}
	if rt == nil {
		writePage(w, req, http.StatusServiceUnavailable, h.slug+" is being replaced", "The app is switching to a new launch; retry in a moment.")
		return
	}
	defer func() {
		rt.last.Store(time.Now().UnixNano())
		rt.active.Add(-1)
	}()
	t := &target{route: rt, prefix: h.prefix}
	if h.prefix == "" {
		t.scheme = r.preview.scheme
	}
	r.proxy().ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), ctxKey{}, t)))
}

// Headers every preview response carries, the app's pages and the proxy's
// own alike: no content-type sniffing (an app's upload served as text is
// not run as a script), and no preview URL (with its slug and path) in the
// Referer that other sites receive from the app's pages and links.
const (
	previewNoSniff        = "nosniff"
	previewReferrerPolicy = "same-origin"
)

func setPreviewHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", previewNoSniff)
	h.Set("Referrer-Policy", previewReferrerPolicy)
}

// proxyLogLevel is where the ReverseProxy's own messages go: they repeat
// what proxyError reports.
const proxyLogLevel = slog.LevelDebug

// proxy is one ReverseProxy for every app: the route travels in the
// request's context. Its transport keeps connections to the apps alive.
func (r *Runner) proxy() *httputil.ReverseProxy {
	r.proxyOnce.Do(func() {
		tr := &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true, // pass the app's encoding through
		}
		r.rp = &httputil.ReverseProxy{
			Rewrite:        r.rewrite,
			Transport:      tr,
			ModifyResponse: modifyResponse,
			ErrorHandler:   r.proxyError,
			ErrorLog:       slog.NewLogLogger(r.logger.Handler(), proxyLogLevel),
			FlushInterval:  -1, // server-sent events and streams reach the browser at once
		}
	})
	return r.rp
}

func (r *Runner) rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(ctxKey{}).(*target)
	stripDaemonCredentials(pr.Out, t.prefix != "", r.cfg.DaemonToken)
	if t.prefix != "" {
		pr.Out.URL.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(pr.Out.URL.Path, t.prefix), "/")
		if pr.Out.URL.RawPath != "" {
			pr.Out.URL.RawPath = "/" + strings.TrimPrefix(strings.TrimPrefix(pr.Out.URL.RawPath, t.prefix), "/")
		}
		pr.Out.Header.Set("X-Forwarded-Prefix", t.prefix)
	}
	pr.SetURL(t.route.target)
	// The app sees the name the user typed, as behind any reverse proxy
	// that keeps Host; X-Forwarded-Host says the same.
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	if t.scheme != "" {
		pr.Out.Header.Set("X-Forwarded-Proto", t.scheme)
	}
}

// DaemonCookiePrefix starts the names of appstored's own cookies: a
// request's cookies of that name never reach an app.
const DaemonCookiePrefix = "appstore"

// stripDaemonCredentials takes the daemon's own credentials off a request
// before it goes to an app, which is untrusted code: an Authorization
// header with a daemon or service token (on the path fallback any
// Authorization header, since that origin is the daemon's and so are the
// credentials a browser holds for it), the daemon's cookies
// (DaemonCookiePrefix), and an ?access_token= that is a daemon token. The
// app's own headers, cookies and parameters pass untouched.
func stripDaemonCredentials(out *http.Request, pathFallback bool, daemonToken func(string) bool) {
	isDaemon := func(v string) bool { return daemonToken != nil && daemonToken(v) }
	if a := out.Header.Get("Authorization"); a != "" {
		tok, bearer := strings.CutPrefix(a, "Bearer ")
		if pathFallback || bearer && isDaemon(tok) {
			out.Header.Del("Authorization")
		}
	}
	if cookies := out.Header.Values("Cookie"); len(cookies) > 0 {
		var kept []string
		for _, line := range cookies {
			for _, c := range strings.Split(line, ";") {
				name, _, _ := strings.Cut(strings.TrimSpace(c), "=")
				if c = strings.TrimSpace(c); c != "" && !strings.HasPrefix(strings.ToLower(name), DaemonCookiePrefix) {
					kept = append(kept, c)
				}
			}
		}
		out.Header.Del("Cookie")
		if len(kept) > 0 {
			out.Header.Set("Cookie", strings.Join(kept, "; "))
		}
	}
	if strings.Contains(out.URL.RawQuery, "access_token") {
		parts := strings.Split(out.URL.RawQuery, "&")
		kept := parts[:0]
		for _, p := range parts {
			k, v, _ := strings.Cut(p, "=")
			key, err1 := url.QueryUnescape(k)
			val, err2 := url.QueryUnescape(v)
			if err1 == nil && err2 == nil && key == "access_token" && isDaemon(val) {
				continue
			}
			kept = append(kept, p)
		}
		out.URL.RawQuery = strings.Join(kept, "&")
	}
}

// modifyResponse keeps the app's redirects and cookies inside the URL the
// user sees: on the path fallback, "/login" becomes "/apps/<slug>/login";
// a redirect to the container's own address becomes one to the preview. A
// cookie whose Domain covers other hosts (sibling apps under the preview
// domain, the daemon's names) is narrowed to the app's own host.
func modifyResponse(resp *http.Response) error {
	t, _ := resp.Request.Context().Value(ctxKey{}).(*target)
	if t == nil {
		return nil
	}
	// The handler set the preview's own (setPreviewHeaders); the app's
	// would be added next to them.
	resp.Header.Del("X-Content-Type-Options")
	resp.Header.Del("Referrer-Policy")
	if loc := resp.Header.Get("Location"); loc != "" {
		resp.Header.Set("Location", rewriteLocation(loc, t, resp.Request))
	}
	if cookies := resp.Header.Values("Set-Cookie"); len(cookies) > 0 {
		host := resp.Request.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		resp.Header.Del("Set-Cookie")
		for _, c := range cookies {
			c = narrowCookieDomain(c, host, t.prefix != "")
			if t.prefix != "" {
				c = rewriteCookiePath(c, t.prefix)
			}
			resp.Header.Add("Set-Cookie", c)
		}
	}
	if t.prefix == "" {
		return nil
	}
	// The path fallback shares its origin with the daemon's API: a
	// sandboxed document gets an opaque origin, so the app's scripts
	// cannot call the API in the user's name. Apps that need their own
	// origin (storage, cookies across pages) use <slug>.localhost.
	resp.Header.Set("Content-Security-Policy", "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads")
	return nil
}

func rewriteLocation(loc string, t *target, out *http.Request) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/"):
		// Absolute path on the app's host.
	case strings.EqualFold(u.Host, t.route.addr) || strings.EqualFold(u.Host, out.Host) && t.prefix != "":
		// The container's own address, or the daemon's without the prefix.
		u.Scheme, u.Host = "", ""
	default:
		return loc
	}
	if t.prefix != "" && u.Path != t.prefix && !strings.HasPrefix(u.Path, t.prefix+"/") {
		u.Path = t.prefix + u.Path
		u.RawPath = ""
	}
	return u.String()
}

// narrowCookieDomain drops a cookie's Domain attribute unless it names the
// app's own host exactly (on the path fallback, always): a Domain of the
// preview domain or a parent of it would send the cookie to every app and
// to the daemon's names under it; without the attribute the cookie is
// host-only, on the app's host.
func narrowCookieDomain(c, host string, pathFallback bool) string {
	parts := strings.Split(c, ";")
	kept := parts[:1]
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "domain") {
			d := strings.TrimPrefix(strings.TrimSpace(v), ".")
			if pathFallback || !strings.EqualFold(strings.TrimSuffix(d, "."), strings.TrimSuffix(host, ".")) {
				continue
			}
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, ";")
}

func rewriteCookiePath(c, prefix string) string {
	parts := strings.Split(c, ";")
	for i, p := range parts {
		// Browsers trim blanks around the attribute's name and value
		// ("Path = /" is Path=/), and "/apps/dash" must not admit
		// "/apps/dash-admin/": either would let one app set cookies for
		// the daemon's origin or for another app.
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if i > 0 && ok && strings.EqualFold(k, "path") && strings.HasPrefix(v, "/") && v != prefix && !strings.HasPrefix(v, prefix+"/") {
			parts[i] = " Path=" + prefix + v
		}
	}
	return strings.Join(parts, ";")
}

// proxyError answers when the app cannot be reached (it died between
// routing and the request, or it refuses connections).
func (r *Runner) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	t, _ := req.Context().Value(ctxKey{}).(*target)
	slug := ""
	if t != nil {
		slug = t.route.slug
	}
	r.logger.Debug("preview proxy error", "slug", slug, "err", err)
	writePage(w, req, http.StatusBadGateway, slug+" is not answering",
		fmt.Sprintf("The app %s did not answer: %v. If it stopped, `appstore ps --all` shows why.", slug, err))
}

// wake starts the app for a request and waits for it. Browsers wait up to
// BrowserWait and then get a page that retries; other clients wait up to
// the startup timeout. It returns nil when it answered the request itself.
func (r *Runner) wake(w http.ResponseWriter, req *http.Request, slug string) *route {
	if f, ok := r.recentWakeFailure(slug); ok {
		retry := time.Until(f.at.Add(r.cfg.WakeBackoff)).Round(time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Seconds()))))
		writePage(w, req, http.StatusBadGateway, slug+" failed to start",
			fmt.Sprintf("The app %s failed to start %s ago: %s\n\nIt is not started again for %v; `appstore launch %s` tries at once.",
				slug, time.Since(f.at).Round(time.Second), f.message, retry, slug))
		return nil
	}
	// A preview request carries no user: the launch is the daemon's.
	ctx := catalog.WithCause(req.Context(), catalog.CauseWake)
	if !r.mayWake(w, req, slug) {
		return nil
	}
	if wait := r.wakes.take(r.clientKey(req), time.Now()); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writePage(w, req, http.StatusTooManyRequests, slug+" is asleep",
			fmt.Sprintf("The app %s is asleep, and requests from your address have started too many apps lately: retry in %d s, or launch it with `appstore launch %s`.", slug, secs, slug))
		return nil
	}
	l, _, err := r.launch(ctx, slug, LaunchOptions{})
	if err != nil {
		var conflict *catalog.ConflictError
		switch {
		case IsQuota(err):
			writePage(w, req, http.StatusTooManyRequests, slug+" cannot start now", err.Error())
		case errors.Is(err, catalog.ErrNotFound):
			writePage(w, req, http.StatusNotFound, "no app "+slug, fmt.Sprintf("There is no app %q in this store. `appstore list` shows the apps.", slug))
		case errors.As(err, &conflict):
			writePage(w, req, http.StatusServiceUnavailable, slug+" cannot start", conflict.Message)
		case IsUnavailable(err):
			writePage(w, req, http.StatusServiceUnavailable, slug+" cannot start", err.Error())
		default:
			r.logger.Error("wake app", "slug", slug, "err", err)
			writePage(w, req, http.StatusInternalServerError, slug+" cannot start", err.Error())
		}
		return nil
	}
	wait := r.cfg.StartupTimeout + 5*time.Second
	browser := isBrowser(req)
	if browser {
		wait = r.cfg.BrowserWait
	}
	if l.Status == catalog.LaunchStarting {
		if l, err = r.Wait(ctx, l.ID, wait); err != nil {
			writePage(w, req, http.StatusInternalServerError, slug+" cannot start", err.Error())
			return nil
		}
	}
	switch l.Status {
	case catalog.LaunchRunning:
		if rt := r.routes.get(slug); rt != nil {
			return rt
		}
		if l.Runner == r.id {
			r.addRoute(l)
			if rt := r.routes.get(slug); rt != nil {
				return rt
			}
		}
		writePage(w, req, http.StatusBadGateway, slug+" runs elsewhere", fmt.Sprintf("Launch %d of %s runs on runner %s, which this appstored cannot reach.", l.ID, slug, l.Runner))
	case catalog.LaunchStarting:
		if ctx.Err() != nil {
			return nil
		}
		if browser {
			writeStarting(w, slug)
			return nil
		}
		writePage(w, req, http.StatusGatewayTimeout, slug+" is still starting", fmt.Sprintf("The app %s (launch %d) did not become ready in time; retry shortly.", slug, l.ID))
	case catalog.LaunchFailed:
		r.rememberWakeFailure(slug, l.ErrorMessage)
		writePage(w, req, http.StatusBadGateway, slug+" failed to start", fmt.Sprintf("The app %s (launch %d) failed to start: %s", slug, l.ID, l.ErrorMessage))
	default:
		writePage(w, req, http.StatusServiceUnavailable, slug+" stopped", fmt.Sprintf("The app %s (launch %d) was %s while starting: %s", slug, l.ID, l.Status, l.ErrorMessage))
	}
	return nil
}

// wakeReasons are the ends of a launch after which a preview request
// starts the app again: it was put to sleep (idle), or the daemon stopped
// it when it shut down. A launch stopped on request, expired, failed or
// never made stays stopped: requests (an open tab, a crawler) get a page
// that says so and how to launch it.
var wakeReasons = map[string]bool{"idle": true, "shutdown": true, "evicted": true}

// mayWake decides whether a request for an app that has no route starts
// it, and answers the request itself when not.
func (r *Runner) mayWake(w http.ResponseWriter, req *http.Request, slug string) bool {
	warm := false
	ls, err := r.st.ListLaunches(req.Context(), store.LaunchFilter{Repository: slug, Warm: &warm, Limit: 1})
	if err != nil {
		r.logger.Error("preview: read the app's last launch", "slug", slug, "err", err)
		writePage(w, req, http.StatusServiceUnavailable, slug+" cannot start", err.Error())
		return false
	}
	if len(ls) == 0 {
		if _, err := r.st.RepositoryIDBySlug(req.Context(), slug); errors.Is(err, catalog.ErrNotFound) {
			writePage(w, req, http.StatusNotFound, "no app "+slug, fmt.Sprintf("There is no app %q in this store. `appstore list` shows the apps.", slug))
			return false
		}
		r.writeStopped(w, req, slug, "is not running: it has not been launched yet")
		return false
	}
	l := ls[0]
	if !l.Status.Terminal() || wakeReasons[l.StopReason] {
		return true
	}
	var why string
	switch {
	case l.Status == catalog.LaunchFailed:
		why = fmt.Sprintf("is not running: its last launch (%d) failed: %s", l.ID, l.ErrorMessage)
	case l.Status == catalog.LaunchExpired:
		why = fmt.Sprintf("is stopped: the time to live of its last launch (%d) ran out", l.ID)
	case l.StopReason == "user":
		why = fmt.Sprintf("is stopped: its launch %d was stopped on request", l.ID)
	default:
		why = fmt.Sprintf("is stopped (launch %d: %s)", l.ID, textutil.FirstLine(l.ErrorMessage))
	}
	r.writeStopped(w, req, slug, why)
	return false
}

// writeStopped answers for an app that is not running and is not started
// by requests: what happened, and how to launch it (the CLI command and the
// web view's Launch button).
func (r *Runner) writeStopped(w http.ResponseWriter, req *http.Request, slug, why string) {
	page := strings.TrimSuffix(r.PathURL(slug), "/apps/"+slug+"/") + "/app/" + slug
	w.Header().Set("Cache-Control", "no-store")
	if !isBrowser(req) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s %s.\nStart it with `appstore launch %s`, or with the Launch button at %s\n", slug, why, slug, page)
		return
	}
	e := html.EscapeString
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s is stopped</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:10vh auto;padding:0 1em;color:#222}code{background:#f4f4f4;padding:.1em .3em}</style></head>
<body><main><h1>%s is not running</h1>
<p>%s %s.</p>
<p>Start it with <code>appstore launch %s</code>, or with the <a href="%s">Launch button on its page</a>.</p></main></body></html>
`, e(slug), e(slug), e(slug), e(why), e(slug), e(page))
}

func (r *Runner) recentWakeFailure(slug string) (wakeFailure, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.wakeFailures[slug]
	if !ok {
		return f, false
	}
	if time.Since(f.at) > r.cfg.WakeBackoff {
		delete(r.wakeFailures, slug)
		return f, false
	}
	return f, true
}

func (r *Runner) rememberWakeFailure(slug, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wakeFailures[slug] = wakeFailure{at: time.Now(), message: msg}
}

// forgetWakeFailure lets an explicit launch reset the backoff.
func (r *Runner) forgetWakeFailure(slug string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.wakeFailures, slug)
}

// isBrowser reports a page load of a browser, which can show a page that
// retries by itself instead of keeping the user waiting.
func isBrowser(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		strings.Contains(req.Header.Get("Accept"), "text/html") &&
		req.Header.Get("Upgrade") == ""
}

// writeStarting answers a browser with a page that reloads until the app
// answers.
func writeStarting(w http.ResponseWriter, slug string) {
	s := html.EscapeString(slug)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="1">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Starting %s…</title>
<style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#222}
.spin{display:inline-block;width:1em;height:1em;border:.15em solid #ccc;border-top-color:#555;border-radius:50%%;animation:s 1s linear infinite;vertical-align:-.15em}
@keyframes s{to{transform:rotate(360deg)}}</style></head>
<body><main><h1><span class="spin"></span> Starting %s…</h1>
<p>The app was asleep and is starting now. This page reloads by itself until it is ready.</p></main></body></html>
`, s, s)
}

// writePage answers with a short explanation: HTML for browsers, text
// otherwise.
func writePage(w http.ResponseWriter, req *http.Request, status int, title, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if isBrowser(req) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:50em;margin:10vh auto;padding:0 1em;color:#222}pre{white-space:pre-wrap;background:#f4f4f4;padding:1em}</style></head>
<body><h1>%s</h1><pre>%s</pre></body></html>
`, html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%s: %s\n", title, msg)
}
