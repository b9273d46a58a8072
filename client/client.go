// Package client is the typed Go client of the appstored API. The CLI, the
// TUI and the end-to-end tests reach the daemon only through it.
//
// The zero Client talks to http://127.0.0.1:7070, the daemon's default
// address:
//
//	var c client.Client
//	repo, err := c.Repository(ctx, "dash")
//	if client.IsNotFound(err) { … }
//
// Failures are typed: an answer of the daemon that is not 2xx is an
// *APIError (errors.Is maps it to catalog.ErrNotFound, ErrConflict and
// ErrInvalid), and a daemon that cannot be reached is an *UnreachableError.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultURL is where appstored listens unless told otherwise.
const DefaultURL = "http://127.0.0.1:7070"

// apiPrefix is the path prefix of the versioned API.
const apiPrefix = "/api/v1"

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// Client is a client of one appstored. Its zero value is ready to use and
// talks to DefaultURL. A Client is safe for concurrent use; do not change its
// fields while requests are in flight.
type Client struct {
	// BaseURL is the daemon's root URL, e.g. "http://127.0.0.1:7070" or
	// "https://apps.example.com/appstore". Empty means DefaultURL. A URL
	// without a scheme ("localhost:7070") is taken as http.
	BaseURL string
	// HTTPClient sends the requests. Nil means a client that gives up
	// connecting after a few seconds but puts no limit on a whole request,
	// so that streams (build logs, events) can stay open: bound requests
	// with their context.
	HTTPClient *http.Client
	// Token, when set, is sent as "Authorization: Bearer <token>". The
	// daemon requires it on mutating calls when it is not bound to loopback.
	Token string
	// UserAgent is sent as User-Agent; empty means "appstore-client".
	UserAgent string
}

// defaultHTTPClient is used when Client.HTTPClient is nil. It has no overall
// timeout (streams are long-lived) but fails fast when nothing listens.
var defaultHTTPClient = &http.Client{Transport: defaultTransport()}

func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = 0
	return t
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

// URL returns the daemon root URL the client talks to, as used in messages.
func (c *Client) URL() string {
	u, err := ParseBaseURL(c.BaseURL)
	if err != nil {
		return c.BaseURL
	}
	return u.String()
}

// ParseBaseURL parses a daemon root URL the way Client does: empty means
// DefaultURL, a missing scheme means http, only http and https are accepted,
// and a trailing slash is dropped.
func ParseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultURL
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's own words ("missing ']' in host") name the part;
		// the sentence says what is wanted.
		var ue *url.Error
		why := err
		if errors.As(err, &ue) {
			why = ue.Err
		}
		return nil, fmt.Errorf("server URL %q is not a valid URL (%v): want e.g. %s or https://apps.example.com", raw, why, DefaultURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("server URL %q: port %q is not a port number (1-65535)", raw, p)
		}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: scheme %q is not supported, use http:// or https://", raw, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q has no host, want e.g. %s", raw, DefaultURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q: remove the query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// NewRequest builds a request for path (e.g. "/api/v1/repositories",
// already escaped) under the base URL, with the client's headers. body, when
// not nil, is sent as JSON. It is exported so that callers can reach
// endpoints this package does not wrap yet; most callers use the methods.
func (c *Client) NewRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	base, err := ParseBaseURL(c.BaseURL)
	if err != nil {
		return nil, err
	}
	// path is already escaped (callers escape slugs with apiPath), so the
	// URL is built as text rather than through url.URL.Path.
	target := base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("build %s %s request: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "appstore-client"
	}
	req.Header.Set("User-Agent", ua)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// Do sends req and returns the response when its status is 2xx. Any other
// status is returned as an *APIError (the body is read and closed); a daemon
// that cannot be reached as an *UnreachableError. The caller closes the body
// of a returned response. Streaming helpers build on Do.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			// The caller gave up (Ctrl-C, deadline): that is not the
			// daemon's fault, so do not blame its reachability.
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ctxErr)
		}
		ue := &UnreachableError{URL: c.URL(), Err: unwrapURLError(err)}
		if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
			plain := strings.Replace(c.URL(), "https://", "http://", 1)
			ue.Hint = fmt.Sprintf("appstored at %s answers plain HTTP, not HTTPS: use %s (APPSTORE_URL / --server), or put a TLS proxy in front of it", c.URL(), plain)
		}
		return nil, ue
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return nil, newAPIError(resp.StatusCode, body)
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// method and full URL that the UnreachableError already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// doJSON sends a request and decodes a 2xx JSON answer into a new T. With
// out == nil semantics (T = struct{}) the body is discarded. Every method of
// the client is one call of it.
func doJSON[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (*T, error) {
	req, err := c.NewRequest(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := new(T)
	if _, discard := any(out).(*struct{}); discard || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return out, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("%s %s: decode answer of %s: %w", method, path, c.URL(), err)
	}
	// The decoder stops at the end of the value, before the newline the
	// daemon ends it with; a body not read to EOF closes the connection
	// instead of returning it to the pool (a new TCP connection, some
	// 0.3 ms, for every call).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return out, nil
}

// apiPath joins the API prefix and path segments, escaping each segment.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString(apiPrefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}
