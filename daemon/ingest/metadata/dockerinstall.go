package metadata

import (
	"path"
	"strings"
)

// Frameworks a Dockerfile installs itself: small apps often have no
// manifest and install their dependencies in a RUN line (RUN pip install
// flask, RUN go get github.com/gin-gonic/gin, RUN npm install express).

// maxRunLines bounds the RUN instructions kept from one Dockerfile, and
// maxRunLine the length of each.
const (
	maxRunLines = 64
	maxRunLine  = 4 << 10
)

// pipValueFlags are the options of pip install that take a value.
var pipValueFlags = map[string]bool{
	"-r": true, "--requirement": true, "-c": true, "--constraint": true, "-e": true, "--editable": true,
	"-i": true, "--index-url": true, "--extra-index-url": true, "-f": true, "--find-links": true,
	"-t": true, "--target": true, "--prefix": true, "--root": true, "--platform": true,
	"--python-version": true, "--implementation": true, "--abi": true, "--src": true, "--trusted-host": true,
	"--cache-dir": true, "--log": true, "--timeout": true, "--retries": true, "--proxy": true,
	"--upgrade-strategy": true, "--only-binary": true, "--no-binary": true, "--progress-bar": true,
}

// upstreamFrameworks are the frameworks whose own repositories a
// Dockerfile may clone to build on them (an image for developing Gradio
// clones gradio-app/gradio and installs it from source), by the
// repository's owner/name, lower case.
var upstreamFrameworks = map[string]string{
	"gradio-app/gradio": "gradio", "streamlit/streamlit": "streamlit", "pallets/flask": "flask",
	"fastapi/fastapi": "fastapi", "tiangolo/fastapi": "fastapi", "django/django": "django",
	"plotly/dash": "dash", "holoviz/panel": "panel", "chainlit/chainlit": "chainlit",
	"zauberzeug/nicegui": "nicegui", "reflex-dev/reflex": "reflex", "encode/starlette": "starlette",
	"expressjs/express": "express", "vercel/next.js": "next", "nuxt/nuxt": "nuxt", "facebook/react": "react",
	"vuejs/core": "vue", "vuejs/vue": "vue", "sveltejs/svelte": "svelte", "sveltejs/kit": "sveltekit",
	"vitejs/vite": "vite", "gin-gonic/gin": "gin", "labstack/echo": "echo", "gofiber/fiber": "fiber",
	"tokio-rs/axum": "axum", "actix/actix-web": "actix-web", "rwf2/rocket": "rocket", "sergiobenitez/rocket": "rocket",
	"rails/rails": "rails", "sinatra/sinatra": "sinatra", "laravel/laravel": "laravel", "laravel/framework": "laravel",
	"spring-projects/spring-boot": "spring-boot",
}

// gitCloneValueFlags are the options of git clone that take a value.
var gitCloneValueFlags = map[string]bool{
	"-b": true, "--branch": true, "--depth": true, "-o": true, "--origin": true, "-c": true, "--config": true,
	"--reference": true, "--separate-git-dir": true, "--shallow-since": true, "--shallow-exclude": true,
	"-u": true, "--upload-pack": true, "--template": true, "-j": true, "--jobs": true, "--filter": true,
}

// clonedFramework is the framework whose upstream repository a git clone
// command (words after "clone") fetches, or "".
func clonedFramework(args []string) string {
	for i := 0; i < len(args); i++ {
		a := strings.Trim(args[i], `"'`)
		if gitCloneValueFlags[a] {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		// The first operand is the repository: a URL or host:owner/name.
		a = strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(a), "/"), ".git")
		if _, rest, ok := strings.Cut(a, "://"); ok {
			a = rest
		} else if _, rest, ok := strings.Cut(a, ":"); ok {
			a = rest // git@github.com:owner/name
		}
		parts := strings.Split(a, "/")
		if len(parts) < 2 {
			return ""
		}
		return upstreamFrameworks[parts[len(parts)-2]+"/"+parts[len(parts)-1]]
	}
	return ""
}

// installedFrameworks returns the frameworks the RUN lines of a Dockerfile
// install for the app: pip, uv pip, npm/yarn/pnpm/bun (not global tools),
// go get and go install, gem install, composer require, and a git clone of
// a framework's own repository.
func installedFrameworks(runs []string) []string {
	py, npm, gomods, gems, php := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	var cloned []string
	for _, run := range runs {
		for _, words := range splitSimpleCommands(run) {
			words = stripInstallWrappers(words)
			if len(words) < 2 {
				continue
			}
			prog := path.Base(words[0])
			switch {
			case prog == "git" && words[1] == "clone":
				if f := clonedFramework(words[2:]); f != "" {
					cloned = appendNew(cloned, f)
				}
			case strings.HasPrefix(prog, "pip") || prog == "uv" && words[1] == "pip" ||
				strings.HasPrefix(prog, "python") && len(words) > 2 && words[1] == "-m" && words[2] == "pip":
				args := words[1:]
				for len(args) > 0 && args[0] != "install" {
					args = args[1:]
				}
				if len(args) == 0 {
					continue
				}
				for i := 1; i < len(args); i++ {
					a := args[i]
					if pipValueFlags[a] {
						i++
						continue
					}
					if strings.HasPrefix(a, "-") || strings.ContainsAny(a, "/$") || a == "." {
						continue
					}
					if n := requirementName(strings.Trim(a, `"'`)); n != "" {
						py[n] = true
					}
				}
			case prog == "npm" || prog == "yarn" || prog == "pnpm" || prog == "bun":
				sub := words[1]
				if sub != "install" && sub != "i" && sub != "add" {
					continue
				}
				global := false
				var pkgs []string
				for _, a := range words[2:] {
					switch {
					case a == "-g" || a == "--global" || a == "global":
						global = true
					case strings.HasPrefix(a, "-"):
					default:
						pkgs = append(pkgs, npmPackageName(strings.Trim(a, `"'`)))
					}
				}
				if global || prog == "yarn" && sub == "global" {
					continue
				}
				for _, p := range pkgs {
					if p != "" {
						npm[p] = true
					}
				}
			case prog == "go" && (words[1] == "get" || words[1] == "install"):
				for _, a := range words[2:] {
					if strings.HasPrefix(a, "-") {
						continue
					}
					mod, _, _ := strings.Cut(a, "@")
					mod = strings.TrimSuffix(mod, "/...")
					for _, f := range goFrameworks {
						if mod == f.dep || strings.HasPrefix(mod, f.dep+"/") {
							gomods[f.dep] = true
						}
					}
				}
			case prog == "gem" && words[1] == "install":
				for _, a := range words[2:] {
					if !strings.HasPrefix(a, "-") {
						gems[strings.ToLower(a)] = true
					}
				}
			case prog == "composer" && words[1] == "require":
				for _, a := range words[2:] {
					if !strings.HasPrefix(a, "-") {
						name, _, _ := strings.Cut(strings.Trim(a, `"'`), ":")
						php[strings.ToLower(name)] = true
					}
				}
			}
		}
	}
	var out []string
	for _, f := range [][]string{
		detectFrameworks(py, pythonFrameworks), detectFrameworks(npm, npmFrameworks),
		detectFrameworks(gomods, goFrameworks), detectFrameworks(gems, rubyFrameworks),
		detectFrameworks(php, phpFrameworks), cloned,
	} {
		out = appendNew(out, f...)
	}
	return out
}

// npmPackageName drops the version of an npm install argument:
// express@4 → express, @scope/pkg@1 → @scope/pkg.
func npmPackageName(a string) string {
	if strings.ContainsAny(a, ":/\\") && !strings.HasPrefix(a, "@") {
		return "" // a path, a URL or a git reference
	}
	at := strings.LastIndexByte(a, '@')
	if at > 0 {
		a = a[:at]
	}
	return a
}

// splitSimpleCommands splits a shell line at &&, ||, ;, | and new lines
// into words; quoting is honoured only as far as trimming quotes off words.
func splitSimpleCommands(s string) [][]string {
	s = strings.ReplaceAll(s, "\\\n", " ")
	var out [][]string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, line := range strings.Split(s, "\n") {
		for _, w := range strings.Fields(line) {
			switch w {
			case "&&", "||", ";", "|", "&":
				flush()
				continue
			}
			if t, ok := strings.CutSuffix(w, ";"); ok {
				if t != "" {
					cur = append(cur, t)
				}
				flush()
				continue
			}
			cur = append(cur, w)
		}
		flush()
	}
	return out
}

// stripInstallWrappers drops what runs an installer: sudo, env
// assignments, a leading "set -e" is its own command already.
func stripInstallWrappers(words []string) []string {
	for len(words) > 0 {
		w := words[0]
		switch {
		case w == "sudo" || w == "exec" || w == "command":
			words = words[1:]
		case strings.Contains(w, "=") && !strings.HasPrefix(w, "-"):
			words = words[1:]
		default:
			return words
		}
	}
	return words
}
