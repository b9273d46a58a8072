package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// DockerfileInfo is what the Dockerfile says about the image it builds. The
// final stage (the last FROM) is the image; stages it derives from with
// "FROM <stage>" contribute their EXPOSE, USER and HEALTHCHECK as the image
// inherits them.
type DockerfileInfo struct {
	// BaseImage is the final stage's base image as written, with build
	// arguments' defaults expanded, e.g. "node:20-alpine" or "scratch".
	BaseImage string `json:"base_image,omitempty"`
	// Stages is the number of FROM instructions.
	Stages int `json:"stages"`
	// Expose lists the ports of EXPOSE in instruction order, without duplicates.
	Expose []int `json:"expose,omitempty"`
	// User is the last USER of the image, "" when it runs as the base's user.
	User string `json:"user,omitempty"`
	// Healthcheck says the image declares a HEALTHCHECK (other than NONE).
	Healthcheck bool `json:"healthcheck"`
}

// dockerfileNames are looked for at the root, in order.
var dockerfileNames = []string{"Dockerfile", "dockerfile", "Containerfile", "containerfile"}

// resolveContext checks a declared build context, or derives it from the
// Dockerfile's directory. "." is the repository root.
func (r *repo) resolveContext(declared, declaredBy, dockerfile string) (string, error) {
	if declared == "" {
		return path.Dir(dockerfile), nil
	}
	what := "the build context declared by " + declaredBy
	p, err := cleanRel(what, declared)
	if err != nil {
		return "", err
	}
	real, fi, err := r.stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fileError(p, 0, "%s does not exist in the repository; fix the path or remove the declaration", what)
	case err != nil:
		return "", err
	case !fi.IsDir():
		return "", fileError(p, 0, "%s is not a directory", what)
	}
	return real, nil
}

// Bounds of what a Dockerfile may hold. Real ones have a handful of stages;
// the bound keeps a hostile one from costing stages × variables.
const (
	maxStages = 128
	maxExpose = 32
)

type stage struct {
	name        string // "AS name", lower-case
	image       string // as written, arguments expanded
	parent      int    // index of the stage it derives from, -1 for an image
	env         map[string]string
	expose      []int
	user        string
	userSet     bool
	healthcheck *bool
	cmd, entry  *imageCommand
	cmdReset    bool
	// runtime holds the variables ENV sets: the container's environment
	// (env also has ARG values, which only the build sees).
	runtime map[string]string
}

// command is a CMD or ENTRYPOINT: the words of the exec form, or the one
// string of the shell form.
type imageCommand struct {
	Words []string
	Shell bool
	Line  int
}

// sourceRef is a path a Dockerfile reads from its build context: a COPY or
// ADD source, or the source of a RUN --mount=type=bind.
type sourceRef struct {
	Path string
	// Dest is where a COPY or ADD puts it in the image.
	Dest string
	Line int
	// Instr is the instruction, for messages: "COPY", "ADD", "RUN --mount".
	Instr string
}

// dockerfileFacts is what ingestion reads from a Dockerfile besides
// DockerfileInfo: the image's command and environment (for the port) and
// the paths it reads from its context (to tell which context it builds
// with, and a leftover template from the app's Dockerfile).
type dockerfileFacts struct {
	Info DockerfileInfo
	// Cmd and Entrypoint are the image's, inherited from the stages it
	// derives from; nil when the Dockerfile sets none (the base image's
	// apply).
	Cmd, Entrypoint *imageCommand
	// Env is the image's environment as the Dockerfile sets it.
	Env map[string]string
	// Sources are the context paths every stage reads, at most
	// maxSources.
	Sources []sourceRef
	// BaseImages are the images stages start from (not other stages).
	BaseImages []string
	// RunLines are the commands of the RUN instructions of every stage,
	// at most maxRunLines, each cut at maxRunLine bytes.
	RunLines []string
	// CopiesFromStage says a COPY --from brings files from another
	// stage or image (a build's output, as a static site's nginx stage
	// does).
	CopiesFromStage bool
	// stages and byName are the parsed stages, for forTarget.
	stages []*stage
	byName map[string]int
}

// maxSources bounds the context paths kept from one Dockerfile.
const maxSources = 64

// parseDockerfile reads a Dockerfile with BuildKit's parser and checks what
// the parser leaves to the builder (unknown instructions, instructions
// before FROM), so that such a Dockerfile fails ingestion with its line
// instead of failing the build later.
func parseDockerfile(file string, data []byte) (DockerfileInfo, []string, error) {
	f, w, err := analyzeDockerfile(file, data)
	if f == nil {
		return DockerfileInfo{}, w, err
	}
	return f.Info, w, err
}

// analyzeDockerfile is parseDockerfile with the facts ingestion needs
// besides DockerfileInfo.
func analyzeDockerfile(file string, data []byte) (*dockerfileFacts, []string, error) {
	facts := &dockerfileFacts{}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		msg := err.Error()
		line := errorLine(err)
		switch {
		case msg == "file with no instructions":
			return nil, nil, &Error{File: file, Msg: "has no instructions; a Dockerfile starts with FROM <image>", Err: err}
		case strings.Contains(msg, "parser directive") || strings.Contains(msg, "escape token"):
			// Directive errors carry a 0-based line, the others 1-based.
			line++
		}
		return nil, nil, &Error{File: file, Line: line, Msg: "cannot parse the Dockerfile: " + msg, Err: err}
	}
	var warnings []string
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		warnings = append(warnings, (&Error{File: file, Line: line, Msg: w.Short}).Error())
	}
	lex := shell.NewLex(res.EscapeToken)
	// Global build arguments: ARG before the first FROM, usable in FROM.
	globalArgs := map[string]string{}
	var stages []*stage
	byName := map[string]int{}
	for _, n := range res.AST.Children {
		cmd := strings.ToLower(n.Value)
		if _, ok := command.Commands[cmd]; !ok {
			return nil, warnings, fileError(file, n.StartLine, "unknown instruction %q; a Dockerfile uses FROM, RUN, COPY, ADD, CMD, ENTRYPOINT, ENV, ARG, EXPOSE, USER, WORKDIR, HEALTHCHECK, LABEL, VOLUME, SHELL, STOPSIGNAL, ONBUILD", textutil.Truncate(n.Value, 40))
		}
		args := nodeWords(n)
		if cmd == command.From {
			if len(stages) >= maxStages {
				return nil, warnings, fileError(file, n.StartLine, "has more than %d build stages; split the build", maxStages)
			}
			st, err := fromStage(file, n, args, stages, byName, globalArgs, lex)
			if err != nil {
				return nil, warnings, err
			}
			if st.name != "" {
				byName[st.name] = len(stages)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if cmd != command.Arg {
				return nil, warnings, fileError(file, n.StartLine, "%s comes before the first FROM; a Dockerfile starts with FROM (only ARG may come before it)", strings.ToUpper(cmd))
			}
			for _, a := range args {
				k, v, _ := strings.Cut(a, "=")
				globalArgs[k] = v
			}
			continue
		}
		st := stages[len(stages)-1]
		switch cmd {
		case command.Arg:
			for _, a := range args {
				k, v, hasDefault := strings.Cut(a, "=")
				if !hasDefault {
					// ARG NAME inside a stage brings the global value in.
					v = globalArgs[k]
				}
				st.env[k] = expand(lex, v, st.env)
			}
		case command.Env:
			// ENV's node list is key, value, separator, key, value, ...
			for k := n.Next; k != nil && k.Next != nil; {
				st.env[k.Value] = expand(lex, k.Next.Value, st.env)
				st.runtime[k.Value] = st.env[k.Value]
				k = k.Next.Next
				if k != nil {
					k = k.Next
				}
			}
		case command.Expose:
			for _, a := range args {
				p, err := exposedPort(expand(lex, a, st.env))
				if err != nil {
					warnings = append(warnings, fileError(file, n.StartLine, "EXPOSE %s: %v; ignored", textutil.Truncate(a, 40), err).Error())
					continue
				}
				st.expose = append(st.expose, p)
			}
		case command.User:
			if len(args) > 0 {
				st.user = expand(lex, args[0], st.env)
				st.userSet = true
			}
		case command.Healthcheck:
			on := len(args) == 0 || !strings.EqualFold(args[0], "none")
			st.healthcheck = &on
		case command.Cmd, command.Entrypoint:
			c := &imageCommand{Line: n.StartLine, Shell: !n.Attributes["json"]}
			c.Words = args
			if cmd == command.Cmd {
				st.cmd = c
			} else {
				st.entry = c
				// ENTRYPOINT resets the CMD of the stages before.
				st.cmd = nil
				st.cmdReset = true
			}
		case command.Copy, command.Add:
			facts.addCopySources(strings.ToUpper(cmd), n, args, st.env, lex)
		case command.Run:
			facts.addMountSources(n, st.env, lex)
			if len(facts.RunLines) < maxRunLines {
				line := strings.Join(args, " ")
				if len(line) > maxRunLine {
					line = line[:maxRunLine]
				}
				facts.RunLines = append(facts.RunLines, line)
			}
		}
	}
	if len(stages) == 0 {
		return nil, warnings, fileError(file, 0, "has no FROM instruction; a Dockerfile starts with FROM <image>")
	}
	for _, st := range stages {
		if st.parent < 0 && !slices.Contains(facts.BaseImages, st.image) {
			facts.BaseImages = append(facts.BaseImages, st.image)
		}
	}
	facts.stages, facts.byName = stages, byName
	facts.imageOf(len(stages) - 1)
	return facts, warnings, nil
}

// forTarget returns the facts of the image a build that stops at the stage
// named target makes (docker build --target): its base image, EXPOSE,
// USER, HEALTHCHECK, command and environment are that stage's and those of
// the stages it derives from. False when no stage has that name.
func (f *dockerfileFacts) forTarget(target string) (*dockerfileFacts, bool) {
	i, ok := f.byName[strings.ToLower(target)]
	if !ok {
		return nil, false
	}
	t := *f
	t.Cmd, t.Entrypoint = nil, nil
	t.imageOf(i)
	return &t, true
}

// imageOf sets Info, Env, Cmd and Entrypoint to those of the image the
// stage at index last makes.
func (f *dockerfileFacts) imageOf(last int) {
	var info DockerfileInfo
	stages := f.stages
	info.Stages = len(stages)
	// The image's history: the stage and the stages it derives from,
	// oldest first.
	var chain []*stage
	for i := last; i >= 0; i = stages[i].parent {
		chain = append(chain, stages[i])
	}
	slices.Reverse(chain)
	info.BaseImage = chain[0].image
	facts := f
	facts.Env = map[string]string{}
	seen := map[int]bool{}
	for _, st := range chain {
		for k, v := range st.runtime {
			facts.Env[k] = v
		}
		if st.entry != nil {
			facts.Entrypoint = st.entry
		}
		if st.cmd != nil {
			facts.Cmd = st.cmd
		} else if st.cmdReset {
			facts.Cmd = nil
		}
		for _, p := range st.expose {
			if !seen[p] && len(info.Expose) < maxExpose {
				seen[p] = true
				info.Expose = append(info.Expose, p)
			}
		}
		if st.userSet {
			info.User = st.user
		}
		if st.healthcheck != nil {
			info.Healthcheck = *st.healthcheck
		}
	}
	facts.Info = info
}

func fromStage(file string, n *parser.Node, args []string, stages []*stage, byName map[string]int, globalArgs map[string]string, lex *shell.Lex) (*stage, error) {
	if len(args) == 0 {
		return nil, fileError(file, n.StartLine, "FROM without an image; write FROM <image>, e.g. FROM alpine:3.20")
	}
	st := &stage{parent: -1, env: map[string]string{}, runtime: map[string]string{}}
	switch {
	case len(args) == 3 && strings.EqualFold(args[1], "as"):
		st.name = strings.ToLower(args[2])
	case len(args) != 1:
		return nil, fileError(file, n.StartLine, "FROM takes an image and an optional \"AS name\"; found %q", textutil.Truncate(strings.Join(args, " "), 80))
	}
	st.image = expand(lex, args[0], globalArgs)
	// FROM <earlier stage> derives from that stage, not from an image.
	if i, ok := byName[strings.ToLower(st.image)]; ok {
		st.parent = i
		for k, v := range stages[i].env {
			st.env[k] = v
		}
		for k, v := range stages[i].runtime {
			st.runtime[k] = v
		}
	}
	return st, nil
}

// addCopySources records the context paths of a COPY or ADD: none for
// --from (another stage or image), heredocs, URLs and Git sources, and
// paths whose variables cannot be expanded.
func (f *dockerfileFacts) addCopySources(instr string, n *parser.Node, args []string, env map[string]string, lex *shell.Lex) {
	for _, fl := range n.Flags {
		if strings.HasPrefix(fl, "--from") {
			f.CopiesFromStage = true
			return
		}
	}
	if len(args) < 2 {
		return
	}
	dest := expand(lex, args[len(args)-1], env)
	for _, a := range args[:len(args)-1] {
		if strings.HasPrefix(a, "<<") {
			continue
		}
		if strings.Contains(a, "://") || strings.HasPrefix(a, "git@") {
			continue
		}
		f.addSource(instr, a, dest, n.StartLine, env, lex)
	}
}

// addMountSources records the sources of RUN --mount=type=bind mounts of
// the context (docker init's Dockerfiles read go.mod, package.json and
// requirements.txt this way).
func (f *dockerfileFacts) addMountSources(n *parser.Node, env map[string]string, lex *shell.Lex) {
	for _, fl := range n.Flags {
		spec, ok := strings.CutPrefix(fl, "--mount=")
		if !ok {
			continue
		}
		typ, src, from := "bind", "", ""
		for _, kv := range strings.Split(spec, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "type":
				typ = v
			case "source", "src":
				src = v
			case "from":
				from = v
			}
		}
		if typ != "bind" || from != "" || src == "" {
			continue
		}
		f.addSource("RUN --mount", src, "", n.StartLine, env, lex)
	}
}

func (f *dockerfileFacts) addSource(instr, word, dest string, line int, env map[string]string, lex *shell.Lex) {
	if len(f.Sources) >= maxSources {
		return
	}
	p := word
	if strings.ContainsRune(word, '$') {
		// A path whose variables are not all known cannot be checked.
		tr := &trackEnv{env: env}
		out, _, err := lex.ProcessWord(word, tr)
		if err != nil || tr.missing || out == "" {
			return
		}
		p = out
	}
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		p = "."
	}
	f.Sources = append(f.Sources, sourceRef{Path: p, Dest: dest, Line: line, Instr: instr})
}

// nodeWords returns the arguments of an instruction.
func nodeWords(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil && len(out) < 1000; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

// expand removes quotes and substitutes $VAR and ${VAR} with what is known,
// as a build does; unknown variables expand to "". On a lexing error the word
// is kept as written.
func expand(lex *shell.Lex, word string, env map[string]string) string {
	out, _, err := lex.ProcessWord(word, mapEnv(env))
	if err != nil {
		return word
	}
	return out
}

// mapEnv serves variables to the lexer straight from a map: building a
// slice per word would make a Dockerfile with many ENV lines quadratic.
type mapEnv map[string]string

func (m mapEnv) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func (m mapEnv) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// trackEnv serves variables like mapEnv and notes a lookup of an unknown
// one.
type trackEnv struct {
	env     map[string]string
	missing bool
}

func (t *trackEnv) Get(k string) (string, bool) {
	v, ok := t.env[k]
	if !ok {
		t.missing = true
	}
	return v, ok
}

func (t *trackEnv) Keys() []string { return mapEnv(t.env).Keys() }

// exposedPort reads one EXPOSE argument: "8080", "8080/tcp", "3000-3005/udp"
// (the first of a range).
func exposedPort(s string) (int, error) {
	s, _, _ = strings.Cut(s, "/")
	s, _, _ = strings.Cut(s, "-")
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("not a port number between 1 and 65535")
	}
	return p, nil
}

// errorLine extracts the 1-based line from a BuildKit parser error.
func errorLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, rs := range le.Locations {
			for _, r := range rs {
				if r.Start.Line > 0 {
					return r.Start.Line
				}
			}
		}
	}
	return 0
}

// runtimeOf returns the runtime: value of a base image: the last path
// element of its repository without tag or digest ("node:20-alpine" → node,
// "ghcr.io/acme/base@sha256:…" → base). It returns "" for a reference that
// still holds an unexpanded variable.
func runtimeOf(image string) string {
	if image == "" || strings.ContainsRune(image, '$') {
		return ""
	}
	ref, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		ref = ref[i+1:]
	}
	ref, _, _ = strings.Cut(ref, ":")
	return ref
}
