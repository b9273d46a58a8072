package metadata

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"sort"
	"strings"
)

// walkResult is what one bounded breadth-first walk of the checkout finds.
type walkResult struct {
	// dockerfiles are Dockerfiles in sub-folders (Dockerfile, dockerfile,
	// Containerfile, Dockerfile.prod, web.Dockerfile…), in walk order
	// (shallower first).
	dockerfiles []string
	// composeFiles are compose files in sub-folders up to
	// maxComposeDepth deep.
	composeFiles []string
	// langBytes counts bytes of source files per language.
	langBytes   map[string]int64
	markupBytes map[string]int64
	entries     int
	// minifiedChecks counts the files whose head was read to tell a
	// minified bundle.
	minifiedChecks int
	// truncated says the walk stopped at WalkEntries or WalkDepth.
	truncated bool
}

// skipDir names directories neither walk purpose looks into: tooling and
// third-party code that says nothing about the app. Dot-directories are
// skipped too (.git, .github, .devcontainer: a dev container's Dockerfile is
// not the app's).
var skipDir = map[string]bool{
	"node_modules":     true,
	"vendor":           true,
	"venv":             true,
	"__pycache__":      true,
	"bower_components": true,
}

// noLangDir names directories that usually hold generated or copied code:
// a Dockerfile there still counts, its bytes do not count as languages.
var noLangDir = map[string]bool{
	"dist":        true,
	"build":       true,
	"target":      true,
	"out":         true,
	"coverage":    true,
	"third_party": true,
	"third-party": true,
	"external":    true,
}

type walkDir struct {
	path   string
	depth  int
	noLang bool
}

// walk visits the checkout breadth-first, so that the bound on entries is
// spent on shallow levels first and the shallowest Dockerfile is found even
// in a large tree. Symbolic links are never followed.
func (r *repo) walk(ctx context.Context, lim Limits) (walkResult, error) {
	res := walkResult{
		langBytes:   map[string]int64{},
		markupBytes: map[string]int64{},
	}
	queue := []walkDir{{path: ".", depth: 0}}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d := queue[0]
		queue = queue[1:]
		f, err := r.root.Open(d.path)
		if err != nil {
			// A directory that vanished or cannot be read says nothing
			// useful; the walk is best effort.
			continue
		}
		for {
			batch, err := f.ReadDir(256)
			for _, e := range batch {
				res.entries++
				if res.entries > lim.WalkEntries {
					res.truncated = true
					f.Close()
					return res, nil
				}
				name := e.Name()
				rel := name
				if d.path != "." {
					rel = d.path + "/" + name
				}
				switch {
				case e.IsDir():
					if skipDir[name] || strings.HasPrefix(name, ".") {
						continue
					}
					if d.depth+1 > lim.WalkDepth {
						res.truncated = true
						continue
					}
					queue = append(queue, walkDir{path: rel, depth: d.depth + 1, noLang: d.noLang || noLangDir[name]})
				case e.Type().IsRegular():
					if d.depth > 0 && isDockerfileName(name) && len(res.dockerfiles) < maxDockerfiles {
						res.dockerfiles = append(res.dockerfiles, rel)
					}
					if d.depth > 0 && d.depth <= maxComposeDepth && isComposeFile(name) && len(res.composeFiles) < maxDockerfiles {
						res.composeFiles = append(res.composeFiles, rel)
					}
					if d.noLang {
						continue
					}
					lang, markup := languageOf(name)
					if lang == "" && markup == "" {
						continue
					}
					info, err := e.Info()
					if err != nil {
						continue
					}
					if info.Size() >= minifiedCheckSize && (lang == "javascript" || markup == "css") && res.minifiedChecks < maxMinifiedChecks {
						res.minifiedChecks++
						if r.looksMinified(rel) {
							continue
						}
					}
					if lang != "" {
						res.langBytes[lang] += info.Size()
					} else {
						res.markupBytes[markup] += info.Size()
					}
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					// Partial listing: keep what was read.
					res.truncated = true
				}
				break
			}
		}
		f.Close()
	}
	return res, nil
}

// A large JavaScript or CSS file whose head has a line of minifiedLine
// characters or more is a minified bundle (a copy of socket.io, a built
// stylesheet) whatever its name: its bytes are not the app's code. So is one
// that opens with a preserved banner ("/*!", the comment libraries keep
// their name and licence in, which minifiers leave in place): a library
// copied into the app, minified or not. At most maxMinifiedChecks files are
// read, minifiedHead bytes each.
const (
	minifiedCheckSize = 16 << 10
	maxMinifiedChecks = 64
	minifiedHead      = 4 << 10
	minifiedLine      = 1000
)

// looksMinified reads the head of a regular file found by the walk.
func (r *repo) looksMinified(rel string) bool {
	f, err := r.root.Open(rel)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, minifiedHead)
	n, _ := io.ReadFull(f, buf)
	if bytes.HasPrefix(bytes.TrimLeft(bytes.TrimPrefix(buf[:n], []byte("\xef\xbb\xbf")), " \t\r\n"), []byte("/*!")) {
		return true
	}
	line := 0
	for _, c := range buf[:n] {
		if c == '\n' {
			line = 0
			continue
		}
		line++
		if line >= minifiedLine {
			return true
		}
	}
	return false
}

// maxDockerfiles bounds the Dockerfiles and compose files a walk records.
const maxDockerfiles = 200

// maxComposeDepth is how deep compose files are looked for.
const maxComposeDepth = 2

// isDockerfileName reports whether a file name is a Dockerfile's:
// Dockerfile, dockerfile, Containerfile, containerfile, and the variants
// Dockerfile.prod and api.Dockerfile (not Dockerfile.dockerignore).
func isDockerfileName(name string) bool {
	l := strings.ToLower(name)
	switch {
	case l == "dockerfile" || l == "containerfile":
		return true
	case strings.HasSuffix(l, ".dockerignore"):
		return false
	case strings.HasPrefix(l, "dockerfile.") || strings.HasPrefix(l, "containerfile."):
		return true
	case strings.HasSuffix(l, ".dockerfile") || strings.HasSuffix(l, ".containerfile"):
		return true
	}
	return false
}

// isDockerfileVariant reports whether a Dockerfile name is a variant
// (Dockerfile.dev, web.Dockerfile) rather than the plain name.
func isDockerfileVariant(name string) bool {
	l := strings.ToLower(path.Base(name))
	return l != "dockerfile" && l != "containerfile"
}

// Language selection: at most maxLangs languages, each with at least
// minLangShare of the counted bytes; the largest is always kept.
const (
	maxLangs     = 3
	minLangShare = 0.10
)

// languages returns the lang: values of the repository, largest first.
// Markup (HTML, CSS) counts only when there is no programming language at
// all, so that a static site is lang:html but a Go server with a web page is
// lang:go.
func (w walkResult) languages() []string {
	counts := w.langBytes
	if total(counts) == 0 {
		counts = w.markupBytes
	}
	sum := total(counts)
	if sum == 0 {
		return nil
	}
	names := make([]string, 0, len(counts))
	for n, b := range counts {
		if b > 0 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	var out []string
	for i, n := range names {
		if len(out) >= maxLangs {
			break
		}
		if i > 0 && float64(counts[n])/float64(sum) < minLangShare {
			break
		}
		if i > 0 && glueLangs[n] {
			// Entrypoint and build scripts beside the app's code.
			continue
		}
		out = append(out, n)
	}
	return out
}

func total(m map[string]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

// glueLangs are languages that count only when they are the largest: in
// an app written in another one they are its entrypoint and build scripts.
var glueLangs = map[string]bool{"shell": true}

// languageByExt maps file extensions to lang: values. Values avoid '+' and
// '#' (cpp, csharp) so that they type and URL-encode without surprises.
var languageByExt = map[string]string{
	".go":     "go",
	".py":     "python",
	".pyw":    "python",
	".js":     "javascript",
	".mjs":    "javascript",
	".cjs":    "javascript",
	".jsx":    "javascript",
	".ts":     "typescript",
	".tsx":    "typescript",
	".mts":    "typescript",
	".cts":    "typescript",
	".rs":     "rust",
	".rb":     "ruby",
	".ru":     "ruby", // config.ru, the rackup file
	".rake":   "ruby",
	".java":   "java",
	".kt":     "kotlin",
	".kts":    "kotlin",
	".scala":  "scala",
	".c":      "c",
	".h":      "c",
	".cc":     "cpp",
	".cpp":    "cpp",
	".cxx":    "cpp",
	".hpp":    "cpp",
	".hh":     "cpp",
	".cs":     "csharp",
	".fs":     "fsharp",
	".php":    "php",
	".swift":  "swift",
	".ex":     "elixir",
	".exs":    "elixir",
	".erl":    "erlang",
	".hs":     "haskell",
	".lua":    "lua",
	".dart":   "dart",
	".r":      "r",
	".jl":     "julia",
	".zig":    "zig",
	".nim":    "nim",
	".clj":    "clojure",
	".cljs":   "clojure",
	".ml":     "ocaml",
	".pl":     "perl",
	".pm":     "perl",
	".sh":     "shell",
	".bash":   "shell",
	".vue":    "vue",
	".svelte": "svelte",
	".gleam":  "gleam",
	".cr":     "crystal",
}

var markupByExt = map[string]string{
	".html": "html",
	".htm":  "html",
	".css":  "css",
	".scss": "css",
}

// languageOf returns the programming language or, failing that, the markup
// language of a file name; minified bundles count as neither.
func languageOf(name string) (lang, markup string) {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".min.js") || strings.HasSuffix(lower, ".min.css") {
		return "", ""
	}
	ext := path.Ext(lower)
	if l, ok := languageByExt[ext]; ok {
		return l, ""
	}
	return "", markupByExt[ext]
}
