package metadata

import (
	"bufio"
	"bytes"
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// What an app declares it reads from its environment (catalog.DeclaredEnv):
//
//   - tags.yaml env:, a list of names or of mappings
//     {name, description, required, secret, default};
//   - the names of .env.example and .env.sample (at the root, and in the
//     build context), never required or secret: the values there are
//     examples, not defaults;
//   - the environment: keys of the compose service that is built.
//
// The first declaration of a name wins, in that order.

// envExampleFiles are the files whose names are read.
var envExampleFiles = []string{catalog.EnvFromEnvExample, catalog.EnvFromEnvSample}

// maxDescriptionLen bounds a declared variable's description.
const maxEnvDescriptionLen = 200

// parseTagsEnv reads tags.yaml's env: field. Bad entries are warnings: a
// typo in a description must not stop the app's ingestion.
func parseTagsEnv(file string, v *yaml.Node) ([]catalog.DeclaredEnv, []string) {
	var out []catalog.DeclaredEnv
	var warnings []string
	warn := func(line int, format string, args ...any) {
		warnings = append(warnings, fileError(file, line, format, args...).Error())
	}
	v = deref(v)
	if v == nil || (v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		warn(v.Line, "env must be a list of variables (- name: OPENAI_API_KEY), found %s; ignored", kindName(v))
		return nil, warnings
	}
	for _, item := range v.Content {
		item = deref(item)
		d := catalog.DeclaredEnv{Source: catalog.EnvFromTags}
		switch item.Kind {
		case yaml.ScalarNode:
			d.Name, _ = scalarString(item)
		case yaml.MappingNode:
			for i := 0; i+1 < len(item.Content); i += 2 {
				k, val := item.Content[i], deref(item.Content[i+1])
				s, ok := scalarString(val)
				switch strings.ToLower(k.Value) {
				case "name":
					d.Name = s
				case "description":
					d.Description = catalog.CleanText(s, maxEnvDescriptionLen)
				case "default":
					d.Default = s
				case "required", "secret":
					b := ok && (s == "true" || s == "yes" || s == "on")
					if ok && !b && s != "false" && s != "no" && s != "off" {
						warn(val.Line, "env %s: %s must be true or false, found %q; taken as false", d.Name, k.Value, textutil.Truncate(s, 20))
					}
					if k.Value == "required" {
						d.Required = b
					} else {
						d.Secret = b
					}
				default:
					warn(k.Line, "env: unknown field %q ignored (known: name, description, required, secret, default)", textutil.Truncate(k.Value, 40))
				}
			}
		default:
			warn(item.Line, "env: an entry must be a name or a mapping with name:, found %s; ignored", kindName(item))
			continue
		}
		d.Name = strings.TrimSpace(d.Name)
		if err := catalog.ValidateEnvName(d.Name); err != nil {
			warn(item.Line, "env: %v; ignored", err)
			continue
		}
		if d.Secret && d.Default != "" {
			warn(item.Line, "env %s: a secret has no default (it would be in the repository for all to read); default ignored", d.Name)
			d.Default = ""
		}
		if err := catalog.ValidateEnvValue(d.Name, d.Default); err != nil {
			warn(item.Line, "env %s: default: %v; ignored", d.Name, err)
			d.Default = ""
		}
		out = append(out, d)
		if len(out) >= catalog.MaxEnvPerApp {
			warn(item.Line, "env: more than %d variables; the rest are ignored", catalog.MaxEnvPerApp)
			break
		}
	}
	return out, warnings
}

// parseEnvExample reads the names of a .env.example: NAME=value lines
// (with an optional "export "), comments and blank lines skipped.
func parseEnvExample(file string, data []byte) []catalog.DeclaredEnv {
	var out []catalog.DeclaredEnv
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	source := path.Base(file)
	for sc.Scan() && len(out) < catalog.MaxEnvPerApp {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, _, _ := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if catalog.ValidateEnvName(name) != nil {
			continue
		}
		out = append(out, catalog.DeclaredEnv{Name: name, Source: source})
	}
	return out
}

// composeEnvironment reads the keys of a compose service's environment:,
// a mapping (KEY: value) or a list (KEY=value, or KEY alone).
func composeEnvironment(v *yaml.Node) []string {
	var out []string
	switch {
	case v == nil:
	case v.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			out = append(out, v.Content[i].Value)
		}
	case v.Kind == yaml.SequenceNode:
		for _, c := range v.Content {
			if s, ok := scalarString(c); ok {
				name, _, _ := strings.Cut(s, "=")
				out = append(out, strings.TrimSpace(name))
			}
		}
	}
	if len(out) > catalog.MaxEnvPerApp {
		out = out[:catalog.MaxEnvPerApp]
	}
	return out
}

// declaredEnv gathers the app's declared variables (see the top of this
// file): tags.yaml's first, then the example files at the root and in the
// build context, then the built compose service's environment.
func (x *extraction) declaredEnv(tf *tagsFile, ch *buildChoice) ([]catalog.DeclaredEnv, error) {
	lists := [][]catalog.DeclaredEnv{tf.Env}
	dirs := []string{"."}
	if ch != nil && ch.Context != "" && ch.Context != "." {
		dirs = append(dirs, ch.Context)
	}
	for _, dir := range dirs {
		for _, name := range envExampleFiles {
			p := path.Join(dir, name)
			data, err := x.optional(p, 64<<10)
			if err != nil {
				return nil, err
			}
			if data == nil {
				continue
			}
			lists = append(lists, parseEnvExample(p, data))
		}
	}
	if ch != nil {
		var fromCompose []catalog.DeclaredEnv
		for _, n := range ch.composeEnv {
			fromCompose = append(fromCompose, catalog.DeclaredEnv{Name: n, Source: catalog.EnvFromCompose})
		}
		lists = append(lists, fromCompose)
	}
	return catalog.MergeDeclaredEnv(lists...), nil
}
