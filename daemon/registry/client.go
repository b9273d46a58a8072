package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound is a manifest the registry does not have.
var ErrNotFound = errors.New("not in the registry")

// manifestTypes are what a manifest request accepts: Docker's and OCI's
// single-platform manifests and their lists.
var manifestTypes = strings.Join([]string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}, ", ")

func (r *Registry) client() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

func (r *Registry) base() string {
	if r.Insecure {
		return "http://" + r.Host
	}
	return "https://" + r.Host
}

// path is the repository's name inside the registry: [PREFIX/]appstore/<slug>.
func (r *Registry) path(slug string) string {
	return strings.TrimPrefix(r.Prefix+"/appstore/"+slug, "/")
}

// do sends a request to the registry's API with the credentials: basic
// authentication, or a bearer token fetched from the realm the registry
// names in its challenge (the token flow of the distribution spec).
func (r *Registry) do(ctx context.Context, method, u, accept, scope string) (*http.Response, error) {
	send := func(auth string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		} else if r.HasCredentials() {
			req.SetBasicAuth(r.username, r.password)
		}
		return r.client().Do(req)
	}
	resp, err := send("")
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", r.Host, err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	challenge := resp.Header.Get("WWW-Authenticate")
	resp.Body.Close()
	scheme, params := parseChallenge(challenge)
	if !strings.EqualFold(scheme, "bearer") || params["realm"] == "" {
		return nil, fmt.Errorf("registry %s refused the credentials (401): check --registry-auth-file or %s/%s", r.Host, EnvUsername, EnvPassword)
	}
	tok, err := r.token(ctx, params, scope)
	if err != nil {
		return nil, err
	}
	resp, err = send("Bearer " + tok)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", r.Host, err)
	}
	return resp, nil
}

// token asks the registry's token service for a token of scope.
func (r *Registry) token(ctx context.Context, params map[string]string, scope string) (string, error) {
	u, err := url.Parse(params["realm"])
	if err != nil {
		return "", fmt.Errorf("registry %s: bad token realm: %w", r.Host, err)
	}
	q := u.Query()
	if params["service"] != "" {
		q.Set("service", params["service"])
	}
	q.Set("scope", scope)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	if r.HasCredentials() {
		req.SetBasicAuth(r.username, r.password)
	}
	resp, err := r.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("registry %s: token service: %w", r.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("registry %s: the token service answered %s: check the registry credentials", r.Host, resp.Status)
	}
	var v struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return "", fmt.Errorf("registry %s: token service: %w", r.Host, err)
	}
	if v.Token == "" {
		v.Token = v.AccessToken
	}
	if v.Token == "" {
		return "", fmt.Errorf("registry %s: the token service sent no token", r.Host)
	}
	return v.Token, nil
}

// parseChallenge reads `Bearer realm="…",service="…",scope="…"`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				params[k] = v[1:]
				break
			}
			params[k], rest = v[1:1+end], v[2+end:]
		} else {
			val, next, _ := strings.Cut(v, ",")
			params[k], rest = strings.TrimSpace(val), next
		}
	}
	return scheme, params
}

// Digest returns the digest of slug's manifest named ref (a tag or a
// digest), or ErrNotFound.
func (r *Registry) Digest(ctx context.Context, slug, ref string) (string, error) {
	u := r.base() + "/v2/" + r.path(slug) + "/manifests/" + ref
	resp, err := r.do(ctx, http.MethodHead, u, manifestTypes, "repository:"+r.path(slug)+":pull")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("registry %s: look up %s:%s: %s", r.Host, r.path(slug), ref, resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest"), nil
}

// Delete deletes slug's manifest with digest, and with it the tags that
// name it. One already gone is not an error. The registry frees the layers
// at its next garbage collection (`registry garbage-collect`).
func (r *Registry) Delete(ctx context.Context, slug, digest string) error {
	u := r.base() + "/v2/" + r.path(slug) + "/manifests/" + digest
	resp, err := r.do(ctx, http.MethodDelete, u, "", "repository:"+r.path(slug)+":delete")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusNotFound:
		return nil
	case http.StatusMethodNotAllowed:
		return fmt.Errorf("registry %s does not allow deletes: enable them (distribution: storage.delete.enabled: true) or images pile up there", r.Host)
	default:
		return fmt.Errorf("registry %s: delete %s@%s: %s", r.Host, r.path(slug), digest, resp.Status)
	}
}

// Apps returns the slugs of the apps that have images in the registry
// under its prefix (the registry's catalog, /v2/_catalog, page by page).
func (r *Registry) Apps(ctx context.Context) ([]string, error) {
	prefix := r.path("")
	var out []string
	last := ""
	for {
		// 100: the distribution registry's default page limit.
		u := r.base() + "/v2/_catalog?n=100"
		if last != "" {
			u += "&last=" + url.QueryEscape(last)
		}
		var page struct {
			Repositories []string `json:"repositories"`
		}
		if err := r.getJSON(ctx, u, "registry:catalog:*", &page); err != nil {
			return nil, err
		}
		for _, name := range page.Repositories {
			if slug, ok := strings.CutPrefix(name, prefix); ok && slug != "" && !strings.Contains(slug, "/") {
				out = append(out, slug)
			}
		}
		if len(page.Repositories) < 100 {
			return out, nil
		}
		last = page.Repositories[len(page.Repositories)-1]
	}
}

// Tags returns the tags of slug's repository.
func (r *Registry) Tags(ctx context.Context, slug string) ([]string, error) {
	var v struct {
		Tags []string `json:"tags"`
	}
	err := r.getJSON(ctx, r.base()+"/v2/"+r.path(slug)+"/tags/list", "repository:"+r.path(slug)+":pull", &v)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return v.Tags, err
}

func (r *Registry) getJSON(ctx context.Context, u, scope string, v any) error {
	resp, err := r.do(ctx, http.MethodGet, u, "application/json", scope)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("registry %s: GET %s: %s", r.Host, strings.TrimPrefix(u, r.base()), resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(v); err != nil {
		return fmt.Errorf("registry %s: GET %s: %w", r.Host, strings.TrimPrefix(u, r.base()), err)
	}
	return nil
}
