package metadata

import (
	"strings"

	"github.com/yuin/goldmark/ast"
)

// The README's `docker run`: many READMEs say how to run the image
// (`docker run -p 8000:8000 my-app`) and nothing else does. The container
// side of the first published port is the port the app serves.

// dockerRunBoolFlags are the flags of docker run that take no value.
var dockerRunBoolFlags = map[string]bool{
	"d": true, "i": true, "t": true, "it": true, "ti": true, "dit": true, "itd": true, "rm": true,
	"P": true, "detach": true, "interactive": true, "tty": true, "init": true, "privileged": true,
	"read-only": true, "publish-all": true, "no-healthcheck": true, "oom-kill-disable": true,
	"sig-proxy": true, "disable-content-trust": true, "q": true, "quiet": true,
}

// readmeRunPort returns the container port of the first `docker run` (or
// `podman run`) in the README's code blocks and code spans that publishes
// a port with a number on its container side, 0 if none does.
func readmeRunPort(doc ast.Node, src []byte) int {
	port := 0
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || port > 0 {
			return ast.WalkContinue, nil
		}
		var text string
		switch n := n.(type) {
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			text = string(blockLines(n, src))
		case *ast.CodeSpan:
			var b strings.Builder
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				if t, ok := c.(*ast.Text); ok {
					b.Write(t.Value(src))
				}
			}
			text = b.String()
		default:
			return ast.WalkContinue, nil
		}
		// Continued lines are one command.
		text = strings.ReplaceAll(strings.ReplaceAll(text, "\\\r\n", " "), "\\\n", " ")
		for _, line := range strings.Split(text, "\n") {
			if p := dockerRunLinePort(line); p > 0 {
				port = p
				return ast.WalkStop, nil
			}
		}
		return ast.WalkContinue, nil
	})
	return port
}

// dockerRunLinePort reads one shell line: the container port of the first
// -p/--publish of a docker run on it, 0 if none.
func dockerRunLinePort(line string) int {
	words := strings.Fields(line)
	for i := 0; i < len(words); i++ {
		w := strings.Trim(words[i], "$(`")
		if w != "docker" && w != "podman" {
			continue
		}
		j := i + 1
		if j < len(words) && words[j] == "container" {
			j++
		}
		if j >= len(words) || words[j] != "run" {
			continue
		}
		if p := publishedPort(words[j+1:]); p > 0 {
			return p
		}
	}
	return 0
}

// publishedPort reads docker run's options up to the image name: the
// container port of the first -p, 0 if none, -1 when the image is a
// database or a proxy.
func publishedPort(args []string) int {
	port := 0
	for k := 0; k < len(args); k++ {
		a := strings.Trim(args[k], `"'`)
		if !strings.HasPrefix(a, "-") || a == "-" {
			// The image: what follows is the container's command. A
			// database or proxy the README starts beside the app is not it.
			if rt := runtimeOf(a); datastoreImages[rt] || proxyImages[rt] {
				return -1
			}
			return port
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasVal && !strings.HasPrefix(a, "--") && len(name) > 1 && name[0] == 'p' && name != "privileged" {
			// -p8080:80
			name, val, hasVal = "p", name[1:], true
		}
		if name != "p" && name != "publish" {
			if !hasVal && !dockerRunBoolFlags[name] {
				k++ // the flag's value
			}
			continue
		}
		if !hasVal {
			if k+1 >= len(args) {
				return port
			}
			k++
			val = strings.Trim(args[k], `"'`)
		}
		if port == 0 {
			port = containerSide(val)
		}
	}
	return port
}

// containerSide reads the container port of a publish spec: "8000:8000",
// "127.0.0.1:8080:80", "3000", "8080:80/tcp"; 0 for a UDP port, a range
// or a variable.
func containerSide(spec string) int {
	spec, proto, _ := strings.Cut(spec, "/")
	if proto != "" && proto != "tcp" {
		return 0
	}
	c := spec[strings.LastIndexByte(spec, ':')+1:]
	p, ok := parsePort(c)
	if !ok {
		return 0
	}
	return p
}
