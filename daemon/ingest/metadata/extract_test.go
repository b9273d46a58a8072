package metadata_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
)

// writeRepo lays out a repository tree in a fresh directory and returns it.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func extract(t *testing.T, root string, opts metadata.Options) *metadata.Result {
	t.Helper()
	res, err := metadata.Extract(context.Background(), root, opts)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return res
}

// extractErr runs Extract, wants a permanent *metadata.Error and returns it.
func extractErr(t *testing.T, root string, opts metadata.Options) *metadata.Error {
	t.Helper()
	res, err := metadata.Extract(context.Background(), root, opts)
	if err == nil {
		t.Fatalf("Extract succeeded (dockerfile %q), want an error", res.DockerfilePath)
	}
	var me *metadata.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *metadata.Error", err, err)
	}
	if !metadata.IsPermanent(err) {
		t.Fatalf("error %v is not permanent", err)
	}
	return me
}

// tagSources maps "key:value" to its source.
func tagSources(res *metadata.Result) map[string]catalog.TagSource {
	m := map[string]catalog.TagSource{}
	for _, t := range res.Tags {
		m[t.String()] = t.Source
	}
	return m
}

func wantTags(t *testing.T, res *metadata.Result, want map[string]catalog.TagSource) {
	t.Helper()
	got := tagSources(res)
	for k, src := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("tag %s missing; tags: %v", k, res.Tags)
		case g != src:
			t.Errorf("tag %s has source %s, want %s", k, g, src)
		}
	}
}

func noTags(t *testing.T, res *metadata.Result, keys ...string) {
	t.Helper()
	got := tagSources(res)
	for _, k := range keys {
		if _, ok := got[k]; ok {
			t.Errorf("tag %s present, want absent; tags: %v", k, res.Tags)
		}
	}
}

const mitText = `MIT License

Copyright (c) 2024 Acme

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
`

func TestNodeRepo(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"package.json": `{
  "name": "dash",
  "description": "A team dashboard\nwith charts",
  "homepage": "https://dash.example.org",
  "keywords": ["Dashboard", "charts", "Real Time"],
  "license": "MIT",
  "dependencies": {"next": "14.2.0", "react": "18.2.0", "react-dom": "18.2.0"},
  "devDependencies": {"typescript": "5.4.0"}
}`,
		"Dockerfile": `# syntax=docker/dockerfile:1
FROM node:20-alpine AS deps
WORKDIR /app
COPY package.json ./
RUN npm install

FROM node:20-alpine AS build
COPY --from=deps /app/node_modules ./node_modules
RUN npm run build

FROM node:20-alpine
ENV NODE_ENV=production PORT=3000
COPY --from=build /app/.next ./.next
EXPOSE ${PORT}/tcp
USER node
HEALTHCHECK --interval=30s CMD wget -qO- http://localhost:3000/ || exit 1
CMD ["npm", "start"]
`,
		"src/app/page.tsx":    strings.Repeat("export default function Page() { return null }\n", 40),
		"src/lib/util.ts":     strings.Repeat("export const x = 1\n", 40),
		"next.config.js":      "module.exports = {}\n",
		"node_modules/x/a.js": strings.Repeat("var a = 1;\n", 10000),
		"LICENSE":             mitText,
	})
	res := extract(t, root, metadata.Options{})
	if res.DockerfilePath != "Dockerfile" || res.ContextPath != "." {
		t.Errorf("dockerfile %q context %q, want Dockerfile and .", res.DockerfilePath, res.ContextPath)
	}
	if res.Name != "dash" || res.Description != "A team dashboard with charts" || res.Homepage != "https://dash.example.org" {
		t.Errorf("name %q description %q homepage %q", res.Name, res.Description, res.Homepage)
	}
	if res.Port != 3000 || res.PortSource != metadata.PortFromExpose {
		t.Errorf("port %d from %q, want 3000 from expose", res.Port, res.PortSource)
	}
	d := res.Dockerfile
	if d.BaseImage != "node:20-alpine" || d.Stages != 3 || d.User != "node" || !d.Healthcheck || !slices.Equal(d.Expose, []int{3000}) {
		t.Errorf("dockerfile info %+v", d)
	}
	wantTags(t, res, map[string]catalog.TagSource{
		"framework:next":  catalog.SourceAuto,
		"framework:react": catalog.SourceAuto, // used together: both findable
		"runtime:node":    catalog.SourceAuto,
		"lang:typescript": catalog.SourceAuto,
		"topic:dashboard": catalog.SourceAuthor,
		"topic:real-time": catalog.SourceAuthor,
		// Declared in package.json and detected from LICENSE: the author wins.
		"license:mit": catalog.SourceAuthor,
	})
	// node_modules is not the app's code.
	noTags(t, res, "lang:javascript")
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %q", res.Warnings)
	}
}

func TestGoRepo(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"go.mod": `module github.com/acme/todo

go 1.22.1

require (
	github.com/gin-gonic/gin v1.10.0
	github.com/go-chi/chi/v5 v5.0.12 // indirect
)

require github.com/labstack/echo/v4 v4.12.0 // indirect
`,
		"main.go":          "package main\n\nfunc main() {}\n" + strings.Repeat("// filler\n", 100),
		"internal/x/x.go":  "package x\n",
		"web/index.html":   "<html></html>\n",
		"scripts/build.sh": "#!/bin/sh\n",
		"Dockerfile": `ARG GO_VERSION=1.22
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /app .

FROM scratch
COPY --from=build /app /app
EXPOSE 8080 9090
USER 65534:65534
ENTRYPOINT ["/app"]
`,
		"LICENSE": readLicense(t, "Apache-2.0"),
	})
	res := extract(t, root, metadata.Options{})
	wantTags(t, res, map[string]catalog.TagSource{
		"framework:gin":      catalog.SourceAuto,
		"runtime:scratch":    catalog.SourceAuto,
		"lang:go":            catalog.SourceAuto,
		"license:apache-2.0": catalog.SourceAuto,
	})
	noTags(t, res, "framework:chi", "framework:echo", "runtime:golang", "lang:html")
	if res.Dockerfile.BaseImage != "scratch" || res.Dockerfile.Stages != 2 || res.Dockerfile.User != "65534:65534" || res.Dockerfile.Healthcheck {
		t.Errorf("dockerfile info %+v", res.Dockerfile)
	}
	if res.Port != 8080 || !slices.Equal(res.Dockerfile.Expose, []int{8080, 9090}) {
		t.Errorf("port %d expose %v", res.Port, res.Dockerfile.Expose)
	}
	if res.Facts["go.module"] != "github.com/acme/todo" || res.Facts["go.version"] != "1.22.1" {
		t.Errorf("facts %v", res.Facts)
	}
}

func TestPythonRepo(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"requirements.txt": `# web
-r requirements-dev.txt
Flask[async]>=2.0 ; python_version > "3.8"
gunicorn==21.2
git+https://example.org/x.git#egg=django
`,
		"pyproject.toml": `[build-system]
requires = ["setuptools"]

[project]
name = "inventory"
description = "Stock levels at a glance"  # shown in the store
license = "BSD-3-Clause"
keywords = ["inventory", "stock"]
dependencies = [
    "FastAPI>=0.110",  # the API
    'uvicorn[standard]',
    "streamlit ; extra == 'ui'",
]

[project.optional-dependencies]
dev = ["pytest", "django"]
`,
		"app/main.py":     strings.Repeat("print('hello')\n", 50),
		"app/static/x.js": "var a;\n",
		"Dockerfile": `FROM python:3.12-slim
ARG PORT=8000
ENV APP_PORT=$PORT
EXPOSE $APP_PORT
CMD ["uvicorn", "app.main:app"]
`,
	})
	res := extract(t, root, metadata.Options{})
	wantTags(t, res, map[string]catalog.TagSource{
		"framework:flask":      catalog.SourceAuto,
		"framework:fastapi":    catalog.SourceAuto,
		"framework:streamlit":  catalog.SourceAuto,
		"runtime:python":       catalog.SourceAuto,
		"lang:python":          catalog.SourceAuto,
		"topic:inventory":      catalog.SourceAuthor,
		"license:bsd-3-clause": catalog.SourceAuthor,
	})
	// Django appears only in a URL requirement and an optional group.
	noTags(t, res, "framework:django", "lang:javascript")
	if res.Port != 8000 || res.PortSource != metadata.PortFromExpose {
		t.Errorf("port %d from %q, want 8000 from expose", res.Port, res.PortSource)
	}
	if res.Name != "inventory" || res.Description != "Stock levels at a glance" {
		t.Errorf("name %q description %q", res.Name, res.Description)
	}
}

func TestHuggingFaceSpace(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"README.md": `---
title: Chat With Docs
emoji: 🦙
colorFrom: blue
colorTo: green
sdk: docker
app_port: 7860
pinned: false
tags:
  - chat
  - LLM
license: apache-2.0
short_description: Ask questions about your documents
---

# Chat with docs

Upload a PDF and ask away.
`,
		"Dockerfile":       "FROM python:3.11\nEXPOSE 8000\nCMD [\"python\", \"app.py\"]\n",
		"app.py":           "import gradio\n",
		"requirements.txt": "gradio==4.31\nfastapi\n",
	})
	res := extract(t, root, metadata.Options{})
	if res.Port != 7860 || res.PortSource != metadata.PortFromReadme {
		t.Errorf("port %d from %q, want 7860 from readme (over EXPOSE 8000)", res.Port, res.PortSource)
	}
	if res.Name != "Chat With Docs" || res.Description != "Ask questions about your documents" {
		t.Errorf("name %q description %q", res.Name, res.Description)
	}
	wantTags(t, res, map[string]catalog.TagSource{
		"sdk:docker":         catalog.SourceAuthor,
		"topic:chat":         catalog.SourceAuthor,
		"topic:llm":          catalog.SourceAuthor,
		"license:apache-2.0": catalog.SourceAuthor,
		"framework:gradio":   catalog.SourceAuto,
		// Gradio mounted in FastAPI: both are declared, both are tagged.
		"framework:fastapi": catalog.SourceAuto,
		"runtime:python":    catalog.SourceAuto,
	})
	if strings.Contains(res.Readme, "sdk:") || !strings.HasPrefix(res.Readme, "# Chat with docs") || !strings.Contains(res.Readme, "Upload a PDF") {
		t.Errorf("readme text %q: want the body without front matter", res.Readme)
	}
}

func TestHuggingFaceSpaceDefaultPort(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"README.md":  "---\ntitle: Echo\nsdk: docker\n---\nEcho server.\n",
		"Dockerfile": "FROM alpine:3.20\nCMD [\"/echo\"]\n",
	})
	res := extract(t, root, metadata.Options{})
	if res.Port != 7860 || res.PortSource != metadata.PortFromHFDefault {
		t.Errorf("port %d from %q, want the Spaces default 7860 from hf-default", res.Port, res.PortSource)
	}
	// The Dockerfile's own word comes first: the default is the last resort.
	root = writeRepo(t, map[string]string{
		"README.md":  "---\ntitle: Echo\nsdk: docker\n---\nEcho server.\n",
		"Dockerfile": "FROM alpine:3.20\nEXPOSE 80\n",
	})
	res = extract(t, root, metadata.Options{})
	if res.Port != 80 || res.PortSource != metadata.PortFromExpose {
		t.Errorf("port %d from %q, want 80 from expose", res.Port, res.PortSource)
	}
}

func TestTagsFile(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"tags.yaml": `name: Team Dash
description: |
  Dashboards for
  the whole team.
homepage: https://example.org/dash
tags:
  category: Data Science
  topic: [metrics, charts]
  lang: go
  "bad key!": x
port: 3000
dockerfile: deploy/app.Dockerfile
context: .
resources: Small
colour: blue
`,
		"README.md":             "---\ntitle: Other Title\napp_port: 9000\n---\ntext\n",
		"deploy/app.Dockerfile": "FROM golang:1.22\nEXPOSE 8080\n",
		"main.go":               "package main\n",
		"Dockerfile":            "FROM busybox\n",
	})
	res := extract(t, root, metadata.Options{})
	if res.DockerfilePath != "deploy/app.Dockerfile" || res.ContextPath != "." {
		t.Errorf("dockerfile %q context %q", res.DockerfilePath, res.ContextPath)
	}
	if res.Port != 3000 || res.PortSource != metadata.PortFromTagsFile {
		t.Errorf("port %d from %q, want 3000 from tags.yaml", res.Port, res.PortSource)
	}
	if res.Name != "Team Dash" || res.Description != "Dashboards for the whole team." || res.Homepage != "https://example.org/dash" || res.Resources != "small" {
		t.Errorf("name %q description %q homepage %q resources %q", res.Name, res.Description, res.Homepage, res.Resources)
	}
	wantTags(t, res, map[string]catalog.TagSource{
		"category:data-science": catalog.SourceAuthor,
		"topic:metrics":         catalog.SourceAuthor,
		"topic:charts":          catalog.SourceAuthor,
		// Declared and detected: declared wins.
		"lang:go":        catalog.SourceAuthor,
		"runtime:golang": catalog.SourceAuto,
	})
	warnings := strings.Join(res.Warnings, "\n")
	for _, want := range []string{`tags.yaml:15: unknown field "colour"`, `tags.yaml:10: tag "bad key!:x" ignored`} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings %q lack %q", res.Warnings, want)
		}
	}

	// The user's declaration wins over tags.yaml's.
	res = extract(t, root, metadata.Options{Dockerfile: "Dockerfile"})
	if res.DockerfilePath != "Dockerfile" || res.Dockerfile.BaseImage != "busybox" {
		t.Errorf("with a declared Dockerfile: %q base %q", res.DockerfilePath, res.Dockerfile.BaseImage)
	}
}

func TestTagsFileListForm(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"tags.yml":   "tags:\n  - category:games\n  - nocolon\n",
		"Dockerfile": "FROM nginx:1.27\n",
	})
	res := extract(t, root, metadata.Options{})
	wantTags(t, res, map[string]catalog.TagSource{"category:games": catalog.SourceAuthor, "runtime:nginx": catalog.SourceAuto})
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "tags.yml:3: a tag in a list must be key:value") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestDockerfileInSubfolder(t *testing.T) {
	root := writeRepo(t, map[string]string{
		".devcontainer/Dockerfile": "FROM mcr.microsoft.com/devcontainers/base\n",
		"node_modules/Dockerfile":  "FROM node\n",
		"services/api/Dockerfile":  "FROM golang\n",
		"web/Dockerfile":           "FROM node:20\nEXPOSE 5173\n",
		"app/Dockerfile":           "FROM ghcr.io/acme/runtimes/deno:1.44@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
		"app/main.ts":              "console.log(1)\n",
		"app/deno.json":            "{}\n",
	})
	res := extract(t, root, metadata.Options{})
	// The shallowest beside an application manifest; dot-folders and
	// node_modules are not the app.
	if res.DockerfilePath != "app/Dockerfile" || res.ContextPath != "app" {
		t.Errorf("dockerfile %q context %q, want app/Dockerfile and app", res.DockerfilePath, res.ContextPath)
	}
	wantTags(t, res, map[string]catalog.TagSource{"runtime:deno": catalog.SourceAuto})
}

func TestDockerfileSearchIsBounded(t *testing.T) {
	files := map[string]string{"a/b/c/d/Dockerfile": "FROM alpine\n"}
	root := writeRepo(t, files)
	me := extractErr(t, root, metadata.Options{Limits: metadata.Limits{WalkDepth: 3}})
	if !strings.Contains(me.Error(), "up to 3 levels deep") {
		t.Errorf("error %q should say how deep it looked", me)
	}
	res := extract(t, root, metadata.Options{Limits: metadata.Limits{WalkDepth: 4}})
	if res.DockerfilePath != "a/b/c/d/Dockerfile" {
		t.Errorf("dockerfile %q", res.DockerfilePath)
	}
}

func TestDockerfileDirectoryIsSkipped(t *testing.T) {
	root := writeRepo(t, map[string]string{"Dockerfile/README": "not a file\n", "Containerfile": "FROM alpine\n"})
	res := extract(t, root, metadata.Options{})
	if res.DockerfilePath != "Containerfile" {
		t.Errorf("dockerfile %q", res.DockerfilePath)
	}
	me := extractErr(t, root, metadata.Options{Dockerfile: "Dockerfile"})
	if !strings.Contains(me.Error(), "is a directory; declare the file itself, e.g. Dockerfile/Dockerfile") {
		t.Errorf("error %q", me)
	}
}

func TestWalkEntriesBound(t *testing.T) {
	files := map[string]string{"sub/Dockerfile": "FROM alpine\n"}
	for i := 0; i < 20; i++ {
		files["f"+strconv.Itoa(i)+".go"] = "package main\n"
	}
	root := writeRepo(t, files)
	me := extractErr(t, root, metadata.Options{Limits: metadata.Limits{WalkEntries: 5}})
	if !strings.Contains(me.Error(), "the search stopped after 5 entries") {
		t.Errorf("error %q", me)
	}
	res := extract(t, root, metadata.Options{})
	if res.DockerfilePath != "sub/Dockerfile" {
		t.Errorf("dockerfile %q", res.DockerfilePath)
	}
}

func TestContainerfile(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"Containerfile":  "FROM registry.fedoraproject.org/fedora:40\nEXPOSE 8000\n",
		"sub/Dockerfile": "FROM alpine\n",
	})
	res := extract(t, root, metadata.Options{})
	if res.DockerfilePath != "Containerfile" || res.ContextPath != "." {
		t.Errorf("dockerfile %q context %q", res.DockerfilePath, res.ContextPath)
	}
	wantTags(t, res, map[string]catalog.TagSource{"runtime:fedora": catalog.SourceAuto})
}

func TestNoDockerfile(t *testing.T) {
	root := writeRepo(t, map[string]string{"main.go": "package main\n", "README.md": "hi\n"})
	me := extractErr(t, root, metadata.Options{})
	for _, want := range []string{"no Dockerfile found", "Dockerfile and Containerfile at the repository root", "sub-folders", `"dockerfile:" in tags.yaml`} {
		if !strings.Contains(me.Error(), want) {
			t.Errorf("error %q lacks %q", me, want)
		}
	}
}

func TestDeclaredDockerfileMissing(t *testing.T) {
	root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "tags.yaml": "dockerfile: docker/Dockerfile\n"})
	me := extractErr(t, root, metadata.Options{})
	if me.File != "docker/Dockerfile" || !strings.Contains(me.Error(), "declared by tags.yaml does not exist") {
		t.Errorf("error %q (file %q)", me, me.File)
	}
	me = extractErr(t, root, metadata.Options{Dockerfile: "build/Dockerfile.prod"})
	if me.File != "build/Dockerfile.prod" || !strings.Contains(me.Error(), "dockerfile setting does not exist") {
		t.Errorf("error %q (file %q)", me, me.File)
	}
	root = writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n"})
	me = extractErr(t, root, metadata.Options{Context: "nope"})
	if !strings.Contains(me.Error(), "build context declared by the repository's context setting does not exist") {
		t.Errorf("error %q", me)
	}
}

func TestInvalidDockerfile(t *testing.T) {
	cases := []struct {
		name, content string
		line          int
		want          string
	}{
		{"unknown instruction", "FROM alpine\nRUN true\nFORM alpine\n", 3, `unknown instruction "FORM"`},
		{"before FROM", "# comment\nRUN echo hi\nFROM alpine\n", 2, "RUN comes before the first FROM"},
		{"unterminated heredoc", "FROM alpine\nRUN <<EOF\necho hi\n", 2, "unterminated heredoc"},
		{"env without value", "FROM alpine\n\nENV ONLYKEY\n", 3, "ENV must have two arguments"},
		{"bad json", "FROM alpine\nCMD [\"a\", 1]\n", 2, "JSON array"},
		{"from without image", "ARG X\nFROM\n", 2, "FROM without an image"},
		{"bad escape directive", "# escape=x\nFROM alpine\n", 1, "invalid escape token"},
		{"empty", "# nothing here\n\n", 0, "has no instructions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeRepo(t, map[string]string{"Dockerfile": c.content})
			me := extractErr(t, root, metadata.Options{})
			if me.File != "Dockerfile" || me.Line != c.line || !strings.Contains(me.Error(), c.want) {
				t.Errorf("error %q (file %q line %d), want Dockerfile line %d and %q", me, me.File, me.Line, c.line, c.want)
			}
		})
	}
}

func TestSymlinkedDockerfileOutside(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "Dockerfile"), []byte("FROM alpine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("relative", func(t *testing.T) {
		root := writeRepo(t, nil)
		rel, err := filepath.Rel(root, filepath.Join(outside, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		symlink(t, rel, filepath.Join(root, "Dockerfile"))
		me := extractErr(t, root, metadata.Options{})
		if !strings.Contains(me.Error(), "outside the repository; refused") || !strings.Contains(me.Error(), `"Dockerfile" is a symbolic link`) {
			t.Errorf("error %q", me)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		root := writeRepo(t, nil)
		symlink(t, filepath.Join(outside, "Dockerfile"), filepath.Join(root, "Dockerfile"))
		me := extractErr(t, root, metadata.Options{})
		if !strings.Contains(me.Error(), "outside the repository; refused") {
			t.Errorf("error %q", me)
		}
	})
	t.Run("directory link", func(t *testing.T) {
		root := writeRepo(t, nil)
		symlink(t, outside, filepath.Join(root, "docker"))
		me := extractErr(t, root, metadata.Options{Dockerfile: "docker/Dockerfile"})
		if !strings.Contains(me.Error(), `"docker" is a symbolic link`) {
			t.Errorf("error %q", me)
		}
		// The walk does not follow the link either.
		me = extractErr(t, root, metadata.Options{})
		if !strings.Contains(me.Error(), "no Dockerfile found") {
			t.Errorf("error %q", me)
		}
	})
	t.Run("tags.yaml link", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n"})
		symlink(t, "../../../../../../../../etc/hostname", filepath.Join(root, "tags.yaml"))
		me := extractErr(t, root, metadata.Options{})
		if !strings.Contains(me.Error(), "tags.yaml") || !strings.Contains(me.Error(), "outside the repository") {
			t.Errorf("error %q", me)
		}
	})
	t.Run("optional files", func(t *testing.T) {
		// A README or LICENSE that leaves the repository is skipped, not
		// read, and the ingestion goes on.
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n"})
		symlink(t, filepath.Join(outside, "Dockerfile"), filepath.Join(root, "README.md"))
		symlink(t, "../../secret/Dockerfile", filepath.Join(root, "LICENSE"))
		res := extract(t, root, metadata.Options{})
		w := strings.Join(res.Warnings, "\n")
		if res.Readme != "" || !strings.Contains(w, `README.md: "README.md" is a symbolic link`) || !strings.Contains(w, `LICENSE: "LICENSE" is a symbolic link`) {
			t.Errorf("readme %q warnings %q", res.Readme, res.Warnings)
		}
	})
	t.Run("inside is fine", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"docker/Dockerfile.prod": "FROM caddy:2\nEXPOSE 80\n"})
		symlink(t, "docker/Dockerfile.prod", filepath.Join(root, "Dockerfile"))
		res := extract(t, root, metadata.Options{})
		// The build gets the real file; the context stays where the link is.
		if res.DockerfilePath != "docker/Dockerfile.prod" || res.ContextPath != "." || res.Port != 80 {
			t.Errorf("dockerfile %q context %q port %d", res.DockerfilePath, res.ContextPath, res.Port)
		}
	})
}

func TestDeclaredPathLeavesRepository(t *testing.T) {
	root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n"})
	for _, p := range []string{"../Dockerfile", "a/../../Dockerfile", "/etc/passwd", `docker\Dockerfile`} {
		me := extractErr(t, root, metadata.Options{Dockerfile: p})
		if !strings.Contains(me.Error(), "the Dockerfile declared by the repository's dockerfile setting") {
			t.Errorf("%s: error %q", p, me)
		}
	}
	root = writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "tags.yaml": "context: ../..\n"})
	me := extractErr(t, root, metadata.Options{})
	if !strings.Contains(me.Error(), `"../.." leaves the repository`) || !strings.Contains(me.Error(), "declared by tags.yaml") {
		t.Errorf("error %q", me)
	}
}

func TestHugeTagsFile(t *testing.T) {
	big := "tags:\n" + strings.Repeat("  topic: x\n", 5452595/11+1)
	root := writeRepo(t, map[string]string{"tags.yaml": big, "Dockerfile": "FROM alpine\n"})
	me := extractErr(t, root, metadata.Options{})
	if me.File != "tags.yaml" || !strings.Contains(me.Error(), "file is 5.2 MiB, larger than the 64 KiB limit") {
		t.Errorf("error %q", me)
	}
	// A configured limit applies.
	root = writeRepo(t, map[string]string{"tags.yaml": "name: " + strings.Repeat("x", 200) + "\n", "Dockerfile": "FROM alpine\n"})
	me = extractErr(t, root, metadata.Options{Limits: metadata.Limits{TagsYAML: 100}})
	if !strings.Contains(me.Error(), "larger than the 100 bytes limit") {
		t.Errorf("error %q", me)
	}
}

func TestHugeDockerfile(t *testing.T) {
	root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n" + strings.Repeat("RUN true\n", 2000)})
	me := extractErr(t, root, metadata.Options{Limits: metadata.Limits{Dockerfile: 1024}})
	if me.File != "Dockerfile" || !strings.Contains(me.Error(), "larger than the 1 KiB limit") {
		t.Errorf("error %q", me)
	}
}

func TestOversizedOptionalFilesAreSkipped(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"Dockerfile":   "FROM alpine\n",
		"README.md":    "---\ntitle: Big\n---\n" + strings.Repeat("words ", 2000),
		"package.json": `{"name": "big", "keywords": ["k"]}` + strings.Repeat(" ", 5000),
	})
	res := extract(t, root, metadata.Options{Limits: metadata.Limits{Readme: 1024, Manifest: 1024}})
	if res.Name != "" || res.Readme != "" {
		t.Errorf("name %q readme %d bytes: oversized files should be skipped", res.Name, len(res.Readme))
	}
	w := strings.Join(res.Warnings, "\n")
	if !strings.Contains(w, "README.md: file is 11.7 KiB, larger than the 1 KiB limit; make it smaller; skipped") || !strings.Contains(w, "package.json: file is") {
		t.Errorf("warnings %q", res.Warnings)
	}
	// The README text kept for search is capped.
	res = extract(t, root, metadata.Options{Limits: metadata.Limits{ReadmeText: 100}})
	if len(res.Readme) > 100 || !strings.HasPrefix(res.Readme, "words") {
		t.Errorf("readme %d bytes %q", len(res.Readme), res.Readme)
	}
}

// tagsAdvice ends the error of a tags.yaml that cannot be used.
const tagsAdvice = "; fix tags.yaml and push (the card is read without it until then)"

func TestMalformedFiles(t *testing.T) {
	t.Run("tags.yaml", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "tags.yaml": "name: x\ntags:\n  a: [b\nport: 1\n"})
		me := extractErr(t, root, metadata.Options{})
		if me.File != "tags.yaml" || me.Line == 0 || !strings.Contains(me.Error(), "malformed YAML") {
			t.Errorf("error %q (line %d)", me, me.Line)
		}
	})
	t.Run("tags.yaml not a mapping", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "tags.yaml": "- a\n- b\n"})
		me := extractErr(t, root, metadata.Options{})
		if me.Error() != "tags.yaml:1: want a mapping of fields (key: value), found a list"+tagsAdvice {
			t.Errorf("error %q", me)
		}
	})
	t.Run("tags.yaml bad port", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "tags.yaml": "name: x\nport: 70000\n"})
		me := extractErr(t, root, metadata.Options{})
		if me.Error() != `tags.yaml:2: port must be a TCP port number between 1 and 65535, found "70000"`+tagsAdvice {
			t.Errorf("error %q", me)
		}
	})
	t.Run("tags.yaml wrong type", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "tags.yaml": "dockerfile:\n  - a\n"})
		me := extractErr(t, root, metadata.Options{})
		if me.Error() != "tags.yaml:2: dockerfile must be a string, found a list"+tagsAdvice {
			t.Errorf("error %q", me)
		}
	})
	t.Run("package.json", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM node\n", "package.json": "{\n  \"name\": \"x\",\n  \"deps\": {,}\n}\n"})
		res := extract(t, root, metadata.Options{})
		if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "package.json:3: malformed JSON: ") {
			t.Errorf("warnings %q", res.Warnings)
		}
	})
	t.Run("package.json wrong types", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM node\n", "package.json": `{"name": 5, "keywords": {"a": 1}, "license": {"type": "ISC"}, "dependencies": {"express": "4"}}`})
		res := extract(t, root, metadata.Options{})
		w := strings.Join(res.Warnings, "\n")
		if !strings.Contains(w, "package.json: name must be a string") || !strings.Contains(w, "package.json: keywords must be a list") {
			t.Errorf("warnings %q", res.Warnings)
		}
		wantTags(t, res, map[string]catalog.TagSource{"license:isc": catalog.SourceAuthor, "framework:express": catalog.SourceAuto})
	})
	t.Run("README front matter", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "README.md": "---\ntitle: [unclosed\nsdk: docker\n---\nBody text.\n"})
		res := extract(t, root, metadata.Options{})
		if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "README.md:") || !strings.Contains(res.Warnings[0], "front matter ignored") {
			t.Errorf("warnings %q", res.Warnings)
		}
		if res.Readme != "Body text." || res.Name != "" {
			t.Errorf("readme %q name %q", res.Readme, res.Name)
		}
	})
	t.Run("README unclosed front matter", func(t *testing.T) {
		root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n", "readme.md": "---\ntitle: x\n\nSome text\n"})
		res := extract(t, root, metadata.Options{})
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no closing ---") || !strings.Contains(res.Readme, "Some text") {
			t.Errorf("warnings %q readme %q", res.Warnings, res.Readme)
		}
	})
}

func TestLicenseFiles(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"Dockerfile":     "FROM alpine\n",
		"LICENSE-MIT":    mitText,
		"LICENSE-APACHE": readLicense(t, "Apache-2.0"),
		"COPYING":        "nothing recognisable here\n",
	})
	res := extract(t, root, metadata.Options{})
	wantTags(t, res, map[string]catalog.TagSource{"license:mit": catalog.SourceAuto, "license:apache-2.0": catalog.SourceAuto})
	n := 0
	for _, tg := range res.Tags {
		if tg.Key == "license" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("license tags %v, want exactly mit and apache-2.0", res.Tags)
	}
}

func TestTagBound(t *testing.T) {
	// Many keys with one value each: more author tags than the bound, and
	// auto tags (lang, runtime) that must give way.
	var b strings.Builder
	b.WriteString("tags:\n")
	for i := 0; i < 300; i++ {
		b.WriteString("  k" + strconv.Itoa(i) + ": v\n")
	}
	root := writeRepo(t, map[string]string{"tags.yaml": b.String(), "Dockerfile": "FROM alpine\n", "main.go": "package main\n"})
	res := extract(t, root, metadata.Options{})
	if len(res.Tags) != catalog.MaxTagsPerRepo {
		t.Fatalf("%d tags, want the bound %d", len(res.Tags), catalog.MaxTagsPerRepo)
	}
	for _, tg := range res.Tags {
		if tg.Source != catalog.SourceAuthor {
			t.Fatalf("tag %s (%s) kept over author tags", tg, tg.Source)
		}
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "over the limit of 256 were dropped") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestCancelledContext(t *testing.T) {
	root := writeRepo(t, map[string]string{"Dockerfile": "FROM alpine\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := metadata.Extract(ctx, root, metadata.Options{})
	if !errors.Is(err, context.Canceled) || metadata.IsPermanent(err) {
		t.Fatalf("error %v: want context.Canceled, not permanent", err)
	}
}

func TestMissingCheckoutIsNotPermanent(t *testing.T) {
	_, err := metadata.Extract(context.Background(), filepath.Join(t.TempDir(), "gone"), metadata.Options{})
	if err == nil || metadata.IsPermanent(err) {
		t.Fatalf("error %v: want a non-permanent error", err)
	}
}

func readLicense(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "licenses", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNoDockerfileStillHasACard(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"README.md":    "# Lint Kit\n\nLints Markdown in CI.\n",
		"package.json": `{"name": "lint-kit", "license": "MIT", "dependencies": {"express": "4"}}`,
		"index.js":     "module.exports = 1\n",
	})
	res, err := metadata.Extract(context.Background(), root, metadata.Options{})
	if err == nil || !metadata.IsPermanent(err) || !strings.Contains(err.Error(), "no Dockerfile found") {
		t.Fatalf("error %v, want the permanent no-Dockerfile error", err)
	}
	if res == nil || res.Name != "Lint Kit" || res.Description != "Lints Markdown in CI." || res.DockerfilePath != "" || res.Build != nil {
		t.Fatalf("card %+v", res)
	}
	wantTags(t, res, map[string]catalog.TagSource{"lang:javascript": catalog.SourceAuto, "framework:express": catalog.SourceAuto, "license:mit": catalog.SourceAuthor})
}

func TestDockerfileChoiceIsExplained(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"compose.yaml":             "services:\n  web:\n    build: ./web\n    expose: [5000]\n  nginx:\n    build: ./nginx\n    ports: ['80:80']\n  db:\n    image: postgres:16\n",
		"web/Dockerfile":           "FROM python:3.12\nCOPY requirements.txt .\nCMD [\"gunicorn\", \"app:app\"]\n",
		"web/requirements.txt":     "flask\n",
		"nginx/Dockerfile":         "FROM nginx:1.27\nCOPY default.conf /etc/nginx/conf.d/\n",
		"nginx/default.conf":       "server {}\n",
		"Dockerfile":               "FROM node:20\nCOPY package.json .\n",
		"examples/demo/Dockerfile": "FROM alpine\n",
		"Dockerfile.dev":           "FROM python:3.12\n",
	})
	res := extract(t, root, metadata.Options{})
	b := res.Build
	if b == nil || res.DockerfilePath != "web/Dockerfile" || res.ContextPath != "web" || b.Source != catalog.ChoiceCompose ||
		b.ComposeFile != "compose.yaml" || b.ComposeService != "web" {
		t.Fatalf("choice %+v (dockerfile %q, context %q)", b, res.DockerfilePath, res.ContextPath)
	}
	if !strings.Contains(b.Reason, "service web of compose.yaml") || !strings.Contains(b.Reason, "nginx is a proxy (nginx)") || !strings.Contains(b.Reason, "db is a datastore (postgres)") {
		t.Errorf("reason %q", b.Reason)
	}
	if res.Port != 5000 || res.PortSource != metadata.PortFromCompose {
		t.Errorf("port %d from %q, want 5000 from compose", res.Port, res.PortSource)
	}
	why := map[string]string{}
	for _, o := range b.Others {
		why[o.Path] = o.Why
	}
	for p, want := range map[string]string{
		"nginx/Dockerfile":         "a proxy (nginx)",
		"Dockerfile":               "a leftover template: COPY package.json is not in the repository",
		"examples/demo/Dockerfile": "an example rather than the app",
		"Dockerfile.dev":           "a variant (Dockerfile.dev)",
	} {
		if !strings.Contains(why[p], want) {
			t.Errorf("%s: why %q, want it to say %q", p, why[p], want)
		}
	}
}

func TestSubfolderDockerfileBuildsFromTheRoot(t *testing.T) {
	files := map[string]string{
		"deploy/Dockerfile": "FROM golang\nCOPY go.mod go.sum ./\nCOPY . .\nEXPOSE 8080\n",
		"go.mod":            "module x\n",
		"go.sum":            "",
		"main.go":           "package main\n",
	}
	for _, opts := range []metadata.Options{{}, {Dockerfile: "deploy/Dockerfile"}} {
		res := extract(t, writeRepo(t, files), opts)
		if res.DockerfilePath != "deploy/Dockerfile" || res.ContextPath != "." || !strings.Contains(res.Build.Reason, "builds with the root as context") {
			t.Errorf("opts %+v: dockerfile %q context %q reason %q", opts, res.DockerfilePath, res.ContextPath, res.Build.Reason)
		}
	}
	// A declared context wins over the guess.
	res := extract(t, writeRepo(t, files), metadata.Options{Dockerfile: "deploy/Dockerfile", Context: "deploy"})
	if res.ContextPath != "deploy" || !strings.Contains(strings.Join(res.Warnings, "\n"), "COPY go.mod: not found in the build context deploy/") {
		t.Errorf("declared context: %q, warnings %q", res.ContextPath, res.Warnings)
	}
}

func TestLeftoverTemplateAlone(t *testing.T) {
	// The only Dockerfile copies files the repository lacks: it is still
	// the one built, with a warning saying the build will fail.
	root := writeRepo(t, map[string]string{"Dockerfile": "FROM node\nCOPY package*.json ./\nRUN npm ci\n", "app.py": "print(1)\n"})
	res := extract(t, root, metadata.Options{})
	if res.DockerfilePath != "Dockerfile" || !strings.Contains(strings.Join(res.Warnings, "\n"), "Dockerfile:2: COPY package*.json: not found in the build context (the repository root)") {
		t.Errorf("dockerfile %q warnings %q", res.DockerfilePath, res.Warnings)
	}
	// A glob that matches counts as present.
	root = writeRepo(t, map[string]string{"Dockerfile": "FROM node\nCOPY package*.json src/*/index.js ./\n", "package-lock.json": "{}", "src/a/index.js": ""})
	if res := extract(t, root, metadata.Options{}); len(res.Warnings) != 0 {
		t.Errorf("globs: warnings %q", res.Warnings)
	}
}

func TestManifestsWhereTheAppIs(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"Dockerfile":                         "FROM python\nCOPY . .\n",
		"services/web/requirements-prod.txt": "Flask\n",
		"frontend/package.json":              `{"dependencies": {"react": "18", "vite": "5"}}`,
		"backend/Gemfile":                    "source 'https://rubygems.org'\ngem \"sinatra\"\n",
		"api/composer.json":                  `{"require": {"laravel/framework": "^11"}}`,
		"server/pom.xml":                     "<project><parent><groupId>org.springframework.boot</groupId></parent></project>",
		"app/build.gradle":                   "plugins { id 'io.quarkus' }\n",
		"web/Pipfile":                        "[packages]\nfastapi = \"*\"\nstreamlit = \"*\"\n",
		"client/requirements/base.txt":       "django\n",
		"tools/package.json":                 `{"dependencies": {"nuxt": "3"}}`,
		"broken/package.json":                "{",
	})
	res := extract(t, root, metadata.Options{})
	wantTags(t, res, map[string]catalog.TagSource{
		"framework:flask": catalog.SourceAuto, "framework:react": catalog.SourceAuto, "framework:vite": catalog.SourceAuto,
		"framework:sinatra": catalog.SourceAuto, "framework:laravel": catalog.SourceAuto, "framework:spring-boot": catalog.SourceAuto,
		"framework:quarkus": catalog.SourceAuto, "framework:fastapi": catalog.SourceAuto, "framework:streamlit": catalog.SourceAuto,
		"framework:django": catalog.SourceAuto,
	})
	// tools/ is not an app folder.
	noTags(t, res, "framework:nuxt")
}

func TestUnreadableManifestWarns(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"Dockerfile":       "FROM python\n",
		"requirements.txt": "\x00\x01binary\x00",
		"package.json":     "\xff\xfe{",
	})
	res := extract(t, root, metadata.Options{})
	all := strings.Join(res.Warnings, "\n")
	for _, want := range []string{"requirements.txt: cannot be read: not UTF-8 or UTF-16 text", "package.json: cannot be read"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", res.Warnings, want)
		}
	}
}
