package metadata

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

// The port in the code: when neither the Dockerfile, compose nor the
// README says, the program the image runs often does, as a literal
// (http.ListenAndServe(":8080", nil), app.listen(3000), app.run(port=5000)).
// Only the program the command names is read (python app.py, node
// server.js), or for a Go or Rust build the main package of the build
// context; a port is taken only when the files name exactly one.

// codePatterns are the literal listening ports of each language.
var codePatterns = map[string][]*regexp.Regexp{
	"go": {
		regexp.MustCompile(`(?:ListenAndServe(?:TLS)?|\.Run|\.Listen|\.Start|\.RunTLS)\(\s*"(?:[\w.\-]*|\[::\])?:(\d{2,5})"`),
		regexp.MustCompile(`\bAddr:\s*"(?:[\w.\-]*|\[::\])?:(\d{2,5})"`),
	},
	"python": {
		regexp.MustCompile(`\.run\([^)\n]*?\bport\s*=\s*(\d{2,5})\b`),
		regexp.MustCompile(`\.launch\([^)\n]*?\bserver_port\s*=\s*(\d{2,5})\b`),
		regexp.MustCompile(`(?:environ\.get|getenv)\(\s*["']PORT["']\s*,\s*["']?(\d{2,5})\b`),
	},
	"javascript": {
		regexp.MustCompile(`\.listen\(\s*(\d{2,5})\b`),
		regexp.MustCompile(`process\.env\.PORT\s*(?:\|\||\?\?)\s*["']?(\d{2,5})\b`),
		regexp.MustCompile(`\.listen\(\s*\{[^}\n]*?\bport:\s*(\d{2,5})\b`),
	},
	"rust": {
		regexp.MustCompile(`\bbind\(\s*"(?:[\w.\-]*|\[::\])?:(\d{2,5})"`),
		regexp.MustCompile(`SocketAddr::from\(\(\s*\[[0-9,\s]+\]\s*,\s*(\d{2,5})\s*\)\)`),
		regexp.MustCompile(`\bbind\(\s*\(\s*"[^"]*"\s*,\s*(\d{2,5})\s*\)\)`),
	},
}

// flaskImport and bareRun find a Flask app started by app.run() with no
// port: Flask's own default, 5000.
var (
	flaskImport = regexp.MustCompile(`(?m)^\s*(?:from\s+flask\s+import|import\s+flask)\b`)
	bareRun     = regexp.MustCompile(`\.run\((?:[^)\n]*)\)`)
)

// maxCodeFiles and maxCodeFile bound what is read.
const (
	maxCodeFiles = 24
	maxCodeFile  = 256 << 10
)

// codePort looks for the port in the program the image runs.
func (x *extraction) codePort(ch *buildChoice, pc portContext) portFind {
	f := ch.cand.facts
	var files []string
	lang := ""
	// The script the command runs.
	for _, c := range []*imageCommand{f.Entrypoint, f.Cmd} {
		if c == nil {
			continue
		}
		words := c.Words
		if c.Shell {
			words = strings.Fields(strings.Join(words, " "))
		}
		for i, w := range words {
			b := path.Base(w)
			if (strings.HasPrefix(b, "python") || b == "node" || b == "nodemon") && i+1 < len(words) {
				for _, a := range words[i+1:] {
					if strings.HasPrefix(a, "-") {
						continue
					}
					switch {
					case strings.HasSuffix(a, ".py"):
						files, lang = append(files, a), "python"
					case strings.HasSuffix(a, ".js") || strings.HasSuffix(a, ".mjs") || strings.HasSuffix(a, ".cjs"):
						files, lang = append(files, a), "javascript"
					}
					break
				}
			}
		}
	}
	var texts [][]byte
	if lang != "" {
		for _, name := range files {
			if data := pc.file(name); data != nil {
				texts = append(texts, data)
			}
		}
	} else {
		// A compiled server: the main package of the build context.
		for _, img := range f.BaseImages {
			switch runtimeOf(img) {
			case "golang":
				lang = "go"
			case "rust":
				lang = "rust"
			}
		}
		switch lang {
		case "go":
			names := x.repo.listDir(ch.Context, 2000)
			for _, n := range names {
				if strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
					files = append(files, path.Join(ch.Context, n))
				}
			}
			if len(files) == 0 && slices.Contains(names, "cmd") {
				for _, d := range x.repo.listDir(path.Join(ch.Context, "cmd"), 16) {
					files = append(files, path.Join(ch.Context, "cmd", d, "main.go"))
				}
			}
		case "rust":
			files = append(files, path.Join(ch.Context, "src", "main.rs"))
		}
		for i, name := range files {
			if i >= maxCodeFiles {
				break
			}
			data, err := x.optional(name, maxCodeFile)
			if err != nil || data == nil {
				continue
			}
			if lang == "go" && !strings.Contains(string(data), "package main") {
				continue
			}
			texts = append(texts, data)
		}
	}
	var ports []int
	flaskDefault := false
	for _, t := range texts {
		s := string(t)
		for _, re := range codePatterns[lang] {
			for _, m := range re.FindAllStringSubmatch(s, 8) {
				if p, ok := parsePort(m[1]); ok {
					ports = appendNew(ports, p)
				}
			}
		}
		if lang == "python" && flaskImport.MatchString(s) {
			for _, m := range bareRun.FindAllString(s, 8) {
				if !strings.Contains(m, "port") && !strings.Contains(m, "**") {
					flaskDefault = true
				}
			}
		}
	}
	switch {
	case len(ports) == 1:
		return portFind{port: ports[0], source: PortFromCode}
	case len(ports) == 0 && flaskDefault:
		return portFind{port: servers["flask"].port, source: PortFromFramework, server: "flask"}
	}
	return portFind{}
}
