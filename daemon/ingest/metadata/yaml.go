package metadata

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/appstore-dev/appstore/internal/textutil"
)

// yamlLine finds the "line N" that go-yaml puts in its messages.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseYAMLMapping parses a YAML document whose top level must be a mapping
// (or empty, which gives nil). firstLine is the file line of the document's
// first line, so that errors and node lines point into the file (README
// front matter starts on line 2).
//
// It decodes into yaml.Node, which never expands aliases, so an alias bomb
// costs nothing; callers look at most one alias deep. A panic in the YAML
// library on hostile input is turned into an error: one repository must not
// take the worker down.
func parseYAMLMapping(file string, firstLine int, data []byte) (doc *yaml.Node, err error) {
	defer func() {
		if p := recover(); p != nil {
			doc, err = nil, fileError(file, 0, "malformed YAML (the parser failed: %v)", p)
		}
	}()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = strings.TrimPrefix(msg, m[0]+": ")
			line += firstLine - 1
		}
		return nil, &Error{File: file, Line: line, Msg: "malformed YAML: " + msg, Err: err}
	}
	shiftLines(&root, firstLine-1, 0)
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil
	}
	top := root.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, fileError(file, top.Line, "want a mapping of fields (key: value), found %s", kindName(top))
	}
	return top, nil
}

// shiftLines moves node lines by delta; depth bounds the recursion on deeply
// nested hostile documents.
func shiftLines(n *yaml.Node, delta, depth int) {
	if delta == 0 || depth > 64 {
		return
	}
	n.Line += delta
	for _, c := range n.Content {
		shiftLines(c, delta, depth+1)
	}
}

// deref follows an alias once.
func deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", textutil.Truncate(n.Value, 40))
	default:
		return "something else"
	}
}

// scalarString returns a scalar's text, or ok=false for lists and mappings.
// Null is "".
func scalarString(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// stringList reads a scalar or a list of scalars, at most max items; items
// that are not scalars are reported by line.
func stringList(n *yaml.Node, max int) (vals []string, badLines []int) {
	n = deref(n)
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!null" && n.Value != "" {
			vals = append(vals, n.Value)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if len(vals) >= max {
				break
			}
			if s, ok := scalarString(c); ok {
				if s != "" {
					vals = append(vals, s)
				}
			} else {
				badLines = append(badLines, c.Line)
			}
		}
	default:
		badLines = append(badLines, n.Line)
	}
	return vals, badLines
}

// portValue reads a TCP port from a scalar.
func portValue(n *yaml.Node) (int, bool) {
	s, ok := scalarString(n)
	if !ok {
		return 0, false
	}
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return 0, false
	}
	return p, true
}
