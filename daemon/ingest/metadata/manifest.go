package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// manifest is what a package manifest (package.json, Cargo.toml,
// pyproject.toml, go.mod, requirements.txt, Pipfile, Gemfile,
// composer.json, pom.xml, build.gradle) says about the app.
type manifest struct {
	// File is the manifest's path.
	File string
	// DisplayName is a name meant for people (package.json displayName);
	// Name is the package's name.
	DisplayName, Name, Description, Homepage string
	Topics                                   []string // keywords, author tags
	Licenses                                 []string // declared license ids, author tags
	Frameworks                               []string // from dependencies, auto tags
	Facts                                    map[string]string
	// Scripts are package.json's scripts (for "npm start" in a CMD).
	Scripts map[string]string
}

// framework maps a dependency to the framework: value it reveals. Every
// framework a manifest depends on directly is tagged: frameworks used
// together (Gradio mounted in FastAPI, Next.js with React) are all
// findable by each.
type framework struct {
	dep, name string
}

// detectFrameworks returns the frameworks among deps, in table order,
// each once.
func detectFrameworks(deps map[string]bool, table []framework) []string {
	var out []string
	for _, f := range table {
		if deps[f.dep] && !slices.Contains(out, f.name) {
			out = append(out, f.name)
		}
	}
	return out
}

// npmFrameworks: meta-frameworks first, then UI libraries, build tools and
// servers.
var npmFrameworks = []framework{
	{dep: "next", name: "next"},
	{dep: "nuxt", name: "nuxt"},
	{dep: "@remix-run/react", name: "remix"},
	{dep: "@sveltejs/kit", name: "sveltekit"},
	{dep: "gatsby", name: "gatsby"},
	{dep: "astro", name: "astro"},
	{dep: "@angular/core", name: "angular"},
	{dep: "react", name: "react"},
	{dep: "vue", name: "vue"},
	{dep: "svelte", name: "svelte"},
	{dep: "solid-js", name: "solid"},
	{dep: "preact", name: "preact"},
	{dep: "vite", name: "vite"},
	{dep: "@nestjs/core", name: "nestjs"},
	{dep: "express", name: "express"},
	{dep: "fastify", name: "fastify"},
	{dep: "koa", name: "koa"},
	{dep: "hono", name: "hono"},
	{dep: "@hapi/hapi", name: "hapi"},
	{dep: "electron", name: "electron"},
}

// parsePackageJSON reads package.json. Malformed JSON is a warning naming
// the file and line: the Dockerfile, not package.json, decides whether the
// app builds. Fields of unexpected types are skipped with a warning.
func parsePackageJSON(file string, data []byte) (manifest, []string) {
	var m manifest
	var warnings []string
	warn := func(format string, args ...any) {
		warnings = append(warnings, fileError(file, 0, format, args...).Error())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		line, msg := jsonErrorLine(data, err)
		warnings = append(warnings, fileError(file, line, "malformed JSON: %s; ignored", msg).Error())
		return m, warnings
	}
	str := func(field string) string {
		v, ok := raw[field]
		if !ok || string(v) == "null" {
			return ""
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			warn("%s must be a string; ignored", field)
			return ""
		}
		return s
	}
	m.File = file
	m.DisplayName = str("displayName")
	m.Name = str("name")
	m.Description = str("description")
	m.Homepage = str("homepage")
	if v, ok := raw["keywords"]; ok {
		var list []json.RawMessage
		var one string
		switch {
		case json.Unmarshal(v, &list) == nil:
			for _, item := range list {
				var s string
				if json.Unmarshal(item, &s) == nil && s != "" && len(m.Topics) < maxListItems {
					m.Topics = append(m.Topics, s)
				}
			}
		case json.Unmarshal(v, &one) == nil:
			// Some packages write keywords as one comma-separated string.
			for _, s := range strings.Split(one, ",") {
				if s = strings.TrimSpace(s); s != "" && len(m.Topics) < maxListItems {
					m.Topics = append(m.Topics, s)
				}
			}
		default:
			warn("keywords must be a list of strings; ignored")
		}
	}
	m.Licenses = npmLicenses(raw)
	if v, ok := raw["scripts"]; ok {
		var scripts map[string]json.RawMessage
		if json.Unmarshal(v, &scripts) == nil {
			m.Scripts = map[string]string{}
			for k, sv := range scripts {
				var s string
				if json.Unmarshal(sv, &s) == nil && len(m.Scripts) < 256 {
					m.Scripts[k] = s
				}
			}
		}
	}
	deps := map[string]bool{}
	for _, field := range []string{"dependencies", "devDependencies", "peerDependencies"} {
		v, ok := raw[field]
		if !ok {
			continue
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(v, &d); err != nil {
			warn("%s must be an object of package names; ignored", field)
			continue
		}
		for name := range d {
			deps[name] = true
		}
	}
	m.Frameworks = detectFrameworks(deps, npmFrameworks)
	return m, warnings
}

// npmLicenses reads "license": "MIT", the deprecated "license": {"type":
// "MIT"} and "licenses": [{"type": "MIT"}].
func npmLicenses(raw map[string]json.RawMessage) []string {
	type typed struct {
		Type string `json:"type"`
	}
	var out []string
	if v, ok := raw["license"]; ok {
		var s string
		var t typed
		if json.Unmarshal(v, &s) == nil {
			out = append(out, licenseIDs(s)...)
		} else if json.Unmarshal(v, &t) == nil {
			out = append(out, licenseIDs(t.Type)...)
		}
	}
	if v, ok := raw["licenses"]; ok {
		var list []typed
		if json.Unmarshal(v, &list) == nil {
			for i, t := range list {
				if i >= 4 {
					break
				}
				out = append(out, licenseIDs(t.Type)...)
			}
		}
	}
	return out
}

// jsonErrorLine turns a JSON error into a 1-based line and a message.
func jsonErrorLine(data []byte, err error) (int, string) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64 = -1
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field == "" {
			return lineAt(data, off), "the top level must be an object"
		}
	}
	if off < 0 {
		return 0, err.Error()
	}
	return lineAt(data, off), err.Error()
}

func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// goFrameworks maps module paths (without a /vN suffix) to frameworks.
var goFrameworks = []framework{
	{dep: "github.com/gobuffalo/buffalo", name: "buffalo"},
	{dep: "github.com/beego/beego", name: "beego"},
	{dep: "github.com/gin-gonic/gin", name: "gin"},
	{dep: "github.com/labstack/echo", name: "echo"},
	{dep: "github.com/gofiber/fiber", name: "fiber"},
	{dep: "github.com/go-chi/chi", name: "chi"},
	{dep: "github.com/gorilla/mux", name: "gorilla-mux"},
	{dep: "github.com/kataras/iris", name: "iris"},
	{dep: "github.com/cloudwego/hertz", name: "hertz"},
	{dep: "github.com/revel/revel", name: "revel"},
}

var goMajorSuffix = regexp.MustCompile(`/v[0-9]+$`)

// parseGoMod reads go.mod line by line: the module path, the go version and
// the direct requirements (those not marked "// indirect"). The grammar of
// go.mod is line-oriented, so this needs no parser module.
func parseGoMod(file string, data []byte) (manifest, []string) {
	m := manifest{Facts: map[string]string{}}
	deps := map[string]bool{}
	inBlock := "" // the verb of the open ( block, if any
	for _, raw := range strings.Split(string(data), "\n") {
		line, comment, _ := strings.Cut(raw, "//")
		indirect := strings.TrimSpace(comment) == "indirect"
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if inBlock != "" {
			if f[0] == ")" {
				inBlock = ""
				continue
			}
			if inBlock == "require" && !indirect {
				deps[goMajorSuffix.ReplaceAllString(unquote(f[0]), "")] = true
			}
			continue
		}
		switch f[0] {
		case "module":
			if len(f) >= 2 {
				m.Facts["go.module"] = textutil.Truncate(unquote(f[1]), 256)
			}
		case "go":
			if len(f) >= 2 {
				m.Facts["go.version"] = textutil.Truncate(f[1], 32)
			}
		case "require", "replace", "exclude", "retract", "tool", "ignore", "godebug":
			if len(f) >= 2 && f[1] == "(" {
				inBlock = f[0]
				continue
			}
			if f[0] == "require" && len(f) >= 2 && !indirect {
				deps[goMajorSuffix.ReplaceAllString(unquote(f[1]), "")] = true
			}
		}
	}
	m.Frameworks = detectFrameworks(deps, goFrameworks)
	return m, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '`' && s[len(s)-1] == '`') {
		return s[1 : len(s)-1]
	}
	return s
}
