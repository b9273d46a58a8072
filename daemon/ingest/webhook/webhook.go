// Package webhook verifies and reads the push webhooks of GitHub, GitLab and
// Gitea (Forgejo and Gogs speak Gitea's dialect), so that a push re-ingests
// the repository at once instead of at the next periodic sync.
//
// It is pure: the HTTP handler in daemon/api reads the body (bounded), calls
// Verify with the request headers, then Parse, and matches the Push against
// the catalog.
package webhook

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Provider is the forge that sent a webhook.
type Provider string

const (
	GitHub Provider = "github"
	GitLab Provider = "gitlab"
	Gitea  Provider = "gitea"
)

// ErrSignature is what every verification failure matches with errors.Is.
var ErrSignature = errors.New("webhook signature check failed")

// SignatureError says why a delivery was not authenticated.
type SignatureError struct {
	Provider Provider
	Reason   string
}

func (e *SignatureError) Error() string {
	if e.Provider == "" {
		return e.Reason
	}
	return string(e.Provider) + " webhook: " + e.Reason
}

func (e *SignatureError) Is(target error) bool { return target == ErrSignature }

// Detect names the forge from the request headers. Gitea sends GitHub's
// headers too, for compatibility, so its own are looked at first.
func Detect(h http.Header) Provider {
	switch {
	case h.Get("X-Gitlab-Event") != "" || h.Get("X-Gitlab-Token") != "":
		return GitLab
	case h.Get("X-Gitea-Event") != "" || h.Get("X-Gitea-Signature") != "" ||
		h.Get("X-Gogs-Event") != "" || h.Get("X-Gogs-Signature") != "" || h.Get("X-Forgejo-Event") != "":
		return Gitea
	case h.Get("X-GitHub-Event") != "" || h.Get("X-Hub-Signature-256") != "":
		return GitHub
	}
	return ""
}

// Verify authenticates a delivery with the shared secret and returns its
// provider: GitHub's X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256 of the
// body), Gitea's X-Gitea-Signature (hex HMAC-SHA256 of the body; also
// X-Forgejo-Signature, X-Gogs-Signature, or X-Hub-Signature-256 when sent),
// GitLab's X-Gitlab-Token (the secret itself). Comparisons are constant-time.
// Failures are *SignatureError.
func Verify(h http.Header, body []byte, secret string) (Provider, error) {
	if secret == "" {
		return "", &SignatureError{Reason: "no webhook secret is configured"}
	}
	p := Detect(h)
	switch p {
	case GitLab:
		tok := h.Get("X-Gitlab-Token")
		if tok == "" {
			return p, &SignatureError{Provider: p, Reason: "no X-Gitlab-Token header: set the webhook's Secret token to appstored's --webhook-secret"}
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) != 1 {
			return p, &SignatureError{Provider: p, Reason: "X-Gitlab-Token does not match --webhook-secret"}
		}
		return p, nil
	case Gitea:
		for _, name := range []string{"X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"} {
			if sig := h.Get(name); sig != "" {
				if !macEqual(sig, body, secret) {
					return p, &SignatureError{Provider: p, Reason: name + " does not match the body signed with --webhook-secret"}
				}
				return p, nil
			}
		}
		if sig := h.Get("X-Hub-Signature-256"); sig != "" {
			return p, verifyHub(p, sig, body, secret)
		}
		return p, &SignatureError{Provider: p, Reason: "no X-Gitea-Signature header: set the webhook's Secret to appstored's --webhook-secret"}
	case GitHub:
		sig := h.Get("X-Hub-Signature-256")
		if sig == "" {
			return p, &SignatureError{Provider: p, Reason: "no X-Hub-Signature-256 header: set the webhook's Secret to appstored's --webhook-secret"}
		}
		return p, verifyHub(p, sig, body, secret)
	}
	return "", &SignatureError{Reason: "unsigned delivery: want X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab) or X-Gitea-Signature (Gitea)"}
}

func verifyHub(p Provider, sig string, body []byte, secret string) error {
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return &SignatureError{Provider: p, Reason: `X-Hub-Signature-256 does not start with "sha256="`}
	}
	if !macEqual(hexSig, body, secret) {
		return &SignatureError{Provider: p, Reason: "X-Hub-Signature-256 does not match the body signed with --webhook-secret"}
	}
	return nil
}

// macEqual compares a hex HMAC-SHA256 with the body's, in constant time.
func macEqual(hexSig string, body []byte, secret string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil {
		return false
	}
	return hmac.Equal(got, Sign(body, secret))
}

// Sign returns the HMAC-SHA256 of body with secret: what the forges send,
// hex-encoded. Tests and scripts sign deliveries with it.
func Sign(body []byte, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// SignHex is Sign, hex-encoded (Gitea's header; GitHub's after "sha256=").
func SignHex(body []byte, secret string) string { return hex.EncodeToString(Sign(body, secret)) }

// Event classifies a delivery by its event header: "push", "ping", or the
// forge's own name of another event. A delivery without one is taken for a
// push; Parse then decides.
func Event(p Provider, h http.Header) string {
	var e string
	switch p {
	case GitLab:
		e = h.Get("X-Gitlab-Event")
		switch e {
		case "Push Hook":
			return "push"
		case "Tag Push Hook":
			return "tag_push"
		case "System Hook":
			// System hooks carry push events with object_kind "push".
			return "push"
		}
	case Gitea:
		e = firstHeader(h, "X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event")
	default:
		e = h.Get("X-GitHub-Event")
	}
	if e == "" {
		return "push"
	}
	return strings.ToLower(e)
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// Push is what appstore needs from a push delivery.
type Push struct {
	// Ref is the full ref pushed ("refs/heads/main", "refs/tags/v1").
	Ref string
	// After is the new head commit; empty or all zeros when the ref was
	// deleted (Deleted is set then).
	After   string
	Deleted bool
	// URLs are the repository's URLs as the forge names them (clone over
	// https, git, ssh; the web page), at most MaxURLs, each at most
	// giturl.MaxLen bytes.
	URLs []string
	// DefaultBranch is the forge's default branch of the repository, if it
	// says.
	DefaultBranch string
	// Repository is the forge's "owner/name", for messages.
	Repository string
}

// MaxURLs bounds Push.URLs.
const MaxURLs = 16

// Branch returns the pushed branch, or "" when the ref is not a branch.
func (p *Push) Branch() string {
	b, ok := strings.CutPrefix(p.Ref, "refs/heads/")
	if !ok {
		return ""
	}
	return b
}

// Keys returns the distinct normalised identities (giturl.URL.Key) of the
// push's URLs that parse; the catalog is matched on them.
func (p *Push) Keys() []string {
	var keys []string
	for _, raw := range p.URLs {
		u, err := giturl.Parse(raw)
		if err != nil || u.IsLocal() {
			continue
		}
		k := u.Key()
		if k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// payload is the union of the fields of GitHub, GitLab and Gitea push
// payloads that appstore reads.
type payload struct {
	ObjectKind string          `json:"object_kind"` // GitLab: "push", "tag_push"
	Ref        string          `json:"ref"`
	After      string          `json:"after"`
	Deleted    bool            `json:"deleted"` // GitHub
	Repository *repositoryJSON `json:"repository"`
	Project    *repositoryJSON `json:"project"` // GitLab
}

type repositoryJSON struct {
	// GitHub and Gitea.
	CloneURL string `json:"clone_url"`
	GitURL   string `json:"git_url"`
	SSHURL   string `json:"ssh_url"`
	HTMLURL  string `json:"html_url"`
	FullName string `json:"full_name"`
	// GitLab (project and the legacy repository object).
	GitHTTPURL        string `json:"git_http_url"`
	GitSSHURL         string `json:"git_ssh_url"`
	WebURL            string `json:"web_url"`
	Homepage          string `json:"homepage"`
	PathWithNamespace string `json:"path_with_namespace"`
	// GitHub's "url" is the API URL in push payloads of some versions and
	// the web URL in others; GitLab's repository.url is the ssh URL. All
	// are tried.
	URL           string `json:"url"`
	DefaultBranch string `json:"default_branch"`
}

// ErrNotPush is returned by Parse for a payload that is not a push.
var ErrNotPush = errors.New("not a push payload")

// Parse reads a push payload. contentType is the request's Content-Type:
// GitHub can send application/x-www-form-urlencoded with the JSON in the
// "payload" field. Errors say what is wrong with the payload.
func Parse(contentType string, body []byte) (*Push, error) {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("form-encoded webhook body: %w", err)
		}
		p := form.Get("payload")
		if p == "" {
			return nil, errors.New(`form-encoded webhook body has no "payload" field`)
		}
		body = []byte(p)
	}
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return nil, fmt.Errorf("webhook body is not a JSON push payload: %w", err)
	}
	if pl.ObjectKind != "" && pl.ObjectKind != "push" && pl.ObjectKind != "tag_push" {
		return nil, fmt.Errorf("%w: object_kind %q", ErrNotPush, textutil.Truncate(pl.ObjectKind, 40))
	}
	if pl.Ref == "" {
		return nil, fmt.Errorf(`%w: no "ref"`, ErrNotPush)
	}
	if len(pl.Ref) > 1024 || strings.ContainsAny(pl.Ref, "\x00\n\r") {
		return nil, errors.New(`webhook "ref" is not a Git ref`)
	}
	push := &Push{Ref: pl.Ref, After: pl.After}
	if len(push.After) > 128 {
		push.After = push.After[:128]
	}
	push.Deleted = pl.Deleted || (push.After != "" && strings.Trim(push.After, "0") == "")
	for _, r := range []*repositoryJSON{pl.Project, pl.Repository} {
		if r == nil {
			continue
		}
		for _, u := range []string{r.CloneURL, r.GitHTTPURL, r.SSHURL, r.GitSSHURL, r.GitURL, r.HTMLURL, r.WebURL, r.Homepage, r.URL} {
			if u != "" && len(u) <= giturl.MaxLen && len(push.URLs) < MaxURLs && !slices.Contains(push.URLs, u) {
				push.URLs = append(push.URLs, u)
			}
		}
		if push.DefaultBranch == "" && len(r.DefaultBranch) <= 255 {
			push.DefaultBranch = r.DefaultBranch
		}
		if push.Repository == "" {
			push.Repository = textutil.Truncate(cmp.Or(r.FullName, r.PathWithNamespace), 200)
		}
	}
	if len(push.URLs) == 0 {
		return nil, errors.New(`webhook push payload names no repository URL (want repository.clone_url, or project.git_http_url for GitLab)`)
	}
	return push, nil
}
