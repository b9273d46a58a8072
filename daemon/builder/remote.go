package builder

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/appstore-dev/appstore/catalog/giturl"
)

// checkClassicSources refuses, before a classic build, every ADD whose
// source is remote: the classic builder downloads ADD URLs and clones Git
// remotes inside the engine, on the engine host's own network, where
// appstored cannot check the connection (a redirect to loopback, a DNS
// answer that changes). Sources are read as the engine expands them (ARG
// defaults, ENV), ONBUILD instructions of the Dockerfile included, and
// the ONBUILD triggers of base images the engine has (image inspect).
// With BuildKit, the guard checks the expanded build instead and can
// admit URLs (--build-allow-remote-add). buildArgs are the build's
// arguments, which override the ARG defaults as the engine applies them.
func checkClassicSources(ctx context.Context, dockerfile []byte, path string, e Engine, buildArgs map[string]string) error {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil // the engine reports syntax errors, with their line
	}
	lex := shell.NewLex(res.EscapeToken)
	meta := map[string]string{} // ARGs before the first FROM
	var env map[string]string   // the current stage's ARGs and ENVs
	stages := map[string]bool{}
	refuse := func(line int, src, where string) error {
		return &contextError{msg: fmt.Sprintf("%s line %d: ADD %s%s: this engine has no BuildKit, and its classic builder would fetch the source itself on its host's network, which appstore refuses. Download it in a RUN step instead (RUN wget -O /dest <url>, or curl), which runs on the build network",
			path, line, src, where)}
	}
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case command.From:
			var args []string
			for a := n.Next; a != nil; a = a.Next {
				args = append(args, a.Value)
			}
			if len(args) == 0 {
				continue
			}
			image, _, _ := lex.ProcessWord(args[0], envOf(meta))
			if len(args) == 3 && strings.EqualFold(args[1], "as") {
				stages[strings.ToLower(args[2])] = true
			}
			env = map[string]string{}
			if image == "scratch" || stages[strings.ToLower(image)] {
				continue
			}
			inspect, err := e.ImageInspect(ctx, image)
			if err != nil || inspect.Config == nil {
				continue // the engine pulls it or says it cannot
			}
			for _, trigger := range inspect.Config.OnBuild {
				if src := remoteAddSource(trigger, lex, nil); src != "" {
					return refuse(n.StartLine, src, fmt.Sprintf(" (an ONBUILD trigger of the base image %s)", image))
				}
			}
		case command.Arg:
			for a := n.Next; a != nil; a = a.Next {
				k, v, ok := strings.Cut(a.Value, "=")
				if ok {
					v, _, _ = lex.ProcessWord(v, envOf(meta, env))
				} else if mv, known := meta[k]; known {
					v, ok = mv, true
				}
				if bv, given := buildArgs[k]; given {
					v, ok = bv, true
				}
				if env == nil {
					meta[k] = v
				} else if ok {
					env[k] = v
				}
			}
		case command.Env:
			for a := n.Next; a != nil && a.Next != nil; a = a.Next.Next {
				v, _, _ := lex.ProcessWord(a.Next.Value, envOf(meta, env))
				if env != nil {
					env[a.Value] = v
				}
			}
		case command.Add:
			if src := remoteAddNode(n, lex, envOf(meta, env)); src != "" {
				return refuse(n.StartLine, src, "")
			}
		case command.Onbuild:
			if n.Next != nil && len(n.Next.Children) > 0 {
				if src := remoteAddNode(n.Next.Children[0], lex, envOf(meta, env)); src != "" {
					return refuse(n.StartLine, src, " (ONBUILD)")
				}
			}
		}
	}
	return nil
}

// remoteAddSource parses one instruction (an ONBUILD trigger) and returns
// its remote ADD source, or "".
func remoteAddSource(instruction string, lex *shell.Lex, env shell.EnvGetter) string {
	res, err := parser.Parse(strings.NewReader(instruction))
	if err != nil || len(res.AST.Children) == 0 {
		return ""
	}
	return remoteAddNode(res.AST.Children[0], lex, env)
}

// remoteAddNode returns the first remote source of an ADD node, expanded,
// or "".
func remoteAddNode(n *parser.Node, lex *shell.Lex, env shell.EnvGetter) string {
	if !strings.EqualFold(n.Value, command.Add) {
		return ""
	}
	var args []string
	for a := n.Next; a != nil; a = a.Next {
		args = append(args, a.Value)
	}
	if env == nil {
		env = envOf()
	}
	for i, a := range args {
		if i == len(args)-1 {
			break // the destination
		}
		src, _, err := lex.ProcessWord(a, env)
		if err != nil {
			src = a
		}
		if isRemoteSource(src) || isRemoteSource(a) {
			return src
		}
	}
	return ""
}

// isRemoteSource reports a URL or Git remote as ADD reads them.
func isRemoteSource(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, "://") || strings.HasPrefix(l, "git@")
}

// envOf merges variable maps, later ones winning, into a lexer's env.
func envOf(maps ...map[string]string) shell.EnvGetter {
	var kv []string
	for _, m := range maps {
		for k, v := range m {
			kv = append(kv, k+"="+v)
		}
	}
	return shell.EnvsFromSlice(kv)
}

// describeAddr says what kind of address host is, or resolves to.
func describeAddr(host string, a netip.Addr) string {
	class, _ := giturl.Classify(a)
	if class == "" && a.IsLoopback() {
		class = "loopback"
	}
	if a.String() == host {
		return fmt.Sprintf("%s is %s", host, class)
	}
	return fmt.Sprintf("%s resolves to %s, which is %s", host, a, class)
}
