package reliability

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// Hostile input through the real API of an in-process appstored: each
// refused with a status and a message that says what was wrong and what to
// do, and nothing stored half-way. The parsers and policies behind these
// answers have their own unit tests (see docs/reliability.md for the map);
// these prove the refusal reaches the person who sent the input.

const (
	hostileToken  = "s3cret-hostile-token"
	hostileSecret = "hook-secret-0123456789"
)

// refused checks that err is the daemon's answer status with code, and that
// its message mentions every one of mentions.
func refused(t *testing.T, what string, err error, status int, code string, mentions ...string) {
	t.Helper()
	ae := apiError(err)
	if ae == nil {
		t.Errorf("%s: %v, want %d %s", what, err, status, code)
		return
	}
	if ae.StatusCode != status || ae.Code != code {
		t.Errorf("%s: %d %s %q, want %d %s", what, ae.StatusCode, ae.Code, ae.Message, status, code)
	}
	for _, m := range mentions {
		if !strings.Contains(ae.Message, m) {
			t.Errorf("%s: message %q does not mention %q", what, ae.Message, m)
		}
	}
}

// TestHostileGitURLs registers URLs aimed at the daemon's own network, at
// local files, or at Git's option parser, on a daemon exposed beyond
// loopback (where the policy is strict): each is refused with 400 naming
// git_url and the reason, and nothing is registered.
func TestHostileGitURLs(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{Addr: "0.0.0.0:0", Token: hostileToken, Roles: []string{daemon.RoleAPI}})
	c := &client.Client{BaseURL: d.URL, Token: hostileToken}
	ctx := context.Background()
	for _, tc := range []struct{ url, mention string }{
		{"http://127.0.0.1:8080/acme/app.git", "loopback"},
		{"https://[::1]/acme/app.git", "loopback"},
		{"https://localhost/acme/app.git", "loopback"},
		{"http://169.254.169.254/latest/meta-data.git", "link-local"},
		{"https://[fe80::1]/acme/app.git", "link-local"},
		{"https://10.0.0.5/acme/app.git", "private"},
		{"https://192.168.1.20/acme/app.git", "private"},
		{"https://172.16.0.1/acme/app.git", "private"},
		{"https://[fd00::5]/acme/app.git", "private"},
		{"https://0.0.0.0/acme/app.git", "unspecified"},
		{"git://127.0.0.1/acme/app.git", "loopback"},
		{"ssh://git@10.1.2.3/acme/app.git", "private"},
		{"file:///srv/git/app.git", "loopback"},
		{"/srv/git/app", "loopback"},
		{"-uhttps://example.com/acme/app.git", "would be read as an option"},
		{"--upload-pack=touch /tmp/pwned", "would be read as an option"},
		{"ssh://-oProxyCommand=touch/acme/app.git", "host starts with '-'"},
		{"https://example.com/-u/app.git", "path starts with '-'"},
		{"git@-oProxyCommand=x:acme/app.git", "not a URL"},
		{"https://example.com/acme/app.git --upload-pack=touch", "space"},
		{"ext::sh -c touch% /tmp/pwned", "space"},
		{"https://user:password@example.com/acme/app.git", "without credentials"},
	} {
		_, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: tc.url})
		ae := apiError(err)
		if ae == nil || ae.StatusCode != http.StatusBadRequest || ae.Code != client.CodeInvalid || ae.Field != "git_url" || !strings.Contains(ae.Message, tc.mention) {
			t.Errorf("%q: %v (%+v), want 400 invalid on git_url mentioning %q", tc.url, err, ae, tc.mention)
		} else {
			t.Logf("%q → %s", tc.url, ae.Message)
		}
	}
	list, err := c.Repositories(ctx, client.ListRepositoriesOptions{})
	if err != nil || len(list.Repositories) != 0 {
		t.Errorf("after the refusals: %+v %v, want nothing registered", list, err)
	}
}

// TestHostileRedirect serves a Git URL the policy admits (a private
// address, admitted with --git-allow-private) that redirects to one it
// does not (the cloud metadata address): the clone refuses the redirect
// and the repository fails with that reason in its timeline.
func TestHostileRedirect(t *testing.T) {
	gitserver.RequireGit(t)
	var hits atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data.git"+strings.TrimPrefix(r.URL.RequestURI(), "/app.git"), http.StatusFound)
	}))
	t.Cleanup(front.Close)
	d := daemontest.Start(t, daemon.Config{Addr: "0.0.0.0:0", Token: hostileToken, GitAllowPrivate: true,
		Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})
	c := &client.Client{BaseURL: d.URL, Token: hostileToken}
	r, err := c.AddRepository(context.Background(), client.AddRepositoryRequest{GitURL: front.URL + "/app.git"})
	if err != nil {
		t.Fatal(err)
	}
	r = ingested(t, c, r.Slug)
	if r.IngestStatus != catalog.IngestFailed || !strings.Contains(r.IngestError, "redirected to a host that is refused") || !strings.Contains(r.IngestError, "169.254.169.254") {
		t.Errorf("redirect to the metadata address: %s %q", r.IngestStatus, r.IngestError)
	}
	if hits.Load() == 0 {
		t.Error("the front was never asked")
	}
}

// ingested waits until the repository's ingestion ended (ready or failed).
func ingested(t *testing.T, c *client.Client, slug string) *client.Repository {
	t.Helper()
	var r *client.Repository
	eventually(t, time.Minute, slug+" ingested", func() (bool, string) {
		var err error
		r, err = c.Repository(context.Background(), slug)
		if err != nil {
			return false, err.Error()
		}
		return r.IngestStatus == catalog.IngestReady || r.IngestStatus == catalog.IngestFailed, string(r.IngestStatus)
	})
	return r
}

// TestHostileRepositories registers repositories whose content tries to
// leave the checkout (symbolic links, ".." in declared paths), is too big,
// or is malformed: each fails ingestion with a message naming the file and
// the problem (or, for optional files, is skipped with a warning), and
// nothing of the host's files ends up in the catalog.
func TestHostileRepositories(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	d := daemontest.Start(t, daemon.Config{MaxCloneBytes: 1 << 20, Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})
	c := &client.Client{BaseURL: d.URL}
	ctx := context.Background()
	df := gitserver.File{Name: "Dockerfile", Content: "FROM scratch\nEXPOSE 8080\n"}
	link := func(name, target string) gitserver.File {
		return gitserver.File{Name: name, Content: target, Mode: fs.ModeSymlink}
	}
	file := func(name, content string) gitserver.File { return gitserver.File{Name: name, Content: content} }
	big := strings.Repeat("x: y\n", 20000) // 100 KB
	for _, tc := range []struct {
		name  string
		files []gitserver.File
		// fail: the ingestion fails with these words; else it is ready
		// and warn is among its metadata's warnings.
		fail, warn []string
	}{
		{"dockerfile-link", []gitserver.File{link("Dockerfile", "/etc/passwd")}, []string{"Dockerfile", "outside the repository"}, nil},
		{"dockerfile-dotdot", []gitserver.File{df, file("tags.yaml", "dockerfile: ../../../../etc/passwd\n")}, []string{"leaves the repository"}, nil},
		{"context-dotdot", []gitserver.File{df, file("tags.yaml", "context: ../..\n")}, []string{"leaves the repository", "tags.yaml"}, nil},
		{"context-link", []gitserver.File{df, link("ctx", "/etc"), file("tags.yaml", "context: ctx\n")}, []string{"outside the repository"}, nil},
		{"tags-link", []gitserver.File{df, link("tags.yaml", "../../../../../../etc/hostname")}, []string{"tags.yaml", "outside the repository"}, nil},
		{"readme-link", []gitserver.File{df, link("README.md", "/etc/passwd")}, nil, []string{"README.md", "symbolic link"}},
		{"tags-huge", []gitserver.File{df, file("tags.yaml", big)}, []string{"tags.yaml", "larger than"}, nil},
		{"tags-malformed", []gitserver.File{df, file("tags.yaml", "name: x\ntags:\n  a: [b\n")}, []string{"tags.yaml", "malformed YAML"}, nil},
		{"frontmatter-malformed", []gitserver.File{df, file("README.md", "---\ntitle: [unclosed\nsdk: docker\n---\n# hi\n")}, nil, []string{"README.md"}},
		{"package-malformed", []gitserver.File{df, file("package.json", "{\"name\": \"x\",")}, nil, []string{"package.json"}},
		{"dockerfile-malformed", []gitserver.File{file("Dockerfile", "FROM scratch\nFORM alpine\n")}, []string{"Dockerfile:2", `unknown instruction "FORM"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := gitserver.NewRepoFiles(t, tc.name, tc.files)
			r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: repo.FileURL()})
			if err != nil {
				t.Fatal(err)
			}
			r = ingested(t, c, r.Slug)
			t.Logf("%s: %s %q", tc.name, r.IngestStatus, r.IngestError)
			if tc.fail != nil {
				if r.IngestStatus != catalog.IngestFailed {
					t.Fatalf("%s, want failed", r.IngestStatus)
				}
				for _, m := range tc.fail {
					if !strings.Contains(r.IngestError, m) {
						t.Errorf("error %q does not mention %q", r.IngestError, m)
					}
				}
				return
			}
			if r.IngestStatus != catalog.IngestReady {
				t.Fatalf("%s %q, want ready (the file is optional)", r.IngestStatus, r.IngestError)
			}
			var meta struct{ Warnings []string }
			_ = json.Unmarshal(r.Metadata, &meta)
			joined := strings.Join(meta.Warnings, "\n")
			for _, m := range tc.warn {
				if !strings.Contains(joined, m) {
					t.Errorf("warnings %q do not mention %q", meta.Warnings, m)
				}
			}
			if b, _ := json.Marshal(r); bytes.Contains(b, []byte("root:x:0:0")) {
				t.Errorf("the host's /etc/passwd reached the catalog: %s", b)
			}
		})
	}

	t.Run("repository-too-large", func(t *testing.T) {
		repo := gitserver.NewRepoWithSize(t, "huge", 4, 4<<20, 7) // 4 MiB that does not compress
		r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: repo.FileURL()})
		if err != nil {
			t.Fatal(err)
		}
		r = ingested(t, c, r.Slug)
		if r.IngestStatus != catalog.IngestFailed || !strings.Contains(r.IngestError, "--max-clone-size") {
			t.Errorf("%s %q, want failed naming --max-clone-size", r.IngestStatus, r.IngestError)
		}
	})

	t.Run("log-too-large", func(t *testing.T) {
		d := daemontest.Start(t, daemon.Config{BuildLogLimit: 4096})
		c := &client.Client{BaseURL: d.URL}
		files := appFiles(t, "chatty", "")
		files[1].Content = strings.Replace(files[1].Content, "ENV ", "RUN [\"/app\", \"spam\", \"2000\"]\nENV ", 1)
		repo := gitserver.NewRepoFiles(t, "chatty", files)
		r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: repo.FileURL()})
		if err != nil {
			t.Fatal(err)
		}
		b := buildEnded(t, c, latestBuild(t, c, r.Slug).ID, 2*time.Minute)
		var last string
		for l, err := range c.BuildLogs(ctx, b.ID, client.BuildLogOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			last = l.Line
		}
		if b.Status != "succeeded" || !b.LogTruncated || b.LogBytes > 4096 {
			t.Errorf("build %s, log %d bytes, truncated %v; want succeeded with at most 4096 bytes kept", b.Status, b.LogBytes, b.LogTruncated)
		}
		if !strings.Contains(last, "truncated") {
			t.Errorf("last line %q, want the truncation marker", last)
		}
	})
}

// TestHostileRequests sends what a hostile page or client would: foreign
// Host and Origin headers (DNS rebinding, cross-site requests), missing and
// wrong tokens, forged webhook signatures, oversized and malformed bodies.
func TestHostileRequests(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{Token: hostileToken, WebhookSecret: hostileSecret, ServiceToken: "svc-token-0123456789",
		Roles: []string{daemon.RoleAPI}})
	do := func(method, path, body string, header ...string) (int, client.ErrorDetail, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, d.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Host" {
				req.Host = header[i+1]
				continue
			}
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e client.ErrorBody
		_ = json.Unmarshal(b, &e)
		return resp.StatusCode, e.Error, resp.Header
	}
	auth := []string{"Authorization", "Bearer " + hostileToken, "Content-Type", "application/json"}
	reg := `{"git_url":"https://github.com/acme/app.git"}`
	check := func(what string, code int, e client.ErrorDetail, wantCode int, wantErr string, mentions ...string) {
		t.Helper()
		if code != wantCode || e.Code != wantErr {
			t.Errorf("%s: %d %s %q, want %d %s", what, code, e.Code, e.Message, wantCode, wantErr)
			return
		}
		for _, m := range mentions {
			if !strings.Contains(e.Message, m) {
				t.Errorf("%s: %q does not mention %q", what, e.Message, m)
			}
		}
		t.Logf("%s → %d %s", what, code, e.Message)
	}

	// DNS rebinding and cross-site requests.
	code, e, _ := do("GET", "/api/v1/repositories", "", "Host", "evil.example:7070")
	check("foreign Host", code, e, 403, "forbidden", "evil.example", "--allowed-host")
	code, e, _ = do("POST", "/api/v1/repositories", reg, append(auth, "Origin", "https://evil.example")...)
	check("foreign Origin", code, e, 403, "forbidden", "evil.example")
	code, e, _ = do("POST", "/api/v1/repositories", reg, append(auth, "Origin", "null")...)
	check("null Origin", code, e, 403, "forbidden")
	code, e, _ = do("POST", "/api/v1/repositories", reg, append(auth, "Sec-Fetch-Site", "cross-site")...)
	check("cross-site fetch", code, e, 403, "forbidden")

	// Tokens.
	code, e, h := do("POST", "/api/v1/repositories", reg, "Content-Type", "application/json")
	check("no token", code, e, 401, "unauthorized", "Authorization: Bearer")
	if h.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	code, e, _ = do("POST", "/api/v1/repositories", reg, "Authorization", "Bearer wrong", "Content-Type", "application/json")
	check("wrong token", code, e, 401, "unauthorized")
	code, e, _ = do("POST", "/api/v1/repositories?access_token="+hostileToken, reg, "Content-Type", "application/json")
	check("token in the query of a POST", code, e, 401, "unauthorized")
	code, e, _ = do("POST", "/api/v1/services", `{"slug":"x","base_url":"http://example.com"}`, "Authorization", "Bearer "+hostileToken, "Content-Type", "application/json")
	check("daemon token for the service registry", code, e, 401, "unauthorized")

	// WebSocket handshakes.
	wsURL := "ws" + strings.TrimPrefix(d.URL, "http") + "/api/v1/events"
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"WebSocket with a foreign Origin", http.Header{"Origin": {"https://evil.example"}, "Authorization": {"Bearer " + hostileToken}}, 403},
		{"WebSocket without the token", http.Header{}, 401},
		{"WebSocket with a wrong token", http.Header{"Authorization": {"Bearer nope"}}, 401},
	} {
		_, resp, err := websocket.Dial(context.Background(), wsURL, &websocket.DialOptions{HTTPHeader: tc.header})
		if err == nil || resp == nil || resp.StatusCode != tc.want {
			st := 0
			if resp != nil {
				st = resp.StatusCode
			}
			t.Errorf("%s: %d %v, want %d", tc.name, st, err, tc.want)
		}
	}

	// Webhooks: exempt from the token, not from their signature.
	push := `{"ref":"refs/heads/main","after":"` + strings.Repeat("a", 40) + `","repository":{"clone_url":"https://github.com/acme/app.git"}}`
	sign := func(body, secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	code, e, _ = do("POST", "/api/v1/webhooks/git", push, "X-GitHub-Event", "push", "Content-Type", "application/json")
	check("GitHub push without a signature", code, e, 401, "unauthorized", "X-Hub-Signature-256")
	code, e, _ = do("POST", "/api/v1/webhooks/git", push, "X-GitHub-Event", "push", "X-Hub-Signature-256", sign(push, "guess"), "Content-Type", "application/json")
	check("GitHub push with a forged signature", code, e, 401, "unauthorized")
	code, e, _ = do("POST", "/api/v1/webhooks/git", push+" ", "X-GitHub-Event", "push", "X-Hub-Signature-256", sign(push, hostileSecret), "Content-Type", "application/json")
	check("GitHub push whose body changed after signing", code, e, 401, "unauthorized")
	code, e, _ = do("POST", "/api/v1/webhooks/git", push, "X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "guess", "Content-Type", "application/json")
	check("GitLab push with a wrong token", code, e, 401, "unauthorized")
	code, e, _ = do("POST", "/api/v1/webhooks/git", push, "X-Gitea-Event", "push", "X-Gitea-Signature", strings.Repeat("0", 64), "Content-Type", "application/json")
	check("Gitea push with a forged signature", code, e, 401, "unauthorized")
	bad := `{"ref": [}`
	code, e, _ = do("POST", "/api/v1/webhooks/git", bad, "X-GitHub-Event", "push", "X-Hub-Signature-256", sign(bad, hostileSecret), "Content-Type", "application/json")
	check("signed but malformed push", code, e, 400, "invalid")

	// Bodies: too large, malformed, unknown fields.
	huge := `{"git_url":"https://github.com/acme/app.git","description":"` + strings.Repeat("x", 2<<20) + `"}`
	code, e, _ = do("POST", "/api/v1/repositories", huge, auth...)
	check("2 MiB registration", code, e, 413, "too_large")
	hugePush := strings.Repeat(" ", 30<<20)
	code, e, _ = do("POST", "/api/v1/webhooks/git", hugePush, "X-GitHub-Event", "push", "X-Hub-Signature-256", sign(hugePush, hostileSecret))
	check("30 MiB webhook", code, e, 413, "too_large")
	for _, tc := range []struct{ what, body, mention string }{
		{"truncated JSON", `{"git_url":`, "whole JSON object"},
		{"unknown field", `{"git_url":"https://github.com/acme/app.git","admin":true}`, "admin"},
		{"trailing data", `{"git_url":"https://github.com/acme/app.git"} {"git_url":"https://github.com/acme/b.git"}`, ""},
		{"wrong type", `{"git_url":42}`, "git_url"},
		{"not an object", `["https://github.com/acme/app.git"]`, "send a JSON object"},
	} {
		code, e, _ = do("POST", "/api/v1/repositories", tc.body, auth...)
		check(tc.what, code, e, 400, "invalid", tc.mention)
	}
	for _, q := range []string{`lang:`, `"unclosed`, `-`, strings.Repeat("a:b ", 2000)} {
		code, e, _ = do("GET", "/api/v1/search?q="+urlQuery(q), "")
		check("search "+fmt.Sprintf("%.20q", q), code, e, 400, "invalid")
	}
	list, err := (&client.Client{BaseURL: d.URL}).Repositories(context.Background(), client.ListRepositoriesOptions{})
	if err != nil || len(list.Repositories) != 0 {
		t.Errorf("after the refusals: %+v %v, want nothing registered", list, err)
	}
}

func urlQuery(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
