// Package web serves appstored's web view: a search-first page, app cards
// with live status, an app page with the live build log, and a form to add
// apps. It is plain HTML, CSS and JavaScript modules embedded in the binary
// (no CDN, no build step), talking to the same REST and WebSocket API as
// the CLI and TUI.
//
// Routes (registered on the API mux, so the API's Host/Origin guard
// applies to them too):
//
//	GET /                       the search page (?q= holds the query)
//	GET /app/{slug}             an app's page
//	GET /add                    the "Add app" form
//	GET /static/{version}/…     assets, cached for a year (the version is a
//	                            hash of every asset, so a new binary gets
//	                            new URLs)
//	GET /static/…               the same assets, revalidated on every use
//
// Not /apps/…: that is the preview proxy's path fallback (daemon/runner).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/catalog"
)

//go:embed static
var embedded embed.FS

// versionPlaceholder is replaced in index.html by the assets' version.
const versionPlaceholder = "{{VERSION}}"

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the web view. Create it with New.
type Handler struct {
	logger  *slog.Logger
	version string
	assets  map[string]*asset // by path below static/, e.g. "js/app.js"
	index   *asset
	// modTime is when the handler was made: http.ServeContent needs one,
	// and embedded files have none.
	modTime time.Time
}

// New reads the embedded assets. logger receives requests for assets that
// do not exist (a stale page, a typo in a link).
func New(logger *slog.Logger) (*Handler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{logger: logger, assets: map[string]*asset{}, modTime: time.Now().UTC().Truncate(time.Second)}
	var names []string
	err := fs.WalkDir(embedded, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web view assets: %w", err)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, p := range names {
		body, err := embedded.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("web view assets: %w", err)
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil, fmt.Errorf("web view asset %s: no content type for %q; add it to contentTypes", p, path.Ext(p))
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", p, len(body))
		sum.Write(body)
		name := strings.TrimPrefix(p, "static/")
		h.assets[name] = &asset{body: body, contentType: ct, etag: etagOf(body)}
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
	idx, ok := h.assets["index.html"]
	if !ok {
		return nil, fmt.Errorf("web view assets: static/index.html is missing")
	}
	// The page itself is not an asset: it is served at the SPA routes only,
	// with the current version in its asset URLs.
	delete(h.assets, "index.html")
	body := bytes.ReplaceAll(idx.body, []byte(versionPlaceholder), []byte(h.version))
	h.index = &asset{body: body, contentType: idx.contentType, etag: etagOf(body)}
	return h, nil
}

// Version is the hash of the embedded assets that versioned URLs carry.
func (h *Handler) Version() string { return h.version }

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

func etagOf(b []byte) string {
	s := sha256.Sum256(b)
	return `"` + hex.EncodeToString(s[:8]) + `"`
}

// ServeAppPage serves GET /app/{slug}: the page, for a valid slug.
func (h *Handler) ServeAppPage(w http.ResponseWriter, r *http.Request) {
	if !catalog.ValidSlug(r.PathValue("slug")) {
		h.notFound(w, r, "no app page "+r.URL.Path+": app slugs are lower-case letters, digits and dashes")
		return
	}
	h.ServePage(w, r)
}

// ServePage serves index.html (GET / and /add): the script reads location
// and shows the view.
func (h *Handler) ServePage(w http.ResponseWriter, r *http.Request) {
	h.securityHeaders(w, r)
	// Revalidate every time (a 304 costs nothing on a local daemon), so an
	// upgraded daemon's page, and with it the new asset URLs, is seen at once.
	w.Header().Set("Cache-Control", "no-cache")
	h.serve(w, r, h.index)
}

// ServeStatic serves GET /static/…: the embedded assets, immutable under
// /static/<version>/.
func (h *Handler) ServeStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	immutable := false
	if v, rest, ok := strings.Cut(name, "/"); ok && versionRE.MatchString(v) {
		if v != h.version {
			// A page of an older daemon: its assets are gone.
			h.notFound(w, r, "asset version "+v+" is not this daemon's ("+h.version+"): reload the page")
			return
		}
		name, immutable = rest, true
	}
	a, ok := h.assets[name]
	if !ok || name == "" || strings.Contains(name, "..") {
		h.notFound(w, r, "no web view asset "+r.URL.Path)
		return
	}
	h.securityHeaders(w, r)
	if immutable {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	h.serve(w, r, a)
}

var versionRE = regexp.MustCompile(`^[0-9a-f]{12}$`)

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", h.modTime, bytes.NewReader(a.body))
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	h.logger.Debug("web view: not found", "path", r.URL.Path)
	h.securityHeaders(w, r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = fmt.Fprintln(w, msg)
}

// hostRE is what a Host header may look like to be put into the policy.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// CSP returns the Content-Security-Policy for a page served at host: only
// this daemon's own scripts, styles and images (no inline code, no
// eval), fetches and the event stream's WebSocket to the same host, no
// framing, no plugins.
func CSP(host string) string {
	connect := "'self'"
	// CSP3 lets 'self' match ws: and wss: of the same host, but older
	// browsers do not: name them, when the Host header is a plain host.
	if hostRE.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src " + connect,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

func (h *Handler) securityHeaders(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP(r.Host))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
}
