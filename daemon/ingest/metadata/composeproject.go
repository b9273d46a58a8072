package metadata

import (
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxComposeIncludes bounds the files one compose file includes.
const maxComposeIncludes = 32

// composeIncludes reads the top-level include: of a compose file (Compose
// 2.20 and later): the paths of the compose files it pulls into the same
// project, relative to the repository root, in order. Both the short form
// (a list of paths) and the long one ({path: …}, path itself a string or
// a list) are read; paths that leave the repository are dropped.
func composeIncludes(file string, data []byte) []string {
	top, err := parseYAMLMapping(file, 1, data)
	if err != nil || top == nil {
		return nil
	}
	var inc *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "include" {
			inc = deref(top.Content[i+1])
		}
	}
	if inc == nil || inc.Kind != yaml.SequenceNode {
		return nil
	}
	dir := path.Dir(file)
	var out []string
	add := func(n *yaml.Node) {
		s, ok := scalarString(n)
		s = interpolate(s)
		if !ok || s == "" || path.IsAbs(s) || strings.Contains(s, "://") || len(out) >= maxComposeIncludes {
			return
		}
		p := path.Clean(path.Join(dir, s))
		if p == ".." || strings.HasPrefix(p, "../") {
			return
		}
		out = append(out, p)
	}
	for _, it := range inc.Content {
		it = deref(it)
		switch it.Kind {
		case yaml.ScalarNode:
			add(it)
		case yaml.MappingNode:
			for i := 0; i+1 < len(it.Content); i += 2 {
				if it.Content[i].Value != "path" {
					continue
				}
				v := deref(it.Content[i+1])
				if v != nil && v.Kind == yaml.SequenceNode {
					for _, p := range v.Content {
						add(p)
					}
				} else {
					add(v)
				}
			}
		}
	}
	return out
}

// isComposeV1 says a compose file's top level is a map of services, as in
// the first Compose format: no version, services, networks or volumes key,
// and every value a mapping with build or image.
func isComposeV1(top *yaml.Node) bool {
	if top == nil || top.Kind != yaml.MappingNode || len(top.Content) == 0 {
		return false
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		switch top.Content[i].Value {
		case "version", "services", "networks", "volumes", "include", "configs", "secrets", "name":
			return false
		}
		v := deref(top.Content[i+1])
		if v == nil || v.Kind != yaml.MappingNode {
			return false
		}
		has := false
		for j := 0; j+1 < len(v.Content); j += 2 {
			if k := v.Content[j].Value; k == "build" || k == "image" {
				has = true
			}
		}
		if !has {
			return false
		}
	}
	return true
}
