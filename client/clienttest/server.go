// Package clienttest provides an in-memory stand-in for appstored's HTTP API
// for unit tests of the client, the CLI and the TUI. It speaks the wire
// format (client's types, ErrorBody errors with the daemon's codes and
// statuses, cursor pagination, bearer tokens) for the repository, tag,
// version and health endpoints, and records the requests it got.
//
// It is not the daemon: end-to-end tests run the real appstored against
// PostgreSQL. Keep this fake to what the API documents.
package clienttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/client"
)

// Defaults of the fake.
const (
	DefaultPageSize = 50
	MaxLimit        = 1000 // limits above are refused as invalid
	MaxBody         = 1 << 20
	Version         = "0.0.0-fake"
)

// Request is one request the fake received.
type Request struct {
	Method        string
	Path          string
	Query         url.Values
	Authorization string
	UserAgent     string
	Body          string
}

// Server is the fake daemon. Its exported fields may be changed between
// requests (not during them).
type Server struct {
	// URL is the root URL of the fake, to be used as client.Client.BaseURL.
	URL string
	// Token, when set, is required as a bearer token on mutating calls.
	Token string
	// PageSize is the page size when a list request gives no limit.
	PageSize int
	// MaxPageSize caps the limit of a list request: larger limits are
	// lowered to it, so that clients must follow cursors.
	MaxPageSize int

	srv *httptest.Server

	mu       sync.Mutex
	repos    []*client.Repository // in id order
	nextID   int64
	ready    bool
	notReady string
	requests []Request
}

// NewServer starts a fake daemon that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake daemon; the caller closes it. Tests use NewServer;
// Start is for examples, which have no testing.TB.
func Start() *Server {
	s := &Server{PageSize: DefaultPageSize, MaxPageSize: 200, nextID: 1, ready: true}
	s.srv = httptest.NewServer(s.handler())
	s.URL = s.srv.URL
	return s
}

// Client returns a client of the fake that sends s.Token.
func (s *Server) Client() *client.Client {
	return &client.Client{BaseURL: s.URL, Token: s.Token, UserAgent: "clienttest"}
}

// Close stops the fake, so that later requests find nothing listening.
func (s *Server) Close() { s.srv.Close() }

// SetReady makes /readyz answer 200, or 503 naming a failing database check
// with message.
func (s *Server) SetReady(ready bool, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready, s.notReady = ready, message
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Repositories returns copies of the stored repositories in id order.
func (s *Server) Repositories() []client.Repository {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]client.Repository, len(s.repos))
	for i, r := range s.repos {
		out[i] = cloneRepo(r)
	}
	return out
}

// SetStatus changes a repository's ingest status, as ingestion would, and
// adds tags with source (auto, author).
func (s *Server) SetStatus(slug string, status catalog.IngestStatus, tags ...client.Tag) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(slug)
	if r == nil {
		return fmt.Errorf("clienttest: no repository %q", slug)
	}
	r.IngestStatus = status
	r.Tags = append(r.Tags, tags...)
	sortTags(r.Tags)
	r.UpdatedAt = time.Now().UTC()
	return nil
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/repositories", s.add)
	mux.HandleFunc("GET /api/v1/repositories", s.list)
	mux.HandleFunc("GET /api/v1/repositories/{slug}", s.show)
	mux.HandleFunc("PATCH /api/v1/repositories/{slug}", s.update)
	mux.HandleFunc("DELETE /api/v1/repositories/{slug}", s.remove)
	mux.HandleFunc("GET /api/v1/tags", s.tags)
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, client.VersionInfo{Version: Version, Commit: "fake", API: 1})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, client.Health{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, client.ErrorDetail{Code: client.CodeNotFound, Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, client.ErrorDetail{Code: client.CodeTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", MaxBody)})
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Authorization: r.Header.Get("Authorization"), UserAgent: r.UserAgent(), Body: string(body),
		})
		token := s.Token
		s.mu.Unlock()
		if token != "" && r.Method != http.MethodGet && r.Header.Get("Authorization") != "Bearer "+token {
			writeError(w, http.StatusUnauthorized, client.ErrorDetail{Code: client.CodeUnauthorized, Message: "this call needs the daemon's token: set APPSTORE_TOKEN or pass --token"})
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ready, msg := s.ready, s.notReady
	s.mu.Unlock()
	if ready {
		writeJSON(w, http.StatusOK, client.Health{Status: "ok", Checks: map[string]client.HealthCheck{"database": {OK: true}}})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, client.Health{Status: "down", Checks: map[string]client.HealthCheck{
		"database": {OK: false, Message: msg},
		"redis":    {OK: false, Message: "not configured", Optional: true},
	}})
}

func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	var req client.AddRepositoryRequest
	if !decode(w, r, &req) {
		return
	}
	u, err := giturl.Parse(req.GitURL)
	if err != nil {
		writeInvalid(w, "git_url", err.Error())
		return
	}
	name := req.Name
	if name == "" {
		name = u.Name()
	} else if err := catalog.ValidateName(name); err != nil {
		writeInvalid(w, "name", err.Error())
		return
	}
	if err := catalog.ValidateRelPath("dockerfile", req.Dockerfile); err != nil {
		writeInvalid(w, "dockerfile", err.Error())
		return
	}
	tags, ok := parseTags(w, "tags", req.Tags)
	if !ok {
		return
	}
	for i := range tags {
		tags[i].Source = catalog.SourceManual
	}
	sortTags(tags)

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.repos {
		if eu, err := giturl.Parse(e.GitURL); err == nil && eu.Key() == u.Key() {
			writeError(w, http.StatusConflict, client.ErrorDetail{
				Code: client.CodeConflict, Slug: e.Slug,
				Message: fmt.Sprintf("%s is already registered as %q", req.GitURL, e.Slug),
			})
			return
		}
	}
	base := catalog.Slugify(name)
	slug := base
	for n := 2; s.find(slug) != nil; n++ {
		slug = base + "-" + strconv.Itoa(n)
	}
	now := time.Now().UTC()
	repo := &client.Repository{
		ID: s.nextID, Slug: slug, Name: name, GitURL: u.CloneURL(), Branch: req.Branch,
		Owner: u.Owner(), RequestedDockerfile: req.Dockerfile, IngestStatus: catalog.IngestQueued,
		Tags: tags, CreatedAt: now, UpdatedAt: now, Redeploy: true,
	}
	if repo.Tags == nil {
		repo.Tags = []client.Tag{}
	}
	s.nextID++
	s.repos = append(s.repos, repo)
	writeJSON(w, http.StatusCreated, cloneRepo(repo))
}

// parseTags parses the tags of the request's field; on the first that is
// not a tag it answers 400 naming the field, as the daemon does, and ok is
// false.
func parseTags(w http.ResponseWriter, field string, raw []string) (tags []client.Tag, ok bool) {
	for _, r := range raw {
		t, err := catalog.ParseTag(r)
		if err != nil {
			writeInvalid(w, field, err.Error())
			return nil, false
		}
		tags = append(tags, t)
	}
	return tags, true
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want, ok := parseTags(w, "tag", q["tag"])
	if !ok {
		return
	}
	status := catalog.IngestStatus(q.Get("status"))
	if status != "" && !status.Valid() {
		writeInvalid(w, "status", fmt.Sprintf("status %q is not one of queued, processing, ready, failed", status))
		return
	}
	limit := s.PageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeInvalid(w, "limit", fmt.Sprintf("limit %q: want a number from 1 to %d", v, MaxLimit))
			return
		}
		limit = n
	}
	if s.MaxPageSize > 0 && limit > s.MaxPageSize {
		limit = s.MaxPageSize
	}
	// Newest first, as the daemon lists; the cursor is the last id seen.
	var before int64
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(c, "id:"), 10, 64)
		if err != nil || !strings.HasPrefix(c, "id:") {
			writeInvalid(w, "cursor", "cursor is not one this server gave out; start again without it")
			return
		}
		before = n
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	out := client.RepositoryList{Repositories: []client.Repository{}}
	for i := len(s.repos) - 1; i >= 0; i-- {
		repo := s.repos[i]
		if (before > 0 && repo.ID >= before) || (status != "" && repo.IngestStatus != status) || !hasTags(repo, want) {
			continue
		}
		if len(out.Repositories) == limit {
			out.NextCursor = "id:" + strconv.FormatInt(out.Repositories[limit-1].ID, 10)
			break
		}
		out.Repositories = append(out.Repositories, cloneRepo(repo))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.find(r.PathValue("slug"))
	if repo == nil {
		writeNotFound(w, r.PathValue("slug"))
		return
	}
	writeJSON(w, http.StatusOK, cloneRepo(repo))
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	var req client.UpdateRepositoryRequest
	if !decode(w, r, &req) {
		return
	}
	add, ok := parseTags(w, "add_tags", req.AddTags)
	if !ok {
		return
	}
	remove, ok := parseTags(w, "remove_tags", req.RemoveTags)
	if !ok {
		return
	}
	if req.Name != nil {
		if err := catalog.ValidateName(*req.Name); err != nil {
			writeInvalid(w, "name", err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.find(r.PathValue("slug"))
	if repo == nil {
		writeNotFound(w, r.PathValue("slug"))
		return
	}
	if req.Name != nil {
		repo.Name = *req.Name
	}
	if req.Description != nil {
		repo.Description = *req.Description
	}
	if req.Redeploy != nil {
		repo.Redeploy = *req.Redeploy
	}
	repo.Tags = slices.DeleteFunc(repo.Tags, func(t client.Tag) bool {
		return t.Source == catalog.SourceManual && slices.ContainsFunc(remove, func(x client.Tag) bool { return x.String() == t.String() })
	})
	for _, t := range add {
		if slices.ContainsFunc(repo.Tags, func(x client.Tag) bool { return x.String() == t.String() && x.Source == catalog.SourceManual }) {
			continue
		}
		t.Source = catalog.SourceManual
		repo.Tags = append(repo.Tags, t)
	}
	sortTags(repo.Tags)
	repo.UpdatedAt = time.Now().UTC()
	writeJSON(w, http.StatusOK, cloneRepo(repo))
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slug := r.PathValue("slug")
	i := slices.IndexFunc(s.repos, func(x *client.Repository) bool { return x.Slug == slug })
	if i < 0 {
		writeNotFound(w, slug)
		return
	}
	s.repos = slices.Delete(s.repos, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix, key := strings.ToLower(q.Get("prefix")), strings.ToLower(q.Get("key"))
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeInvalid(w, "limit", fmt.Sprintf("limit %q: want a number from 1 to 1000", v))
			return
		}
		limit = n
	}
	s.mu.Lock()
	counts := map[string]int64{}
	for _, repo := range s.repos {
		seen := map[string]bool{}
		for _, t := range repo.Tags {
			if !seen[t.String()] {
				seen[t.String()] = true
				counts[t.String()]++
			}
		}
	}
	s.mu.Unlock()
	out := client.TagList{Tags: []client.Tag{}}
	for kv, n := range counts {
		k, v, _ := strings.Cut(kv, ":")
		if key != "" && k != key || prefix != "" && !strings.HasPrefix(k, prefix) && !strings.HasPrefix(kv, prefix) {
			continue
		}
		out.Tags = append(out.Tags, client.Tag{Key: k, Value: v, Count: n})
	}
	slices.SortFunc(out.Tags, func(a, b client.Tag) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.String(), b.String())
	})
	if len(out.Tags) > limit {
		out.Tags = out.Tags[:limit]
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) find(slug string) *client.Repository {
	for _, r := range s.repos {
		if r.Slug == slug {
			return r
		}
	}
	return nil
}

func hasTags(repo *client.Repository, want []client.Tag) bool {
	for _, w := range want {
		if !slices.ContainsFunc(repo.Tags, func(t client.Tag) bool { return t.String() == w.String() }) {
			return false
		}
	}
	return true
}

func sortTags(tags []client.Tag) {
	slices.SortFunc(tags, func(a, b client.Tag) int {
		if c := strings.Compare(a.String(), b.String()); c != 0 {
			return c
		}
		return strings.Compare(string(a.Source), string(b.Source))
	})
}

func cloneRepo(r *client.Repository) client.Repository {
	c := *r
	c.Tags = slices.Clone(r.Tags)
	if c.Tags == nil {
		c.Tags = []client.Tag{}
	}
	return c
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeInvalid(w, "", "request body: "+err.Error())
		return false
	}
	if dec.More() {
		writeInvalid(w, "", "request body: more than one JSON value")
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeInvalid(w, "", "request body: trailing data after the JSON value")
		return false
	}
	return true
}

func writeInvalid(w http.ResponseWriter, field, msg string) {
	writeError(w, http.StatusBadRequest, client.ErrorDetail{Code: client.CodeInvalid, Field: field, Message: msg})
}

func writeNotFound(w http.ResponseWriter, slug string) {
	writeError(w, http.StatusNotFound, client.ErrorDetail{Code: client.CodeNotFound, Message: fmt.Sprintf("repository %q not found", slug)})
}

func writeError(w http.ResponseWriter, status int, d client.ErrorDetail) {
	writeJSON(w, status, client.ErrorBody{Error: d})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
