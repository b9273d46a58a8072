package api

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
)

func (s *Server) createRepository(w http.ResponseWriter, r *http.Request) {
	var req client.AddRepositoryRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		writeError(w, r, err)
		return
	}
	in, err := s.newRepository(r, req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	repo, err := s.Store.CreateRepository(r.Context(), *in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.Ingest != nil {
		if err := s.Ingest.EnqueueIngest(r.Context(), repo.ID); err != nil {
			// Stored as queued: the reconciler will put it back.
			s.Logger.Warn("enqueue ingestion failed; the reconciler will retry", "slug", repo.Slug, "err", err)
		}
	}
	w.Header().Set("Location", "/api/v1/repositories/"+repo.Slug)
	writeJSON(w, http.StatusCreated, repo)
}

// newRepository validates an add request field by field.
func (s *Server) newRepository(r *http.Request, req client.AddRepositoryRequest) (*store.NewRepository, error) {
	if strings.TrimSpace(req.GitURL) == "" {
		return nil, invalidField("git_url", "is required: give the repository's clone URL")
	}
	u, err := giturl.Parse(req.GitURL)
	if err != nil {
		return nil, invalidField("git_url", "%v", err)
	}
	if s.GitPolicy != nil {
		if err := s.GitPolicy.Check(r.Context(), u); err != nil {
			return nil, invalidField("git_url", "%v", err)
		}
	} else if u.IsLocal() && !s.Guard.Loopback {
		return nil, invalidField("git_url", "file:// URLs and local paths are accepted only while appstored listens on loopback")
	}
	in := &store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: req.Name, Owner: u.Owner()}
	if req.Name != "" {
		if err := catalog.ValidateName(req.Name); err != nil {
			return nil, err
		}
		in.NameManual = true
	} else {
		in.Name = u.Name()
	}
	if err := validateBranch(req.Branch); err != nil {
		return nil, err
	}
	in.Branch = req.Branch
	if err := catalog.ValidateRelPath("dockerfile", req.Dockerfile); err != nil {
		return nil, err
	}
	in.RequestedDockerfile = strings.TrimPrefix(req.Dockerfile, "./")
	tags, err := parseTags("tags", req.Tags)
	if err != nil {
		return nil, err
	}
	in.Tags = tags
	return in, nil
}

// validateBranch follows git check-ref-format loosely, and refuses what
// could be read as an option.
func validateBranch(b string) error {
	if b == "" {
		return nil
	}
	if len(b) > 255 {
		return invalidField("branch", "is longer than 255 characters")
	}
	if strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.Contains(b, "@{") || strings.Contains(b, "//") {
		return invalidField("branch", "%q is not a valid branch name", b)
	}
	for _, c := range b {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune("~^:?*[\\", c) {
			return invalidField("branch", "%q contains %q, not allowed in a branch name", b, c)
		}
	}
	return nil
}

func parseTags(field string, raw []string) ([]catalog.Tag, error) {
	if len(raw) > catalog.MaxTagsPerRepo {
		return nil, invalidField(field, "more than %d tags", catalog.MaxTagsPerRepo)
	}
	tags := make([]catalog.Tag, 0, len(raw))
	for _, t := range raw {
		tag, err := catalog.ParseTag(t)
		if err != nil {
			return nil, invalidField(field, "%v", err)
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

func (s *Server) listRepositories(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.ListOptions{Status: catalog.IngestStatus(q.Get("status")), Cursor: q.Get("cursor")}
	tags, err := parseTags("tag", q["tag"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts.Tags = tags
	if opts.Limit, err = intParam(q.Get("limit"), "limit", 1, 500); err != nil {
		writeError(w, r, err)
		return
	}
	repos, next, err := s.Store.ListRepositories(r.Context(), opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := client.RepositoryList{Repositories: make([]client.Repository, len(repos)), NextCursor: next}
	for i, repo := range repos {
		out.Repositories[i] = *repo
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRepository(w http.ResponseWriter, r *http.Request) {
	repo, err := s.Store.Repository(r.Context(), r.PathValue("slug"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, repo)
}

func (s *Server) updateRepository(w http.ResponseWriter, r *http.Request) {
	var req client.UpdateRepositoryRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		writeError(w, r, err)
		return
	}
	u := store.RepositoryUpdate{Name: req.Name, Description: req.Description, Homepage: req.Homepage, Branch: req.Branch, Dockerfile: req.Dockerfile, Redeploy: req.Redeploy}
	if req.Branch != nil {
		if err := validateBranch(*req.Branch); err != nil {
			writeError(w, r, err)
			return
		}
	}
	var err error
	if u.AddTags, err = parseTags("add_tags", req.AddTags); err != nil {
		writeError(w, r, err)
		return
	}
	if u.RemoveTags, err = parseTags("remove_tags", req.RemoveTags); err != nil {
		writeError(w, r, err)
		return
	}
	repo, err := s.Store.UpdateRepository(r.Context(), r.PathValue("slug"), u)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, repo)
}

// deleteRepository stops the app's launches (their containers removed)
// before it removes the app, so that nothing of it still runs once the
// answer comes.
func (s *Server) deleteRepository(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if s.StopLaunches != nil {
		if _, err := s.Store.RepositoryIDBySlug(r.Context(), slug); err != nil {
			writeError(w, r, err)
			return
		}
		if _, err := s.StopLaunches(r.Context(), slug); err != nil {
			writeError(w, r, errorf(http.StatusServiceUnavailable, "unavailable",
				"%s was not removed: its launches could not be stopped (%v); try again, or stop them with `appstore stop %s`", slug, err, slug))
			return
		}
	}
	if err := s.Store.DeleteRepository(r.Context(), slug); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.TagListOptions{Prefix: q.Get("prefix"), Key: q.Get("key")}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts.Limit = limit
	tags, err := s.Store.ListTags(r.Context(), opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, client.TagList{Tags: tags})
}
