package api

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// readmeRenderer renders READMEs: GitHub-flavoured Markdown (tables, task
// lists, strikethrough, autolinks), without raw HTML (goldmark's default:
// it is not rendered unless asked for).
var readmeRenderer = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(linkRel{}, 1000))),
)

// linkRel gives every link rel="noopener noreferrer" and drops targets of
// schemes a browser could run (javascript:, data:, vbscript:).
type linkRel struct{}

func (linkRel) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch l := n.(type) {
		case *ast.Link:
			if !safeURL(string(l.Destination)) {
				l.Destination = nil
			}
			l.SetAttributeString("rel", []byte("noopener noreferrer"))
		case *ast.AutoLink:
			l.SetAttributeString("rel", []byte("noopener noreferrer"))
		case *ast.Image:
			if !safeURL(string(l.Destination)) {
				l.Destination = nil
			}
		}
		return ast.WalkContinue, nil
	})
}

// safeURL accepts http(s), mailto and relative URLs.
func safeURL(u string) bool {
	u = strings.ToLower(strings.TrimSpace(u))
	i := strings.IndexAny(u, ":/?#")
	if i < 0 || u[i] != ':' {
		return true // relative
	}
	switch u[:i] {
	case "http", "https", "mailto":
		return true
	}
	return false
}

// RenderReadme returns the README without its front matter, and as safe
// HTML.
func RenderReadme(md string) (markdown, html string, err error) {
	md = stripFrontMatter(md)
	var b bytes.Buffer
	if err := readmeRenderer.Convert([]byte(md), &b); err != nil {
		return md, "", err
	}
	return md, b.String(), nil
}

// stripFrontMatter removes a leading "---" YAML block (metadata that
// ingestion reads into tags, not text for people).
func stripFrontMatter(md string) string {
	s := strings.TrimPrefix(md, "\ufeff")
	if !strings.HasPrefix(s, "---\n") && !strings.HasPrefix(s, "---\r\n") {
		return md
	}
	rest := s[strings.IndexByte(s, '\n')+1:]
	for off := 0; off < len(rest); {
		end := strings.IndexByte(rest[off:], '\n')
		line := rest[off:]
		if end >= 0 {
			line = rest[off : off+end]
		}
		if t := strings.TrimRight(line, "\r "); t == "---" || t == "..." {
			if end < 0 {
				return ""
			}
			return strings.TrimLeft(rest[off+end+1:], "\r\n")
		}
		if end < 0 {
			break
		}
		off += end + 1
	}
	return md
}

// readme serves GET /api/v1/repositories/{slug}/readme: the README as
// Markdown and rendered, for the web view's app page.
func (h *Repositories) readme(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	raw, err := h.Store.Readme(r.Context(), slug)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	md, html, err := RenderReadme(raw)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, apitype.Readme{Slug: slug, Markdown: md, HTML: html})
}
