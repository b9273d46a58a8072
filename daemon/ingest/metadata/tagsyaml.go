package metadata

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// TagsFileName is the file in which a repository declares its metadata.
const TagsFileName = "tags.yaml"

// maxListItems bounds how many items one list in a metadata file yields.
const maxListItems = 64

// tagsFile is the content of tags.yaml:
//
//	name: Dash
//	emoji: 📊
//	description: A dashboard for the team
//	homepage: https://dash.example.org
//	tags:
//	  category: dashboard
//	  topic: [metrics, charts]
//	port: 3000
//	dockerfile: deploy/Dockerfile
//	context: .
//	resources: small
//	storage: /data        # or {path: /data, size: 1g}
//	env:
//	  - name: OPENAI_API_KEY
//	    description: key for the embeddings
//	    required: true
//	    secret: true
//	  - name: GREETING
//	    default: hello
//
// tags may also be a list of "key:value" strings.
type tagsFile struct {
	Name, Description, Homepage string
	Emoji                       string
	Tags                        []declaredTag
	Port                        int
	Dockerfile, Context         string
	Resources                   string
	Storage                     *catalog.Storage
	// Env are the variables the app reads (envdecl.go).
	Env []catalog.DeclaredEnv
}

// declaredTag is a tag as written in a file, with the line for warnings.
type declaredTag struct {
	Key, Value string
	Line       int
}

var tagsFileFields = "name, emoji, description, homepage, tags, port, dockerfile, context, resources, env, storage"

// parseTagsFile reads tags.yaml. Malformed YAML and fields of the wrong type
// that steer the build (port, dockerfile, context) are errors; unknown fields
// and unusable tags are warnings. With a field of the wrong type, the
// fields that could be read come back with the error (the first), for the
// card of a repository that cannot be built; malformed YAML gives nil.
func parseTagsFile(file string, data []byte) (*tagsFile, []string, error) {
	top, err := parseYAMLMapping(file, 1, data)
	if err != nil {
		return nil, nil, err
	}
	out := &tagsFile{}
	var warnings []string
	warn := func(line int, format string, args ...any) {
		warnings = append(warnings, fileError(file, line, format, args...).Error())
	}
	if top == nil {
		warn(0, "is empty; nothing declared")
		return out, warnings, nil
	}
	str := func(k, v *yaml.Node) (string, error) {
		s, ok := scalarString(v)
		if !ok {
			return "", fileError(file, v.Line, "%s must be a string, found %s", k.Value, kindName(v))
		}
		return strings.TrimSpace(s), nil
	}
	var firstErr error
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		var err error
		switch strings.ToLower(k.Value) {
		case "name":
			out.Name, err = str(k, v)
		case "description":
			out.Description, err = str(k, v)
		case "homepage":
			out.Homepage, err = str(k, v)
		case "emoji":
			var e string
			if e, err = str(k, v); err == nil {
				if out.Emoji = cleanEmoji(e); out.Emoji == "" && e != "" {
					warn(v.Line, "emoji %q is not an emoji (one symbol such as 📊); ignored", textutil.Truncate(e, 20))
				}
			}
		case "dockerfile":
			out.Dockerfile, err = str(k, v)
		case "context":
			out.Context, err = str(k, v)
		case "resources":
			out.Resources, err = str(k, v)
		case "port":
			p, ok := portValue(v)
			if !ok {
				err = fileError(file, v.Line, "port must be a TCP port number between 1 and 65535, found %s", kindName(v))
				break
			}
			out.Port = p
		case "storage":
			var w []string
			out.Storage, w, err = storageValue(file, v)
			warnings = append(warnings, w...)
		case "env":
			var w []string
			out.Env, w = parseTagsEnv(file, v)
			warnings = append(warnings, w...)
		case "tags":
			var w []string
			out.Tags, w, err = declaredTags(file, v)
			warnings = append(warnings, w...)
		default:
			warn(k.Line, "unknown field %q ignored (known fields: %s)", textutil.Truncate(k.Value, 40), tagsFileFields)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return out, warnings, firstErr
}

// declaredTags reads the tags field: a mapping of key to a value or a list
// of values, or a list of "key:value" strings.
func declaredTags(file string, v *yaml.Node) ([]declaredTag, []string, error) {
	var out []declaredTag
	var warnings []string
	v = deref(v)
	switch v.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, val := v.Content[i], v.Content[i+1]
			key, ok := scalarString(k)
			if !ok {
				warnings = append(warnings, fileError(file, k.Line, "a tag key must be a word such as category; ignored").Error())
				continue
			}
			vals, bad := stringList(val, maxListItems)
			for _, l := range bad {
				warnings = append(warnings, fileError(file, l, "tag %q: a value must be a word or a list of words; ignored", textutil.Truncate(key, 40)).Error())
			}
			for _, s := range vals {
				out = append(out, declaredTag{Key: key, Value: s, Line: val.Line})
			}
		}
	case yaml.SequenceNode:
		for _, c := range v.Content {
			s, ok := scalarString(c)
			key, value, hasColon := strings.Cut(s, ":")
			if !ok || !hasColon {
				warnings = append(warnings, fileError(file, c.Line, "a tag in a list must be key:value, e.g. category:dashboard; ignored").Error())
				continue
			}
			out = append(out, declaredTag{Key: key, Value: value, Line: c.Line})
		}
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, nil, nil
		}
		fallthrough
	default:
		return nil, warnings, fileError(file, v.Line, "tags must be a mapping (category: dashboard) or a list of key:value, found %s", kindName(v))
	}
	if len(out) > 4*maxListItems {
		warnings = append(warnings, fmt.Sprintf("%s: %d tags declared; only the first %d are read", file, len(out), 4*maxListItems))
		out = out[:4*maxListItems]
	}
	return out, warnings, nil
}
