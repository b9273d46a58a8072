package metadata

import (
	"path"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/appstore-dev/appstore/catalog"
)

// composeNames are the compose files looked for in a folder, in the order
// Docker Compose itself prefers them.
var composeNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// composeVariant matches other compose files: docker-compose.prod.yml,
// compose.override.yaml, docker-compose-dev.yml.
var composeVariant = regexp.MustCompile(`(?i)^(docker-)?compose[.\-_][A-Za-z0-9.\-_]+\.ya?ml$`)

// isComposeFile reports whether a file name is a compose file.
func isComposeFile(name string) bool {
	l := strings.ToLower(name)
	for _, n := range composeNames {
		if l == n {
			return true
		}
	}
	return composeVariant.MatchString(name)
}

// composeRank orders compose files of one folder: the standard names
// first, then variants with production ones before the rest and
// development, test and override ones last.
func composeRank(name string) int {
	l := strings.ToLower(path.Base(name))
	for i, n := range composeNames {
		if l == n {
			return i
		}
	}
	switch {
	case strings.Contains(l, "prod"):
		return 10
	case strings.Contains(l, "dev") || strings.Contains(l, "test") || strings.Contains(l, "override") || strings.Contains(l, "local") || strings.Contains(l, "ci"):
		return 30
	}
	return 20
}

// sortComposeFiles orders compose files: shallower folders first, then
// by composeRank, then by name.
func sortComposeFiles(files []string) {
	sort.SliceStable(files, func(i, j int) bool {
		di, dj := strings.Count(files[i], "/"), strings.Count(files[j], "/")
		if di != dj {
			return di < dj
		}
		ri, rj := composeRank(files[i]), composeRank(files[j])
		if ri != rj {
			return ri < rj
		}
		return files[i] < files[j]
	})
}

// composeService is one service of a compose file, with its paths made
// relative to the repository root.
type composeService struct {
	Name string
	// Build is set when the service builds an image from the repository:
	// Context and Dockerfile are its paths, Target the stage.
	Build      bool
	Context    string
	Dockerfile string
	Target     string
	// Args are the build arguments of build.args whose values are known
	// here (see composeArgs).
	Args  map[string]string
	Image string
	// Ports are the container ports of ports:, Expose those of expose:.
	Ports     []int
	Expose    []int
	DependsOn []string
	// Environment are the keys of environment:.
	Environment []string
	Line        int
}

// maxComposeServices bounds the services read from one compose file.
const maxComposeServices = 64

// parseCompose reads the services of a compose file. dir is the folder of
// the file, relative to the repository root; build paths are resolved
// against it. A file that is not a compose file (malformed YAML, no
// services) gives no services and a warning.
func parseCompose(file string, data []byte) ([]composeService, []string) {
	top, err := parseYAMLMapping(file, 1, data)
	if err != nil {
		return nil, []string{err.Error() + "; ignored"}
	}
	if top == nil {
		return nil, nil
	}
	dir := path.Dir(file)
	var services *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "services" {
			services = deref(top.Content[i+1])
		}
	}
	if services == nil && isComposeV1(top) {
		// The first Compose format (docker-compose 1.x, no version: or
		// services:) lists the services at the top.
		services = top
	}
	if services == nil || services.Kind != yaml.MappingNode {
		return nil, nil
	}
	var out []composeService
	var warnings []string
	for i := 0; i+1 < len(services.Content) && len(out) < maxComposeServices; i += 2 {
		k, v := services.Content[i], deref(services.Content[i+1])
		if v == nil || v.Kind != yaml.MappingNode {
			continue
		}
		s := composeService{Name: k.Value, Line: k.Line}
		for j := 0; j+1 < len(v.Content); j += 2 {
			key, val := v.Content[j].Value, deref(v.Content[j+1])
			switch key {
			case "image":
				s.Image, _ = scalarString(val)
				s.Image = interpolate(s.Image)
			case "build":
				readComposeBuild(&s, val, dir)
			case "ports":
				s.Ports = composePorts(val)
			case "expose":
				s.Expose = composePorts(val)
			case "depends_on":
				s.DependsOn = composeDependsOn(val)
			case "environment":
				s.Environment = composeEnvironment(val)
			}
		}
		out = append(out, s)
	}
	return out, warnings
}

// readComposeBuild reads build: as a context path or a mapping with
// context, dockerfile and target. Remote contexts (Git URLs) and inline
// Dockerfiles do not build from the repository's files.
func readComposeBuild(s *composeService, v *yaml.Node, dir string) {
	ctx, df := ".", "Dockerfile"
	switch v.Kind {
	case yaml.ScalarNode:
		ctx = interpolate(v.Value)
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			if v.Content[i].Value == "args" {
				s.Args = composeArgs(deref(v.Content[i+1]))
				continue
			}
			val, _ := scalarString(v.Content[i+1])
			val = interpolate(val)
			switch v.Content[i].Value {
			case "context":
				ctx = val
			case "dockerfile":
				df = val
			case "target":
				s.Target = val
			case "dockerfile_inline":
				return
			}
		}
	default:
		return
	}
	if ctx == "" {
		ctx = "."
	}
	if strings.Contains(ctx, "://") || strings.HasPrefix(ctx, "git@") || path.IsAbs(ctx) || df == "" || path.IsAbs(df) {
		return
	}
	c := path.Clean(path.Join(dir, ctx))
	if c == ".." || strings.HasPrefix(c, "../") {
		return
	}
	d := path.Clean(path.Join(c, df))
	if d == ".." || strings.HasPrefix(d, "../") {
		return
	}
	s.Build, s.Context, s.Dockerfile = true, c, d
}

// composeArgs reads build.args, a mapping (KEY: value) or a list
// (KEY=value). An argument whose value is not known here is left out, so
// that the Dockerfile's default applies: a list item without a value (KEY
// alone, taken from the environment of whoever runs compose) and a value
// naming a variable without a default (${NODE_VERSION}).
func composeArgs(v *yaml.Node) map[string]string {
	out := map[string]string{}
	add := func(k, val string, ok bool) {
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return
		}
		if val, ok = interpolateKnown(val); ok {
			out[k] = val
		}
	}
	switch {
	case v == nil:
	case v.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			val, ok := scalarString(v.Content[i+1])
			if ok && deref(v.Content[i+1]).Tag == "!!null" {
				ok = false // KEY: with no value comes from the environment
			}
			add(v.Content[i].Value, val, ok)
		}
	case v.Kind == yaml.SequenceNode:
		for _, c := range v.Content {
			if item, ok := scalarString(c); ok {
				k, val, hasValue := strings.Cut(item, "=")
				add(k, val, hasValue)
			}
		}
	}
	args, _ := catalog.CleanBuildArgs(out)
	return args
}

// interpolateKnown is interpolate for a value that must be known: false
// when it names a variable without a default.
func interpolateKnown(s string) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	const escaped = "\x00" // $$ is a literal $
	t := strings.ReplaceAll(s, "$$", escaped)
	known := true
	t = interpolation.ReplaceAllStringFunc(t, func(m string) string {
		if !strings.Contains(m, "-") { // ${VAR}: no default
			known = false
		}
		return interpolation.FindStringSubmatch(m)[1]
	})
	if !known || strings.Contains(t, "$") {
		// A variable without a default, $VAR, or a form such as
		// ${VAR:?message} that needs the environment.
		return "", false
	}
	return strings.ReplaceAll(t, escaped, "$"), true
}

// interpolate replaces ${VAR:-default}, ${VAR-default} and ${VAR} with the
// default (or nothing): the environment of the person running compose is
// not known here.
var interpolation = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?-)([^}]*))?\}`)

func interpolate(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return interpolation.ReplaceAllString(s, "$1")
}

// composePorts reads ports: or expose: items: "8000", "8000:5000",
// "127.0.0.1:8000:5000/tcp", 5000, "3000-3005" (the first), and the long
// form {target: 5000, published: 8000}. The container port is kept.
func composePorts(v *yaml.Node) []int {
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil
	}
	var out []int
	for _, it := range v.Content {
		it = deref(it)
		var s string
		switch it.Kind {
		case yaml.ScalarNode:
			s = interpolate(it.Value)
		case yaml.MappingNode:
			for i := 0; i+1 < len(it.Content); i += 2 {
				if it.Content[i].Value == "target" {
					s, _ = scalarString(it.Content[i+1])
				}
			}
		}
		s, _, _ = strings.Cut(s, "/")
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			s = s[i+1:]
		}
		s, _, _ = strings.Cut(s, "-")
		if p, ok := parsePort(s); ok && len(out) < maxExpose {
			out = append(out, p)
		}
	}
	return out
}

// composeDependsOn reads depends_on: a list of names or a mapping of name
// to conditions.
func composeDependsOn(v *yaml.Node) []string {
	var out []string
	switch v.Kind {
	case yaml.SequenceNode:
		for _, it := range v.Content {
			if s, ok := scalarString(it); ok && s != "" {
				out = append(out, s)
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			out = append(out, v.Content[i].Value)
		}
	}
	return out
}
