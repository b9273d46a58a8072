package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/api"
)

func newServer(t *testing.T) (*Handler, *httptest.Server) {
	t.Helper()
	h, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The daemon's route table, which mounts the web view beside the API
	// (a pattern conflict would panic here).
	srv := httptest.NewServer((&api.Server{Web: h}).Handler())
	t.Cleanup(srv.Close)
	return h, srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPageAtTheSPARoutes(t *testing.T) {
	h, srv := newServer(t)
	for _, p := range []string{"/", "/?q=lang:go", "/add", "/app/dash", "/app/my-app-2"} {
		resp, body := get(t, srv.URL+p)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d, want 200", p, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache (the page names the current asset version)", p, cc)
		}
		if !strings.Contains(body, "/static/"+h.Version()+"/js/main.js") {
			t.Errorf("GET %s: the page does not load the versioned main.js:\n%s", p, body)
		}
		if strings.Contains(body, versionPlaceholder) {
			t.Errorf("GET %s: placeholder left in the page", p)
		}
	}
	// Not pages: the preview fallback's path, invalid slugs, other paths.
	for _, p := range []string{"/app/", "/app/Dash", "/app/-x", "/app/a/b", "/apps/dash/", "/index.html", "/nope"} {
		if resp, _ := get(t, srv.URL+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	// The API keeps its own 404s.
	if _, body := get(t, srv.URL+"/api/v1/nothing"); !strings.Contains(body, "no API route") {
		t.Errorf("/api/ answered by the web view: %q", body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h, srv := newServer(t)
	for _, p := range []string{"/", "/static/" + h.Version() + "/js/main.js", "/static/style.css"} {
		resp, _ := get(t, srv.URL+p)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
			"frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want+";") && !strings.HasSuffix(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP allows inline code or eval: %q", p, csp)
		}
		host := strings.TrimPrefix(srv.URL, "http://")
		if !strings.Contains(csp, "connect-src 'self' ws://"+host+" wss://"+host) {
			t.Errorf("GET %s: CSP %q does not allow the event stream's WebSocket to %s", p, csp, host)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", p, k, got, v)
			}
		}
	}
	// A Host header that is not a plain host:port stays out of the policy.
	if csp := CSP(`evil.example; script-src *`); strings.Contains(csp, "evil") {
		t.Errorf("CSP took a malformed host: %q", csp)
	}
	if csp := CSP("[::1]:7070"); !strings.Contains(csp, "ws://[::1]:7070") {
		t.Errorf("CSP for an IPv6 host: %q", csp)
	}
}

func TestStaticAssets(t *testing.T) {
	h, srv := newServer(t)
	want := map[string]string{
		"js/main.js":  "text/javascript; charset=utf-8",
		"js/api.js":   "text/javascript; charset=utf-8",
		"style.css":   "text/css; charset=utf-8",
		"favicon.svg": "image/svg+xml",
	}
	for name, ct := range want {
		resp, body := get(t, srv.URL+"/static/"+h.Version()+"/"+name)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Errorf("%s: %d %q, want 200 %q", name, resp.StatusCode, resp.Header.Get("Content-Type"), ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s under the version: Cache-Control %q, want immutable", name, cc)
		}
		if body == "" {
			t.Errorf("%s: empty", name)
		}
		// Unversioned: the same bytes, revalidated each time.
		resp2, body2 := get(t, srv.URL+"/static/"+name)
		if resp2.StatusCode != 200 || body2 != body || resp2.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("/static/%s: %d, Cache-Control %q, same body %v", name, resp2.StatusCode, resp2.Header.Get("Cache-Control"), body2 == body)
		}
		etag := resp2.Header.Get("ETag")
		if etag == "" {
			t.Errorf("/static/%s: no ETag", name)
			continue
		}
		if resp3, body3 := get(t, srv.URL+"/static/"+name, "If-None-Match", etag); resp3.StatusCode != http.StatusNotModified || body3 != "" {
			t.Errorf("/static/%s with If-None-Match: %d, want 304", name, resp3.StatusCode)
		}
	}
	for _, p := range []string{
		"/static/nope.js",
		"/static/" + h.Version() + "/nope.js",
		"/static/000000000000/js/main.js", // another daemon's version
		"/static/index.html",              // the page is served at its routes only
		"/static/",
		"/static/js/",
	} {
		resp, body := get(t, srv.URL+p)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
		if resp.StatusCode == http.StatusNotFound && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("GET %s: 404 as %q", p, resp.Header.Get("Content-Type"))
		}
		_ = body
	}
	if _, body := get(t, srv.URL+"/static/000000000000/js/main.js"); !strings.Contains(body, "reload the page") {
		t.Errorf("stale asset version: %q, want advice to reload", body)
	}
	// HEAD works like GET without a body.
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/static/style.css", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want["style.css"] {
		t.Errorf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

var (
	importRE    = regexp.MustCompile(`(?m)^import\s[^'"]*['"]([^'"]+)['"]`)
	srcHrefRE   = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	scriptRE    = regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)
	inlineOnRE  = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	innerHTMLRE = regexp.MustCompile(`\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(`)
)

// The page obeys its own policy: no inline script or handler, every asset
// it names exists, every module import resolves, and no code turns text
// into markup.
func TestAssetsAreSelfContained(t *testing.T) {
	h, srv := newServer(t)
	_, page := get(t, srv.URL+"/")
	for _, m := range scriptRE.FindAllStringSubmatch(page, -1) {
		if strings.TrimSpace(m[2]) != "" || !strings.Contains(m[1], "src=") {
			t.Errorf("inline script in the page: %s", m[0])
		}
	}
	if inlineOnRE.MatchString(page) || strings.Contains(page, "style=") {
		t.Errorf("inline handler or style attribute in the page")
	}
	for _, m := range srcHrefRE.FindAllStringSubmatch(page, -1) {
		ref := m[1]
		if !strings.HasPrefix(ref, "/static/") {
			continue
		}
		if resp, _ := get(t, srv.URL+ref); resp.StatusCode != 200 {
			t.Errorf("the page names %s: %d", ref, resp.StatusCode)
		}
	}
	if !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, `name="viewport"`) {
		t.Errorf("page without a language or a viewport")
	}
	err := fs.WalkDir(embedded, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		src, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		if innerHTMLRE.Match(src) {
			t.Errorf("%s turns strings into markup or code (%s): build elements with dom.js", p, innerHTMLRE.Find(src))
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasPrefix(m[1], "./") {
				t.Errorf("%s imports %q: only relative imports of embedded modules work offline", p, m[1])
				continue
			}
			target := strings.TrimPrefix(path.Join(path.Dir(p), m[1]), "static/")
			if _, ok := h.assets[target]; !ok {
				t.Errorf("%s imports %s, which is not embedded", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
