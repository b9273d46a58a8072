package runner_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/catalog"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

const (
	previewDaemonToken  = "daemon-token-0123456789"
	previewServiceToken = "service-token-0123456789"
)

// TestPreviewsLeakNothing sends requests carrying the daemon's credentials
// to an app through the real proxy, and reads what the app received (its
// /headers echoes the request): the daemon's Authorization header, its
// cookies and its ?access_token= are gone, the app's own pass; cookies the
// app sets for a domain that covers sibling apps come back host-only; every
// preview answer, the app's and the proxy's own, carries nosniff and a
// Referrer-Policy that keeps the preview URL from other sites.
func TestPreviewsLeakNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{DaemonToken: func(v string) bool { return v == previewDaemonToken || v == previewServiceToken }})
	h.app("dash", 0, runnertest.ImageOptions{})
	if l := h.launch("dash", appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
	}
	seen := func(url string, header ...string) map[string]string {
		t.Helper()
		resp, body := h.get(url, header...)
		var hdr map[string]string
		if err := json.Unmarshal([]byte(body), &hdr); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %q %v", url, resp.StatusCode, body, err)
		}
		return hdr
	}

	hdr := seen(h.previewURL("dash", "/headers?access_token="+previewDaemonToken+"&keep=1"),
		"Authorization", "Bearer "+previewDaemonToken, "Cookie", "appstore_token="+previewDaemonToken+"; app=1")
	if hdr["Authorization"] != "" || hdr["Cookie"] != "app=1" || hdr["Path"] != "/headers?keep=1" {
		t.Errorf("the app received the daemon's credentials: Authorization %q, Cookie %q, path %q", hdr["Authorization"], hdr["Cookie"], hdr["Path"])
	}
	hdr = seen(h.previewURL("dash", "/headers?access_token=x"), "Authorization", "Bearer "+previewServiceToken)
	if hdr["Authorization"] != "" {
		t.Errorf("the app received the service token: %q", hdr["Authorization"])
	}
	// The app's own credentials are its business.
	hdr = seen(h.previewURL("dash", "/headers?access_token=apps-own"), "Authorization", "Bearer apps-own", "Cookie", "sid=2")
	if hdr["Authorization"] != "Bearer apps-own" || hdr["Cookie"] != "sid=2" || hdr["Path"] != "/headers?access_token=apps-own" {
		t.Errorf("the app's own credentials did not pass: %v", hdr)
	}
	// On the path fallback the origin is the daemon's: any credentials a
	// browser holds for it are the daemon's.
	hdr = seen(h.srv.URL+"/apps/dash/headers", "Authorization", "Basic dXNlcjpwYXNzd29yZA==")
	if hdr["Authorization"] != "" {
		t.Errorf("the path fallback passed the origin's credentials: %q", hdr["Authorization"])
	}

	for _, tc := range []struct {
		url, domain string
		keep        bool
	}{
		{h.previewURL("dash", "/cookie?domain=localhost"), "localhost", false},
		{h.previewURL("dash", "/cookie?domain=.localhost"), ".localhost", false},
		{h.previewURL("dash", "/cookie?domain=dash.localhost"), "dash.localhost", true},
		{h.srv.URL + "/apps/dash/cookie?domain=127.0.0.1", "127.0.0.1", false},
	} {
		resp, _ := h.get(tc.url)
		cookies := resp.Header.Values("Set-Cookie")
		if len(cookies) != 2 {
			t.Fatalf("%s: cookies %q", tc.url, cookies)
		}
		if got := strings.Contains(strings.ToLower(cookies[0]), "domain="); got != tc.keep {
			t.Errorf("%s: the app's cookie for Domain=%s came back as %q", tc.url, tc.domain, cookies[0])
		}
		if !strings.HasPrefix(cookies[1], "own=1") {
			t.Errorf("%s: the app's host-only cookie came back as %q", tc.url, cookies[1])
		}
		checkPreviewHeaders(t, tc.url, resp)
	}
	// The proxy's own answers carry them too.
	for _, url := range []string{h.previewURL("nope", "/"), h.srv.URL + "/apps/dash"} {
		resp, _ := h.get(url, "Accept", "text/html")
		checkPreviewHeaders(t, url, resp)
	}
}

func checkPreviewHeaders(t *testing.T, url string, resp *http.Response) {
	t.Helper()
	if v := resp.Header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff once", url, v)
	}
	if v := resp.Header.Values("Referrer-Policy"); len(v) != 1 || v[0] != "same-origin" {
		t.Errorf("%s: Referrer-Policy %q, want same-origin once", url, v)
	}
}

// hostile is what a hostile app writes to its terminal: a window title, a
// clipboard write (OSC 52), a link whose text and target differ (OSC 8),
// NUL and bytes that are not UTF-8.
const hostile = "\x1b]0;pwned title\x07\x1b]52;c;cm0gLXJmIH4=\x07\x1b]8;;https://evil.example/\x1b\\https://good.example/\x1b]8;;\x1b\\ \x1b[31mred\x1b[0m\x00\xff\xfe end-of-hostile\n"

func clean(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsAny(s, "\x00\x1b\x07") && !strings.Contains(s, "evil.example")
}

// TestHostileAppOutputIsCleaned: what an app prints reaches `appstore logs`
// and a failed launch's error message without terminal escapes, control
// characters or invalid UTF-8 (as build logs do), and the failure is
// recorded however the output was made.
func TestHostileAppOutputIsCleaned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("noisy", 0, runnertest.ImageOptions{})
	l := h.launch("noisy", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
	}
	if resp, body := h.get(h.previewURL("noisy", "/print?b64="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(hostile))))); resp.StatusCode != 200 {
		t.Fatalf("print: %d %q", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	found := false
	for line, err := range h.api.LaunchLogs(ctx, l.ID, appclient.LaunchLogsOptions{Follow: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if !clean(line.Line) {
			t.Errorf("log line %q is not clean", line.Line)
		}
		if strings.Contains(line.Line, "end-of-hostile") {
			// The engine's log driver already replaced each byte that is
			// not UTF-8 with U+FFFD; the escapes and NUL were ours to take.
			if !strings.HasPrefix(line.Line, "https://good.example/ red") || !strings.HasSuffix(line.Line, "\uFFFD end-of-hostile") {
				t.Errorf("the hostile line reads %q, want the link's text, the words and a replacement character", line.Line)
			}
			found = true
			break
		}
	}
	if !found {
		t.Error("the printed line never arrived")
	}

	h.app("hostile", 0, runnertest.ImageOptions{Args: []string{"-mode", "hostile-crash"}})
	l = h.launch("hostile", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchFailed || l.ExitCode == nil || *l.ExitCode != 3 {
		t.Fatalf("hostile crash: %s exit %v: %q", l.Status, l.ExitCode, l.ErrorMessage)
	}
	if !clean(l.ErrorMessage) || !strings.Contains(l.ErrorMessage, "fatal: boom") || !strings.Contains(l.ErrorMessage, "https://good.example/") {
		t.Errorf("error message %q: want the output, cleaned", l.ErrorMessage)
	}
	// No route is left to the dead container: the preview says why.
	resp, body := h.get(h.previewURL("hostile", "/"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "fatal: boom") || !clean(body) {
		t.Errorf("preview of the failed app: %d %q", resp.StatusCode, body)
	}
}
