package webhook_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/ingest/webhook"
)

// Trimmed real payloads: the fields appstore reads, in the shapes the forges
// send (GitHub docs "push" event, GitLab "Push Hook", Gitea push).
const githubPush = `{
  "ref": "refs/heads/main",
  "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
  "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
  "created": false, "deleted": false, "forced": false,
  "repository": {
    "id": 1296269, "name": "dash", "full_name": "acme/dash",
    "html_url": "https://github.com/acme/dash",
    "url": "https://github.com/acme/dash",
    "git_url": "git://github.com/acme/dash.git",
    "ssh_url": "git@github.com:acme/dash.git",
    "clone_url": "https://github.com/acme/dash.git",
    "default_branch": "main", "master_branch": "main"
  },
  "pusher": {"name": "octocat", "email": "octocat@github.com"},
  "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "Update README.md"}
}`

const gitlabPush = `{
  "object_kind": "push", "event_name": "push",
  "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
  "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "ref": "refs/heads/master", "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "project": {
    "id": 15, "name": "Diaspora", "path_with_namespace": "mike/diaspora",
    "web_url": "http://example.com/mike/diaspora",
    "git_ssh_url": "git@example.com:mike/diaspora.git",
    "git_http_url": "http://example.com/mike/diaspora.git",
    "default_branch": "master"
  },
  "repository": {
    "name": "Diaspora", "url": "git@example.com:mike/diaspora.git",
    "homepage": "http://example.com/mike/diaspora",
    "git_http_url": "http://example.com/mike/diaspora.git",
    "git_ssh_url": "git@example.com:mike/diaspora.git"
  }
}`

const giteaPush = `{
  "ref": "refs/heads/develop",
  "before": "28e1879d029cb852e4844d9c718537df08844e03",
  "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
  "compare_url": "http://localhost:3000/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
  "repository": {
    "id": 140, "name": "webhooks", "full_name": "gitea/webhooks",
    "html_url": "http://localhost:3000/gitea/webhooks",
    "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
    "clone_url": "http://localhost:3000/gitea/webhooks.git",
    "default_branch": "master"
  },
  "pusher": {"login": "gitea"}
}`

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestVerify(t *testing.T) {
	const secret = "s3cret"
	body := []byte(githubPush)
	good := webhook.SignHex(body, secret)
	bad := webhook.SignHex(body, "other")
	for _, tc := range []struct {
		name string
		h    http.Header
		want webhook.Provider
		ok   bool
		why  string
	}{
		{"github", headers("X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+good), webhook.GitHub, true, ""},
		{"github wrong secret", headers("X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+bad), webhook.GitHub, false, "does not match"},
		{"github no prefix", headers("X-GitHub-Event", "push", "X-Hub-Signature-256", good), webhook.GitHub, false, "sha256="},
		{"github unsigned", headers("X-GitHub-Event", "push"), webhook.GitHub, false, "--webhook-secret"},
		{"github not hex", headers("X-Hub-Signature-256", "sha256=zz"), webhook.GitHub, false, "does not match"},
		{"gitea", headers("X-Gitea-Event", "push", "X-GitHub-Event", "push", "X-Gitea-Signature", good), webhook.Gitea, true, ""},
		{"gitea wrong", headers("X-Gitea-Event", "push", "X-Gitea-Signature", bad), webhook.Gitea, false, "X-Gitea-Signature"},
		{"gitea via hub header", headers("X-Gitea-Event", "push", "X-Hub-Signature-256", "sha256="+good), webhook.Gitea, true, ""},
		{"gogs", headers("X-Gogs-Event", "push", "X-Gogs-Signature", good), webhook.Gitea, true, ""},
		{"gitlab", headers("X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", secret), webhook.GitLab, true, ""},
		{"gitlab wrong", headers("X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "s3cres"), webhook.GitLab, false, "does not match"},
		{"gitlab missing", headers("X-Gitlab-Event", "Push Hook"), webhook.GitLab, false, "X-Gitlab-Token"},
		{"nothing", headers("Content-Type", "application/json"), "", false, "unsigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := webhook.Verify(tc.h, body, secret)
			if p != tc.want {
				t.Errorf("provider %q, want %q", p, tc.want)
			}
			if tc.ok != (err == nil) {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && (!errors.Is(err, webhook.ErrSignature) || !strings.Contains(err.Error(), tc.why)) {
				t.Errorf("err %q: want ErrSignature mentioning %q", err, tc.why)
			}
		})
	}
	// A body changed after signing fails.
	h := headers("X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256="+good)
	if _, err := webhook.Verify(h, append([]byte(" "), body...), secret); err == nil {
		t.Error("a modified body passed verification")
	}
	if _, err := webhook.Verify(h, body, ""); err == nil {
		t.Error("verification without a secret passed")
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, body    string
		ref, branch   string
		keys          []string
		defaultBranch string
		repo          string
	}{
		{"github", githubPush, "refs/heads/main", "main", []string{"github.com/acme/dash"}, "main", "acme/dash"},
		{"gitlab", gitlabPush, "refs/heads/master", "master", []string{"example.com/mike/diaspora"}, "master", "mike/diaspora"},
		{"gitea", giteaPush, "refs/heads/develop", "develop", []string{"localhost:3000/gitea/webhooks", "localhost:2222/gitea/webhooks"}, "master", "gitea/webhooks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := webhook.Parse("application/json", []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if p.Ref != tc.ref || p.Branch() != tc.branch || p.Deleted || p.DefaultBranch != tc.defaultBranch || p.Repository != tc.repo {
				t.Errorf("push %+v", p)
			}
			if got := p.Keys(); !slices.Equal(got, tc.keys) {
				t.Errorf("keys %v, want %v (from %v)", got, tc.keys, p.URLs)
			}
		})
	}
}

func TestParseFormEncodedGitHub(t *testing.T) {
	body := "payload=" + url.QueryEscape(githubPush)
	p, err := webhook.Parse("application/x-www-form-urlencoded", []byte(body))
	if err != nil || p.Branch() != "main" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := webhook.Parse("application/x-www-form-urlencoded", []byte("other=1")); err == nil || !strings.Contains(err.Error(), "payload") {
		t.Errorf("form without payload: %v", err)
	}
}

func TestParseEdgeCases(t *testing.T) {
	deleted := strings.Replace(githubPush, `"after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"`, `"after": "0000000000000000000000000000000000000000"`, 1)
	p, err := webhook.Parse("", []byte(deleted))
	if err != nil || !p.Deleted {
		t.Errorf("deleted branch: %+v %v", p, err)
	}
	tag := strings.Replace(githubPush, `"ref": "refs/heads/main"`, `"ref": "refs/tags/v1.0"`, 1)
	if p, err := webhook.Parse("", []byte(tag)); err != nil || p.Branch() != "" {
		t.Errorf("tag push: %+v %v", p, err)
	}
	for _, tc := range []struct{ body, want string }{
		{`not json`, "not a JSON push payload"},
		{`{"zen": "Keep it logically awesome.", "hook_id": 1}`, "not a push"},
		{`{"object_kind": "merge_request", "ref": "x"}`, "object_kind"},
		{`{"ref": "refs/heads/main"}`, "names no repository URL"},
		{`{"ref": "refs/heads/main", "repository": {"clone_url": 7}}`, "not a JSON push payload"},
		{`[]`, "not a JSON push payload"},
	} {
		_, err := webhook.Parse("application/json", []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s): %v, want an error mentioning %q", tc.body, err, tc.want)
		}
	}
	if _, err := webhook.Parse("", []byte(`{"zen":"x"}`)); !errors.Is(err, webhook.ErrNotPush) {
		t.Errorf("ping payload: %v, want ErrNotPush", err)
	}
}

func TestEvent(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want string
	}{
		{headers("X-GitHub-Event", "push"), "push"},
		{headers("X-GitHub-Event", "ping"), "ping"},
		{headers("X-Gitlab-Event", "Push Hook"), "push"},
		{headers("X-Gitlab-Event", "Tag Push Hook"), "tag_push"},
		{headers("X-Gitlab-Event", "Merge Request Hook"), "merge request hook"},
		{headers("X-Gitea-Event", "push", "X-GitHub-Event", "push"), "push"},
		{headers("X-Gitea-Event", "create"), "create"},
		{headers(), "push"},
	} {
		if got := webhook.Event(webhook.Detect(tc.h), tc.h); got != tc.want {
			t.Errorf("Event(%v) = %q, want %q", tc.h, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{githubPush, gitlabPush, giteaPush, `{}`, `{"ref":"refs/heads/x","repository":{"clone_url":"-oProxy"}}`, "payload=%7B%7D"} {
		f.Add("application/json", []byte(s))
		f.Add("application/x-www-form-urlencoded", []byte(s))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		p, err := webhook.Parse(ct, body)
		if err != nil {
			if p != nil {
				t.Fatal("a push with an error")
			}
			return
		}
		if p.Ref == "" || len(p.Ref) > 1024 || len(p.URLs) == 0 || len(p.URLs) > webhook.MaxURLs || len(p.After) > 128 {
			t.Fatalf("push out of bounds: %+v", p)
		}
		if b := p.Branch(); b != "" && "refs/heads/"+b != p.Ref {
			t.Fatalf("branch %q of ref %q", b, p.Ref)
		}
		for _, k := range p.Keys() {
			if k == "" || strings.HasPrefix(k, "-") {
				t.Fatalf("key %q from %v", k, p.URLs)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("X-Hub-Signature-256", "sha256=00", []byte(githubPush), "secret")
	f.Add("X-Gitlab-Token", "secret", []byte(gitlabPush), "secret")
	f.Add("X-Gitea-Signature", "zz", []byte(giteaPush), "k")
	f.Fuzz(func(t *testing.T, header, value string, body []byte, secret string) {
		h := http.Header{}
		h.Set(header, value)
		_, err := webhook.Verify(h, body, secret)
		if err == nil {
			// Only a correct signature may pass: recompute it.
			sig := webhook.SignHex(body, secret)
			ok := secret != "" && (value == secret || value == sig || value == "sha256="+sig ||
				strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(value, "sha256=")), sig))
			if !ok {
				t.Fatalf("verified %s: %q with secret %q", header, value, secret)
			}
		} else if !errors.Is(err, webhook.ErrSignature) {
			t.Fatalf("error %v is not ErrSignature", err)
		}
	})
}

func TestDeliveryID(t *testing.T) {
	for _, tc := range []struct {
		p    webhook.Provider
		h    http.Header
		want string
	}{
		{webhook.GitHub, headers("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{webhook.Gitea, headers("X-Gitea-Delivery", "g-1", "X-GitHub-Delivery", "h-1"), "g-1"},
		{webhook.Gitea, headers("X-Forgejo-Delivery", "f-1"), "f-1"},
		{webhook.Gitea, headers("X-GitHub-Delivery", "h-1"), "h-1"},
		{webhook.GitLab, headers("Idempotency-Key", "k-1", "X-Gitlab-Event-UUID", "e-1"), "k-1"},
		{webhook.GitLab, headers("X-Gitlab-Event-UUID", "e-1"), "e-1"},
		{webhook.GitLab, headers("X-GitHub-Delivery", "h-1"), ""}, // another forge's header
		{webhook.GitHub, headers("X-GitHub-Delivery", "has space"), ""},
		{webhook.GitHub, headers("X-GitHub-Delivery", strings.Repeat("x", webhook.MaxDeliveryIDLen+1)), ""},
		{webhook.GitHub, headers("X-GitHub-Delivery", "ctl\x1b[31m"), ""},
	} {
		if got := webhook.DeliveryID(tc.p, tc.h); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.p, tc.h, got, tc.want)
		}
	}
	body := []byte(githubPush)
	a := webhook.DeliveryKeys(webhook.GitHub, headers("X-GitHub-Delivery", "d-1"), body)
	b := webhook.DeliveryKeys(webhook.GitHub, headers("X-GitHub-Delivery", "d-2"), body)
	if len(a) != 2 || len(b) != 2 || a[0] != b[0] || a[1] == b[1] {
		t.Errorf("keys %q and %q: want the body's digest shared and the ids apart", a, b)
	}
	if k := webhook.DeliveryKeys(webhook.Gitea, http.Header{}, body); len(k) != 1 || k[0] == a[0] {
		t.Errorf("keys of another forge's delivery of the same body: %q (GitHub's %q)", k, a)
	}
}
