package metadata

import (
	"regexp"
	"slices"
	"strings"
)

// pythonFrameworks maps normalised distribution names (PEP 503) to
// frameworks; those built on another imply it.
var pythonFrameworks = []framework{
	{dep: "django", name: "django"},
	{dep: "fastapi", name: "fastapi"},
	{dep: "flask", name: "flask"},
	{dep: "dash", name: "dash"},
	{dep: "streamlit", name: "streamlit"},
	{dep: "gradio", name: "gradio"},
	{dep: "chainlit", name: "chainlit"},
	{dep: "nicegui", name: "nicegui"},
	{dep: "reflex", name: "reflex"},
	{dep: "panel", name: "panel"},
	{dep: "litestar", name: "litestar"},
	{dep: "quart", name: "quart"},
	{dep: "sanic", name: "sanic"},
	{dep: "aiohttp", name: "aiohttp"},
	{dep: "tornado", name: "tornado"},
	{dep: "bottle", name: "bottle"},
	{dep: "pyramid", name: "pyramid"},
	{dep: "falcon", name: "falcon"},
	{dep: "starlette", name: "starlette"},
}

// pyName is the leading distribution name of a requirement specifier.
var pyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*`)

var pySeparators = regexp.MustCompile(`[-_.]+`)

// normalizePyName applies PEP 503 normalisation: Flask_SQLAlchemy and
// flask-sqlalchemy are the same distribution.
func normalizePyName(s string) string {
	return pySeparators.ReplaceAllString(strings.ToLower(s), "-")
}

// requirementName returns the normalised distribution name of a requirement
// line ("Flask[async]>=2.0 ; python_version>'3.8'" → flask), or "".
func requirementName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '-' || strings.Contains(s, "://") {
		// Options (-r other.txt, -e .) and URLs name no distribution we map.
		return ""
	}
	return normalizePyName(pyName.FindString(s))
}

// pythonFrameworkDeps are the frameworks that others install: a freeze of
// a Streamlit app lists tornado, one of a Gradio app fastapi.
var pythonFrameworkDeps = map[string][]string{
	"streamlit": {"tornado"},
	"gradio":    {"fastapi", "starlette"},
	"fastapi":   {"starlette"},
	"dash":      {"flask"},
	"chainlit":  {"fastapi", "starlette"},
	"nicegui":   {"fastapi", "starlette"},
	"reflex":    {"fastapi", "starlette"},
	"panel":     {"tornado"},
}

// minFreezeLines is how many requirements a file lists, all pinned with
// ==, to be taken for the output of pip freeze.
const minFreezeLines = 8

// parseRequirements reads requirements.txt line by line. A freeze (every
// requirement pinned with ==) lists what the frameworks install too: a
// framework another listed one depends on is not tagged from it, while a
// hand-written file that names both (fastapi and gradio) tags both.
func parseRequirements(data []byte) manifest {
	deps := map[string]bool{}
	lines, pinned := 0, 0
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if n := requirementName(line); n != "" {
			deps[n] = true
			lines++
			if strings.Contains(line, "==") {
				pinned++
			}
		}
	}
	fws := detectFrameworks(deps, pythonFrameworks)
	if lines >= minFreezeLines && pinned == lines {
		var kept []string
		for _, f := range fws {
			if !slices.ContainsFunc(fws, func(o string) bool { return slices.Contains(pythonFrameworkDeps[o], f) }) {
				kept = append(kept, f)
			}
		}
		fws = kept
	}
	return manifest{Frameworks: fws}
}

// parsePyproject reads name, description and dependencies from the
// [project] table (PEP 621) and from [tool.poetry], with the line scanner of
// toml.go.
func parsePyproject(data []byte) manifest {
	var m manifest
	deps := map[string]bool{}
	for _, e := range scanTOML(data) {
		switch e.Section {
		case "project", "tool.poetry":
			switch e.Key {
			case "name":
				if m.Name == "" {
					m.Name = e.Str
				}
			case "description":
				if m.Description == "" {
					m.Description = e.Str
				}
			case "keywords":
				m.Topics = appendCapped(m.Topics, e.List)
			case "license":
				// PEP 639 gives an SPDX expression; the older table form
				// ({file = ...}) is not a string and gives nothing.
				m.Licenses = append(m.Licenses, licenseIDs(e.Str)...)
			case "dependencies":
				for _, d := range e.List {
					if n := requirementName(d); n != "" {
						deps[n] = true
					}
				}
			}
		case "tool.poetry.dependencies":
			deps[normalizePyName(e.Key)] = true
		}
	}
	m.Frameworks = detectFrameworks(deps, pythonFrameworks)
	return m
}

// cargoFrameworks maps crate names to frameworks.
var cargoFrameworks = []framework{
	{dep: "leptos", name: "leptos"},
	{dep: "dioxus", name: "dioxus"},
	{dep: "yew", name: "yew"},
	{dep: "actix-web", name: "actix-web"},
	{dep: "axum", name: "axum"},
	{dep: "rocket", name: "rocket"},
	{dep: "warp", name: "warp"},
	{dep: "poem", name: "poem"},
	{dep: "salvo", name: "salvo"},
	{dep: "tide", name: "tide"},
}

// parseCargo reads [package] and the dependency tables of Cargo.toml.
func parseCargo(data []byte) manifest {
	var m manifest
	deps := map[string]bool{}
	for _, e := range scanTOML(data) {
		switch {
		case e.Section == "package":
			switch e.Key {
			case "name":
				m.Name = e.Str
			case "description":
				m.Description = e.Str
			case "homepage":
				m.Homepage = e.Str
			case "keywords":
				m.Topics = appendCapped(m.Topics, e.List)
			case "license":
				m.Licenses = append(m.Licenses, licenseIDs(e.Str)...)
			}
		case e.Section == "dependencies" || e.Section == "workspace.dependencies":
			deps[e.Key] = true
		case e.Key == "" && strings.HasPrefix(e.Section, "dependencies."):
			// [dependencies.axum] declares a dependency through its header.
			deps[strings.TrimPrefix(e.Section, "dependencies.")] = true
		}
	}
	m.Frameworks = detectFrameworks(deps, cargoFrameworks)
	return m
}

func appendCapped(dst, src []string) []string {
	for _, s := range src {
		if len(dst) >= maxListItems {
			break
		}
		dst = append(dst, s)
	}
	return dst
}
