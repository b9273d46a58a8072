package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/ingest"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/daemon/queue/queuetest"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

type env struct {
	t       *testing.T
	st      *store.Store
	q       *queuetest.Recorder // the queue seen by the worker; the tests call the handlers
	w       *ingest.Worker
	dataDir string
	git     *gitserver.Server
}

func newEnv(t *testing.T, mod ...func(*ingest.Config)) *env {
	t.Helper()
	gitserver.RequireGit(t)
	e := &env{t: t, st: storetest.New(t), q: &queuetest.Recorder{}, dataDir: t.TempDir()}
	cfg := ingest.Config{
		Store: e.st, Queue: e.q, DataDir: e.dataDir,
		Policy:       giturl.Policy{AllowLocal: true, AllowPrivate: true},
		CloneTimeout: 30 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mod {
		m(&cfg)
	}
	var err error
	if e.w, err = ingest.New(cfg); err != nil {
		t.Fatal(err)
	}
	e.git = gitserver.HTTP(t)
	return e
}

// register serves repo over smart HTTP and registers it.
func (e *env) register(repo *gitserver.Repo, mod ...func(*store.NewRepository)) *catalog.Repository {
	e.t.Helper()
	e.git.Add(repo)
	return e.registerURL(e.git.URL(repo), mod...)
}

func (e *env) registerURL(raw string, mod ...func(*store.NewRepository)) *catalog.Repository {
	e.t.Helper()
	u, err := giturl.Parse(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	in := store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: u.Name(), Owner: u.Owner()}
	for _, m := range mod {
		m(&in)
	}
	r, err := e.st.CreateRepository(context.Background(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// ingest runs the worker on the repository as the queue would, with the
// given attempt of 5, and returns the repository afterwards.
func (e *env) ingest(r *catalog.Repository, attempt int) (*catalog.Repository, error) {
	e.t.Helper()
	err := e.w.HandleIngest(context.Background(), queue.Job{Kind: queue.KindIngest, RepositoryID: r.ID, Attempt: attempt, MaxAttempts: 5})
	got, gerr := e.st.Repository(context.Background(), r.Slug)
	if gerr != nil {
		e.t.Fatal(gerr)
	}
	return got, err
}

func (e *env) timeline(slug string) []catalog.IngestionEvent {
	e.t.Helper()
	tl, err := e.st.IngestionTimeline(context.Background(), slug, store.TimelineOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return tl
}

func steps(tl []catalog.IngestionEvent) []catalog.IngestStatus {
	var out []catalog.IngestStatus
	for _, s := range tl {
		out = append(out, s.Status)
	}
	return out
}

func tagSources(r *catalog.Repository) map[string][]catalog.TagSource {
	m := map[string][]catalog.TagSource{}
	for _, t := range r.Tags {
		m[t.String()] = append(m[t.String()], t.Source)
	}
	return m
}

// wantTags checks that r carries each tag with (at least) the source given.
func wantTags(t *testing.T, r *catalog.Repository, want map[string]catalog.TagSource) {
	t.Helper()
	got := tagSources(r)
	for tag, src := range want {
		if !slices.Contains(got[tag], src) {
			t.Errorf("tag %s: sources %v, want %s (all tags: %v)", tag, got[tag], src, r.Tags)
		}
	}
}

const nodeDockerfile = `FROM node:20-alpine AS deps
WORKDIR /app
COPY package*.json ./
RUN npm ci
FROM node:20-alpine
COPY --from=deps /app/node_modules ./node_modules
COPY . .
EXPOSE 3000
USER node
CMD ["node", "server.js"]
`

const mitLicense = `MIT License

Copyright (c) 2024 Acme

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`

// TestIngestsShapedRepositories runs the real worker on real repositories
// served over smart HTTP and checks what the catalog holds afterwards.
func TestIngestsShapedRepositories(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name       string
		files      map[string]string
		manual     []string
		fields     func(t *testing.T, r *catalog.Repository)
		tags       map[string]catalog.TagSource
		dockerfile string
		context    string
		port       int
		portSource string
	}{
		{
			name: "node",
			files: map[string]string{
				"package.json": `{"name": "chat-node", "description": "Team chat in Node", "homepage": "https://chat.example.org",
					"keywords": ["chat", "realtime"], "license": "MIT", "dependencies": {"express": "^4.19.0"}}`,
				"server.js":  strings.Repeat("const x = require('express');\n", 30),
				"Dockerfile": nodeDockerfile,
				"LICENSE":    mitLicense,
			},
			manual: []string{"category:chat"},
			tags: map[string]catalog.TagSource{
				"framework:express": catalog.SourceAuto, "runtime:node": catalog.SourceAuto, "lang:javascript": catalog.SourceAuto,
				"topic:chat": catalog.SourceAuthor, "topic:realtime": catalog.SourceAuthor, "license:mit": catalog.SourceAuthor,
				"category:chat": catalog.SourceManual,
			},
			fields: func(t *testing.T, r *catalog.Repository) {
				if r.Name != "chat-node" || r.Description != "Team chat in Node" || r.Homepage != "https://chat.example.org" {
					t.Errorf("name %q description %q homepage %q", r.Name, r.Description, r.Homepage)
				}
				var meta struct {
					Dockerfile struct {
						BaseImage string `json:"base_image"`
						Stages    int    `json:"stages"`
						User      string `json:"user"`
					} `json:"dockerfile"`
					Clone struct {
						Files int `json:"files"`
					} `json:"clone"`
				}
				if err := json.Unmarshal(r.Metadata, &meta); err != nil {
					t.Fatal(err)
				}
				if meta.Dockerfile.BaseImage != "node:20-alpine" || meta.Dockerfile.Stages != 2 || meta.Dockerfile.User != "node" || meta.Clone.Files != 4 {
					t.Errorf("metadata %s", r.Metadata)
				}
			},
			dockerfile: "Dockerfile", context: ".", port: 3000, portSource: "expose",
		},
		{
			name: "go",
			files: map[string]string{
				"go.mod":     "module github.com/acme/todo\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.10.0\n",
				"main.go":    "package main\n\nfunc main() {}\n" + strings.Repeat("// x\n", 50),
				"Dockerfile": "FROM golang:1.22 AS build\nCOPY . .\nRUN go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\nEXPOSE 8080\nENTRYPOINT [\"/app\"]\n",
			},
			tags: map[string]catalog.TagSource{"framework:gin": catalog.SourceAuto, "lang:go": catalog.SourceAuto, "runtime:scratch": catalog.SourceAuto},
			fields: func(t *testing.T, r *catalog.Repository) {
				var meta struct {
					Facts map[string]string `json:"facts"`
				}
				if err := json.Unmarshal(r.Metadata, &meta); err != nil || meta.Facts["go.module"] != "github.com/acme/todo" {
					t.Errorf("metadata %s lacks the go module fact (%v)", r.Metadata, err)
				}
			},
			dockerfile: "Dockerfile", context: ".", port: 8080, portSource: "expose",
		},
		{
			name: "python",
			files: map[string]string{
				"requirements.txt": "flask==3.0\ngunicorn\n",
				"app.py":           strings.Repeat("print('hi')\n", 40),
				"Dockerfile":       "FROM python:3.12-slim\nCOPY . .\nRUN pip install -r requirements.txt\nEXPOSE 5000\nCMD [\"gunicorn\", \"app:app\"]\n",
			},
			tags:       map[string]catalog.TagSource{"framework:flask": catalog.SourceAuto, "lang:python": catalog.SourceAuto, "runtime:python": catalog.SourceAuto},
			dockerfile: "Dockerfile", context: ".", port: 5000, portSource: "expose",
		},
		{
			name: "hf-space",
			files: map[string]string{
				"README.md":        "---\ntitle: Doc Chat\nemoji: 🦙\nsdk: docker\napp_port: 7860\ntags:\n  - chat\n  - LLM\nlicense: apache-2.0\nshort_description: Ask your documents\n---\n\n# Doc Chat\n\nUpload a PDF and ask away.\n",
				"Dockerfile":       "FROM python:3.11\nEXPOSE 8000\nCMD [\"python\", \"app.py\"]\n",
				"app.py":           "import gradio\n",
				"requirements.txt": "gradio==4.31\n",
			},
			tags: map[string]catalog.TagSource{
				"sdk:docker": catalog.SourceAuthor, "topic:chat": catalog.SourceAuthor, "topic:llm": catalog.SourceAuthor,
				"license:apache-2.0": catalog.SourceAuthor, "framework:gradio": catalog.SourceAuto,
			},
			fields: func(t *testing.T, r *catalog.Repository) {
				if r.Name != "Doc Chat" || r.Description != "Ask your documents" {
					t.Errorf("name %q description %q", r.Name, r.Description)
				}
				var readme string
				// The README body feeds full-text search.
				if err := e.st.Pool().QueryRow(context.Background(), `SELECT readme FROM repositories WHERE id = $1`, r.ID).Scan(&readme); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(readme, "Upload a PDF") || strings.Contains(readme, "sdk:") {
					t.Errorf("readme %q", readme)
				}
			},
			dockerfile: "Dockerfile", context: ".", port: 7860, portSource: "readme",
		},
		{
			name: "subfolder",
			files: map[string]string{
				"deploy/web/Dockerfile": "FROM nginx:1.27\nCOPY . /usr/share/nginx/html\n",
				"index.html":            "<h1>hi</h1>\n",
			},
			tags: map[string]catalog.TagSource{"runtime:nginx": catalog.SourceAuto},
			// The folder holds only the Dockerfile: COPY . copies the
			// repository, which nginx serves on its port.
			dockerfile: "deploy/web/Dockerfile", context: ".", port: 80, portSource: "framework",
		},
		{
			name: "tags-yaml",
			files: map[string]string{
				"tags.yaml":            "name: Metrics Board\ndescription: Metrics at a glance\ntags:\n  category: monitoring\n  topic: [metrics, charts]\nport: 9000\ndockerfile: build/app.Dockerfile\ncontext: .\n",
				"build/app.Dockerfile": "FROM golang:1.22\nEXPOSE 8080\n",
				"main.go":              "package main\n",
				"Dockerfile":           "FROM alpine\n",
			},
			tags: map[string]catalog.TagSource{"category:monitoring": catalog.SourceAuthor, "topic:metrics": catalog.SourceAuthor, "topic:charts": catalog.SourceAuthor},
			fields: func(t *testing.T, r *catalog.Repository) {
				if r.Name != "Metrics Board" || r.Description != "Metrics at a glance" {
					t.Errorf("name %q description %q", r.Name, r.Description)
				}
			},
			dockerfile: "build/app.Dockerfile", context: ".", port: 9000, portSource: "tags.yaml",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := gitserver.NewNamedRepo(t, tc.name, tc.files)
			r := e.register(repo, func(in *store.NewRepository) { in.Tags = storetest.Tags(t, tc.manual...) })
			got, err := e.ingest(r, 1)
			if err != nil {
				t.Fatalf("ingest: %v (repository error %q)", err, got.IngestError)
			}
			if got.IngestStatus != catalog.IngestReady || got.IngestError != "" {
				t.Fatalf("status %s error %q", got.IngestStatus, got.IngestError)
			}
			if got.LastCommitSHA != repo.Head(t) || got.DefaultBranch != "main" || got.LastIngestedAt == nil {
				t.Errorf("commit %q (want %q) default branch %q", got.LastCommitSHA, repo.Head(t), got.DefaultBranch)
			}
			if got.DockerfilePath != tc.dockerfile || got.ContextPath != tc.context || got.AppPort != tc.port || got.PortSource != tc.portSource {
				t.Errorf("dockerfile %q context %q port %d from %q; want %q %q %d %q", got.DockerfilePath, got.ContextPath,
					got.AppPort, got.PortSource, tc.dockerfile, tc.context, tc.port, tc.portSource)
			}
			wantTags(t, got, tc.tags)
			if tc.fields != nil {
				tc.fields(t, got)
			}
			tl := e.timeline(got.Slug)
			if want := []catalog.IngestStatus{"queued", "processing", "ready"}; !slices.Equal(steps(tl), want) {
				t.Fatalf("timeline %v, want %v", steps(tl), want)
			}
			ready := tl[2]
			if ready.CommitSHA != got.LastCommitSHA || ready.DurationMS == nil || ready.Attempt != 1 || !strings.Contains(ready.Message, tc.dockerfile) {
				t.Errorf("ready step %+v", ready)
			}
			builds := e.q.Take(queue.KindBuild)
			if got.LatestBuild == nil || len(builds) != 1 || builds[0].BuildID != got.LatestBuild.ID || got.LatestBuild.CommitSHA != got.LastCommitSHA {
				t.Errorf("build %+v, enqueued %+v", got.LatestBuild, builds)
			}
			var bd, bc string
			if err := e.st.Pool().QueryRow(context.Background(), `SELECT dockerfile_path, context_path FROM builds WHERE id = $1`, got.LatestBuild.ID).Scan(&bd, &bc); err != nil || bd != tc.dockerfile || bc != tc.context {
				t.Errorf("build record dockerfile %q context %q (%v)", bd, bc, err)
			}
		})
	}
}

// TestRefusesBrokenRepositories checks that content problems fail at once
// (no retry) with a message naming the file, and that nothing of the
// attempt is stored but the failure.
func TestRefusesBrokenRepositories(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "Dockerfile"), []byte("FROM alpine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		files     []gitserver.File
		requested string
		want      []string // all in the error
	}{
		{"no-dockerfile", []gitserver.File{{Name: "README.md", Content: "# nothing to build\n"}}, "", []string{"no Dockerfile found"}},
		{"invalid-dockerfile", []gitserver.File{{Name: "Dockerfile", Content: "FROM alpine\nRUN true\nFROBNICATE now\n"}}, "", []string{"Dockerfile:3", "unknown instruction"}},
		{"symlink-outside", []gitserver.File{{Name: "Dockerfile", Content: filepath.Join(outside, "Dockerfile"), Mode: fs.ModeSymlink}}, "", []string{"Dockerfile", "outside the repository"}},
		{"dotdot-in-tags-yaml", []gitserver.File{{Name: "tags.yaml", Content: "dockerfile: ../outside/Dockerfile\n"}, {Name: "Dockerfile", Content: "FROM alpine\n"}}, "", []string{"tags.yaml", "../outside/Dockerfile", "leaves the repository"}},
		{"huge-tags-yaml", []gitserver.File{{Name: "tags.yaml", Content: "description: x\n# " + strings.Repeat("x", 70<<10) + "\n"}, {Name: "Dockerfile", Content: "FROM alpine\n"}}, "", []string{"tags.yaml", "larger than the 64 KiB limit"}},
		{"malformed-yaml", []gitserver.File{{Name: "tags.yaml", Content: "tags:\n  category: [a, b\nport: 80\n"}, {Name: "Dockerfile", Content: "FROM alpine\n"}}, "", []string{"tags.yaml", "malformed YAML"}},
		{"declared-missing", []gitserver.File{{Name: "Dockerfile", Content: "FROM alpine\n"}}, "docker/Dockerfile", []string{"docker/Dockerfile", "does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := gitserver.NewRepoFiles(t, tc.name, tc.files)
			r := e.register(repo, func(in *store.NewRepository) { in.RequestedDockerfile = tc.requested })
			got, err := e.ingest(r, 1)
			if err == nil || !queue.IsPermanent(err) {
				t.Fatalf("handler returned %v, want a permanent error (no retry)", err)
			}
			if got.IngestStatus != catalog.IngestFailed {
				t.Fatalf("status %s, want failed", got.IngestStatus)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.IngestError, w) {
					t.Errorf("error %q does not mention %q", got.IngestError, w)
				}
			}
			tl := e.timeline(got.Slug)
			if want := []catalog.IngestStatus{"queued", "processing", "failed"}; !slices.Equal(steps(tl), want) {
				t.Fatalf("timeline %v, want %v", steps(tl), want)
			}
			if f := tl[2]; f.Message != got.IngestError || f.CommitSHA != repo.Head(t) || f.DurationMS == nil {
				t.Errorf("failed step %+v", f)
			}
			if got.LatestBuild != nil || got.LastCommitSHA != "" || len(e.q.Take(queue.KindBuild)) != 0 {
				t.Errorf("a failed ingestion left a build or a commit: %+v %q", got.LatestBuild, got.LastCommitSHA)
			}
			if entries, _ := os.ReadDir(filepath.Join(e.dataDir, "ingest")); len(entries) != 0 {
				t.Errorf("clone left behind: %v", entries)
			}
		})
	}
}

func TestMalformedManifestIsAWarning(t *testing.T) {
	e := newEnv(t)
	repo := gitserver.NewNamedRepo(t, "badjson", map[string]string{
		"package.json": `{"name": "x", "keywords": ["a",}`,
		"Dockerfile":   "FROM node:20\n",
	})
	got, err := e.ingest(e.register(repo), 1)
	if err != nil || got.IngestStatus != catalog.IngestReady {
		t.Fatalf("%v %s %q", err, got.IngestStatus, got.IngestError)
	}
	if !strings.Contains(string(got.Metadata), "package.json") {
		t.Errorf("metadata %s does not carry the package.json warning", got.Metadata)
	}
	if tl := e.timeline(got.Slug); !strings.Contains(tl[len(tl)-1].Message, "1 warning: package.json:1: malformed JSON") {
		t.Errorf("ready step %q does not spell out the warning", tl[len(tl)-1].Message)
	}
}

// TestUnreadableManifestIsInTheTimeline: a requirements.txt that is not
// text is skipped, and the timeline says which and what to do.
func TestUnreadableManifestIsInTheTimeline(t *testing.T) {
	e := newEnv(t)
	repo := gitserver.NewNamedRepo(t, "binreq", map[string]string{
		"requirements.txt":     "\x00\x01\x02Flask\x00",
		"web/requirements.txt": "\xfe\xff\x00",
		"Dockerfile":           "FROM python:3.12\n",
	})
	got, err := e.ingest(e.register(repo), 1)
	if err != nil || got.IngestStatus != catalog.IngestReady {
		t.Fatalf("%v %s %q", err, got.IngestStatus, got.IngestError)
	}
	tl := e.timeline(got.Slug)
	msg := tl[len(tl)-1].Message
	for _, want := range []string{"2 warnings: ", "requirements.txt: cannot be read: not UTF-8 or UTF-16 text; its frameworks are not tagged (save it as UTF-8)", "web/requirements.txt: cannot be read"} {
		if !strings.Contains(msg, want) {
			t.Errorf("ready step %q lacks %q", msg, want)
		}
	}
}

func TestManualTagsAndFieldsSurviveReingestion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "keep", map[string]string{
		"tags.yaml":  "description: first\ntags:\n  topic: one\n",
		"Dockerfile": "FROM alpine\n",
	})
	r := e.register(repo, func(in *store.NewRepository) { in.Tags = storetest.Tags(t, "team:ops") })
	if _, err := e.ingest(r, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateRepository(ctx, r.Slug, store.RepositoryUpdate{Homepage: ptr("https://mine.example"), AddTags: storetest.Tags(t, "pinned:yes")}); err != nil {
		t.Fatal(err)
	}
	second := repo.Commit(t, map[string]string{"tags.yaml": "description: second\nhomepage: https://theirs.example\ntags:\n  topic: two\n"}, "retag")
	if _, _, err := e.st.RequestIngest(ctx, r.Slug, "refresh"); err != nil {
		t.Fatal(err)
	}
	got, err := e.ingest(r, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastCommitSHA != second || got.Description != "second" || got.Homepage != "https://mine.example" {
		t.Errorf("commit %q description %q homepage %q", got.LastCommitSHA, got.Description, got.Homepage)
	}
	tags := tagSources(got)
	if _, ok := tags["topic:one"]; ok {
		t.Errorf("old author tag kept: %v", got.Tags)
	}
	wantTags(t, got, map[string]catalog.TagSource{"topic:two": catalog.SourceAuthor, "team:ops": catalog.SourceManual, "pinned:yes": catalog.SourceManual})
}

func ptr[T any](v T) *T { return &v }

// TestTransientFailureIsRetriedThenFails uses a Git server that answers 503:
// a failure worth retrying, recorded as queued until the last attempt.
func TestTransientFailureIsRetriedThenFails(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	r := e.registerURL(srv.URL + "/acme/down.git")
	got, err := e.ingest(r, 1)
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("first attempt: %v, want an error worth retrying", err)
	}
	if got.IngestStatus != catalog.IngestQueued || !strings.Contains(got.IngestError, "attempt 1 of 5 failed") || !strings.Contains(got.IngestError, "retrying") {
		t.Errorf("after attempt 1: %s %q", got.IngestStatus, got.IngestError)
	}
	got, err = e.ingest(r, 5)
	if err == nil || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "gave up after 2 attempts; once that is fixed, `appstore refresh down` tries again") ||
		strings.Contains(got.IngestError, "will be retried") {
		t.Errorf("last attempt: %v %s %q", err, got.IngestStatus, got.IngestError)
	}
	if want := []catalog.IngestStatus{"queued", "processing", "queued", "processing", "failed"}; !slices.Equal(steps(e.timeline(r.Slug)), want) {
		t.Errorf("timeline %v, want %v", steps(e.timeline(r.Slug)), want)
	}
}

func TestOverTheSizeLimitFailsAtOnce(t *testing.T) {
	e := newEnv(t, func(c *ingest.Config) { c.MaxCloneBytes = 64 << 10 })
	repo := gitserver.NewRepoWithSize(t, "big", 4, 512<<10, 1)
	got, err := e.ingest(e.register(repo), 1)
	if !queue.IsPermanent(err) || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "64 KiB") {
		t.Errorf("%v %s %q", err, got.IngestStatus, got.IngestError)
	}
}

func TestGitDaemonAndLocalPath(t *testing.T) {
	e := newEnv(t)
	files := map[string]string{"Dockerfile": "FROM alpine:3.20\nEXPOSE 80\n", "main.go": "package main\n"}
	viaDaemon := gitserver.NewNamedRepo(t, "viagit", files)
	gd := gitserver.Daemon(t, viaDaemon)
	local := gitserver.NewNamedRepo(t, "vialocal", files)
	for _, raw := range []string{gd.URL(viaDaemon), local.FileURL()} {
		r := e.registerURL(raw)
		got, err := e.ingest(r, 1)
		if err != nil || got.IngestStatus != catalog.IngestReady || got.AppPort != 80 {
			t.Errorf("%s: %v %s %q port %d", raw, err, got.IngestStatus, got.IngestError, got.AppPort)
		}
	}
	// Without AllowLocal (not on loopback) a local path is refused for good.
	strict := newEnv(t, func(c *ingest.Config) { c.Policy = giturl.Policy{} })
	got, err := strict.ingest(strict.registerURL(local.FileURL()), 1)
	if !queue.IsPermanent(err) || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "loopback") {
		t.Errorf("local path under a strict policy: %v %s %q", err, got.IngestStatus, got.IngestError)
	}
}

func TestReconcilerRecoversAnExpiredLease(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "crashed", map[string]string{"Dockerfile": "FROM alpine\n"})
	r := e.register(repo)
	// A worker claimed it and died.
	if _, err := e.st.ClaimIngest(ctx, r.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	res, err := e.w.Reconcile(ctx, false)
	if err != nil || res.Ingestions != 0 {
		t.Fatalf("live lease reconciled: %+v %v", res, err)
	}
	if _, err := e.st.Pool().Exec(ctx, `UPDATE repositories SET ingest_lease_until = now() - interval '1 second' WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	res, err = e.w.Reconcile(ctx, false)
	jobs := e.q.Take(queue.KindIngest)
	if err != nil || res.Ingestions != 1 || len(jobs) != 1 || jobs[0].RepositoryID != r.ID {
		t.Fatalf("reconcile: %+v %v, jobs %+v", res, err, jobs)
	}
	got, err := e.ingest(r, 1)
	if err != nil || got.IngestStatus != catalog.IngestReady || got.IngestAttempts != 2 {
		t.Fatalf("recovered ingestion: %v %s attempts %d", err, got.IngestStatus, got.IngestAttempts)
	}
	tl := e.timeline(r.Slug)
	if !strings.Contains(tl[2].Message, "lease expired") {
		t.Errorf("recovery step %q does not say why", tl[2].Message)
	}
	// Nothing is left to put back, even at startup.
	if res, err := e.w.Reconcile(ctx, true); err != nil || res.Ingestions != 0 {
		t.Errorf("reconcile after recovery: %+v %v", res, err)
	}
}

func TestStartupReconcileEnqueuesEveryQueuedRepository(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fresh := e.registerURL("https://github.com/acme/fresh.git")
	// Periodically, a repository registered a moment ago still has its job
	// on the way; at startup an in-process queue lost it.
	if res, err := e.w.Reconcile(ctx, false); err != nil || res.Ingestions != 0 {
		t.Errorf("periodic pass: %+v %v", res, err)
	}
	res, err := e.w.Reconcile(ctx, true)
	jobs := e.q.Take(queue.KindIngest)
	if err != nil || res.Ingestions != 1 || len(jobs) != 1 || jobs[0].RepositoryID != fresh.ID {
		t.Errorf("startup pass: %+v %v %+v", res, err, jobs)
	}
}

func TestCrashLoopGivesUp(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.register(gitserver.NewNamedRepo(t, "oom", map[string]string{"Dockerfile": "FROM alpine\n"}))
	// Five attempts claimed it and never reported.
	for range 5 {
		if _, err := e.st.ClaimIngest(ctx, r.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.Pool().Exec(ctx, `UPDATE repositories SET ingest_lease_until = now() - interval '1 second' WHERE id = $1`, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.ingest(r, 1)
	if !queue.IsPermanent(err) || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "gave up after 5 attempts") {
		t.Errorf("%v %s %q", err, got.IngestStatus, got.IngestError)
	}
}

func TestSyncPicksUpANewCommit(t *testing.T) {
	e := newEnv(t, func(c *ingest.Config) { c.SyncInterval = time.Millisecond })
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "synced", map[string]string{"Dockerfile": "FROM alpine\n"})
	r := e.register(repo)
	if _, err := e.ingest(r, 1); err != nil {
		t.Fatal(err)
	}
	e.q.Take(queue.KindBuild)

	sync := func() {
		t.Helper()
		n, err := e.w.ScheduleSync(ctx)
		jobs := e.q.Take(queue.KindSync)
		if err != nil || n != 1 || len(jobs) != 1 {
			t.Fatalf("schedule: %d %v %+v", n, err, jobs)
		}
		if err := e.w.HandleSync(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing new: nothing queued.
	time.Sleep(2 * time.Millisecond) // the interval is 1 ms: let it pass
	sync()
	if jobs := e.q.Take(queue.KindIngest); len(jobs) != 0 {
		t.Fatalf("unchanged remote re-ingested: %+v", jobs)
	}
	next := repo.Commit(t, map[string]string{"README.md": "# new\n"}, "docs")
	time.Sleep(2 * time.Millisecond)
	sync()
	jobs := e.q.Take(queue.KindIngest)
	got, _ := e.st.Repository(ctx, r.Slug)
	if len(jobs) != 1 || got.IngestStatus != catalog.IngestQueued {
		t.Fatalf("new commit: jobs %+v status %s", jobs, got.IngestStatus)
	}
	tl := e.timeline(r.Slug)
	if last := tl[len(tl)-1]; last.Status != catalog.IngestQueued || !strings.Contains(last.Message, "sync: main moved") || !strings.Contains(last.Message, next[:12]) {
		t.Errorf("sync step %+v", last)
	}
	got, err := e.ingest(r, 1)
	if err != nil || got.LastCommitSHA != next {
		t.Errorf("re-ingested: %v commit %q want %q", err, got.LastCommitSHA, next)
	}
}

func TestKeptCheckoutIsTakenByABuild(t *testing.T) {
	e := newEnv(t, func(c *ingest.Config) { c.KeepCheckouts = true })
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "kept", map[string]string{"Dockerfile": "FROM alpine\n", "app/main.go": "package main\n"})
	r := e.register(repo)
	reingest := func(files map[string]string) string {
		t.Helper()
		sha := repo.Commit(t, files, "change")
		if _, _, err := e.st.RequestIngest(ctx, r.Slug, "refresh"); err != nil {
			t.Fatal(err)
		}
		if got, err := e.ingest(r, 1); err != nil || got.LastCommitSHA != sha {
			t.Fatalf("re-ingest: %v %q", err, got.LastCommitSHA)
		}
		return sha
	}
	got, err := e.ingest(r, 1)
	if err != nil {
		t.Fatal(err)
	}
	first := got.LastCommitSHA

	// TakeCheckout moves it away, once.
	dest := filepath.Join(e.dataDir, "build-1")
	ok, err := ingest.TakeCheckout(e.dataDir, r.ID, first, dest)
	if err != nil || !ok {
		t.Fatalf("take: %v %v", ok, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "app", "main.go")); err != nil || string(b) != "package main\n" {
		t.Errorf("taken checkout: %q %v", b, err)
	}
	if ok, _ := ingest.TakeCheckout(e.dataDir, r.ID, first, filepath.Join(e.dataDir, "build-2")); ok {
		t.Error("a checkout was taken twice")
	}
	if _, _, ok := ingest.LocalCheckout(e.dataDir)(r.ID, first); ok {
		t.Error("the build hook found a checkout already taken")
	}
	if p := ingest.CheckoutPath(e.dataDir, r.ID, "../../etc"); p != "" {
		t.Errorf("path of a bad commit: %q", p)
	}

	// Only the newest checkout of a repository stays.
	second := reingest(map[string]string{"a": "1"})
	third := reingest(map[string]string{"b": "2"})
	if _, err := os.Stat(ingest.CheckoutPath(e.dataDir, r.ID, second)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("older checkout kept: %v", err)
	}

	// The build worker's hook takes it and removes it when released.
	dir, release, ok := ingest.LocalCheckout(e.dataDir)(r.ID, third)
	if !ok {
		t.Fatal("the build hook found no checkout")
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err != nil {
		t.Errorf("hook's checkout: %v", err)
	}
	release()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("released checkout still there: %v", err)
	}

	// Nobody takes the next one: pruning removes it once it is old.
	fourth := reingest(map[string]string{"c": "3"})
	if n, err := ingest.PruneCheckouts(e.dataDir, time.Hour); err != nil || n != 0 {
		t.Errorf("prune of a fresh checkout: %d %v", n, err)
	}
	if n, err := ingest.PruneCheckouts(e.dataDir, 0); err != nil || n != 1 {
		t.Errorf("prune: %d %v", n, err)
	}
	if _, err := os.Stat(ingest.CheckoutPath(e.dataDir, r.ID, fourth)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pruned checkout still there: %v", err)
	}
}

// TestRepositoryWithoutDockerfileGetsACard: the ingestion fails (nothing to
// build), but the catalog shows what the app is.
func TestRepositoryWithoutDockerfileGetsACard(t *testing.T) {
	e := newEnv(t)
	repo := gitserver.NewNamedRepo(t, "md-toc", map[string]string{
		"README.md":    "# md-toc\n\n[![npm](https://img.shields.io/npm/v/md-toc.svg)](https://npm.example)\n\nKeeps a table of contents up to date.\n",
		"package.json": `{"name": "md-toc", "license": "ISC"}`,
		"bin/toc.js":   "console.log(1)\n",
	})
	got, err := e.ingest(e.register(repo), 1)
	if err == nil || !queue.IsPermanent(err) || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "no Dockerfile found") {
		t.Fatalf("handler %v, status %s %q", err, got.IngestStatus, got.IngestError)
	}
	if got.Name != "md-toc" || got.Description != "Keeps a table of contents up to date." {
		t.Errorf("card: name %q description %q", got.Name, got.Description)
	}
	wantTags(t, got, map[string]catalog.TagSource{"lang:javascript": catalog.SourceAuto, "license:isc": catalog.SourceAuthor})
	if got.DockerfilePath != "" || got.LatestBuild != nil || len(e.q.Take(queue.KindBuild)) != 0 {
		t.Errorf("a repository without a Dockerfile got a build: %q %+v", got.DockerfilePath, got.LatestBuild)
	}
}

// TestCardOfAComposeMonorepo runs the Flask project through the
// worker: the build record carries the service's Dockerfile and context,
// the metadata says why and lists the proxy's Dockerfile.
func TestCardOfAComposeMonorepo(t *testing.T) {
	e := newEnv(t)
	repo := gitserver.NewNamedRepo(t, "flask-on-docker", map[string]string{
		"README.md":                     "title: Notes\nemoji: 📝\nsdk: docker\n\n# Notes\n\nNotes with Flask, Postgres and Nginx.\n",
		"docker-compose.yml":            "services:\n  web:\n    build: ./services/web\n    expose: [5000]\n  nginx:\n    build: ./services/nginx\n    ports: ['1337:80']\n    depends_on: [web]\n  db:\n    image: postgres:15\n",
		"services/web/Dockerfile":       "FROM python:3.11-slim\nCOPY requirements.txt .\nCOPY . .\nCMD gunicorn --bind 0.0.0.0:5000 manage:app\n",
		"services/web/requirements.txt": "Flask==2.3.2\ngunicorn\n",
		"services/web/manage.py":        "from flask import Flask\napp = Flask(__name__)\n",
		"services/nginx/Dockerfile":     "FROM nginx:1.25\nCOPY nginx.conf /etc/nginx/conf.d\n",
		"services/nginx/nginx.conf":     "server {}\n",
	})
	got, err := e.ingest(e.register(repo), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Notes" || got.Emoji != "📝" || got.DockerfilePath != "services/web/Dockerfile" || got.ContextPath != "services/web" ||
		got.AppPort != 5000 || got.PortSource != catalog.PortFromCompose {
		t.Errorf("card %q %q %q %q %d %q", got.Name, got.Emoji, got.DockerfilePath, got.ContextPath, got.AppPort, got.PortSource)
	}
	wantTags(t, got, map[string]catalog.TagSource{"framework:flask": catalog.SourceAuto, "sdk:docker": catalog.SourceAuthor})
	var meta catalog.RepositoryMetadata
	if err := json.Unmarshal(got.Metadata, &meta); err != nil || meta.Build == nil || meta.HF == nil {
		t.Fatalf("metadata %s: %v", got.Metadata, err)
	}
	if meta.Build.Source != catalog.ChoiceCompose || meta.Build.ComposeService != "web" || meta.HF.Emoji != "📝" ||
		len(meta.Build.Others) != 1 || meta.Build.Others[0].Path != "services/nginx/Dockerfile" || !strings.Contains(meta.Build.Others[0].Why, "proxy") {
		t.Errorf("build choice %+v hf %+v", meta.Build, meta.HF)
	}
	b, err := e.st.Build(context.Background(), got.LatestBuild.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.DockerfilePath != "services/web/Dockerfile" || b.ContextPath != "services/web" {
		t.Errorf("build %d builds %q in %q", b.ID, b.DockerfilePath, b.ContextPath)
	}
}

// TestRootContextReachesTheBuild: deploy/Dockerfile whose sources are at
// the root builds with the root as context, and the queued build says so.
func TestRootContextReachesTheBuild(t *testing.T) {
	e := newEnv(t)
	repo := gitserver.NewNamedRepo(t, "deploy-root", map[string]string{
		"deploy/Dockerfile": "FROM golang:1.22\nCOPY go.mod main.go ./\nRUN go build -o /app .\nCMD [\"/app\", \"-port=9090\"]\n",
		"go.mod":            "module x\n\ngo 1.22\n",
		"main.go":           "package main\n\nfunc main() {}\n",
	})
	got, err := e.ingest(e.register(repo), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.st.Build(context.Background(), got.LatestBuild.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ContextPath != "." || b.DockerfilePath != "deploy/Dockerfile" || b.ContextPath != "." || got.AppPort != 9090 || got.PortSource != catalog.PortFromCmd {
		t.Errorf("repository context %q port %d (%s); build %q in %q", got.ContextPath, got.AppPort, got.PortSource, b.DockerfilePath, b.ContextPath)
	}
	tl := e.timeline(got.Slug)
	if msg := tl[len(tl)-1].Message; !strings.Contains(msg, "deploy/Dockerfile") || !strings.Contains(msg, "port 9090 from cmd") {
		t.Errorf("ready step %q", msg)
	}
}

// TestSyncRefreshesCardsOfOlderRules: a repository whose card was derived
// before the rules changed (card_version below metadata.CardVersion) is
// read again by the sync although its commit did not move; the user's
// fields still win, and a second sync leaves it alone.
func TestSyncRefreshesCardsOfOlderRules(t *testing.T) {
	e := newEnv(t, func(c *ingest.Config) { c.SyncInterval = time.Millisecond })
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "hackrx-repo", map[string]string{
		"README.md":  "title: HackRx Policy QA\nsdk: docker\napp_port: 7860\n\n# HackRx\n\nAnswers questions about policies.\n",
		"Dockerfile": "FROM python:3.11\nCMD uvicorn main:app --port 7860\n",
	})
	r := e.register(repo)
	if _, err := e.ingest(r, 1); err != nil {
		t.Fatal(err)
	}
	e.q.Take(queue.KindBuild)
	// As an older appstore left it: the repository's name, no
	// description, no port source, card_version 0.
	if _, err := e.st.Pool().Exec(ctx, `UPDATE repositories SET name = 'hackrx-repo', description = '', port_source = '', card_version = 0 WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateRepository(ctx, r.Slug, store.RepositoryUpdate{Homepage: ptr("https://mine.example")}); err != nil {
		t.Fatal(err)
	}
	sync := func() []queue.Job {
		t.Helper()
		time.Sleep(2 * time.Millisecond) // the interval is 1 ms: let it pass
		n, err := e.w.ScheduleSync(ctx)
		jobs := e.q.Take(queue.KindSync)
		if err != nil || n != 1 || len(jobs) != 1 {
			t.Fatalf("schedule: %d %v %+v", n, err, jobs)
		}
		if err := e.w.HandleSync(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
		return e.q.Take(queue.KindIngest)
	}
	if jobs := sync(); len(jobs) != 1 {
		t.Fatalf("card of older rules: %d ingest jobs, want 1", len(jobs))
	}
	tl := e.timeline(r.Slug)
	if last := tl[len(tl)-1]; !strings.Contains(last.Message, "app cards are now read differently") {
		t.Errorf("sync step %q", last.Message)
	}
	got, err := e.ingest(r, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "HackRx Policy QA" || got.Description != "Answers questions about policies." || got.PortSource != catalog.PortFromReadme || got.Homepage != "https://mine.example" {
		t.Errorf("refreshed card: %q %q %q %q", got.Name, got.Description, got.PortSource, got.Homepage)
	}
	if jobs := sync(); len(jobs) != 0 {
		t.Errorf("card of the current rules re-read: %+v", jobs)
	}
}
