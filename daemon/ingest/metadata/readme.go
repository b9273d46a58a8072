package metadata

import (
	"bytes"
	"strings"
)

// readmeNames are looked for at the root, in order, case-insensitively.
var readmeNames = []string{"README.md", "README.markdown", "README", "README.txt", "README.rst"}

// hfDefaultAppPort is the port a Hugging Face Docker Space serves when its
// front matter gives no app_port.
const hfDefaultAppPort = 7860

// readmeMeta is the README's front matter in the Hugging Face Spaces form
// and its body.
type readmeMeta struct {
	Title            string
	ShortDescription string
	SDK              string
	AppPort          int
	Topics           []string
	License          string
	Body             string
}

// parseReadme splits off YAML front matter ("---" on the first line, up to
// the next "---" or "...") and reads the Spaces fields from it. A malformed
// front matter is a warning: the README is documentation, not configuration,
// and its body is still worth indexing. Fields other than the Spaces ones
// (emoji, colorFrom, pinned, models...) are ignored silently.
func parseReadme(file string, data []byte) (readmeMeta, []string) {
	var m readmeMeta
	var warnings []string
	warn := func(line int, format string, args ...any) {
		warnings = append(warnings, fileError(file, line, format, args...).Error())
	}
	fm, body, found, closed := splitFrontMatter(data)
	m.Body = string(body)
	if !found {
		return m, nil
	}
	if !closed {
		warn(1, "front matter starts with --- but has no closing --- line; read as text")
		return m, warnings
	}
	top, err := parseYAMLMapping(file, 2, fm)
	if err != nil {
		warnings = append(warnings, err.Error()+"; front matter ignored")
		return m, warnings
	}
	if top == nil {
		return m, nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		key := strings.ToLower(k.Value)
		switch key {
		case "title", "short_description", "sdk", "license":
			s, ok := scalarString(v)
			if !ok {
				warn(v.Line, "%s must be a string, found %s; ignored", key, kindName(v))
				continue
			}
			s = strings.TrimSpace(s)
			switch key {
			case "title":
				m.Title = s
			case "short_description":
				m.ShortDescription = s
			case "sdk":
				m.SDK = s
			case "license":
				m.License = s
			}
		case "app_port":
			p, ok := portValue(v)
			if !ok {
				warn(v.Line, "app_port must be a TCP port number between 1 and 65535, found %s; ignored", kindName(v))
				continue
			}
			m.AppPort = p
		case "tags":
			vals, bad := stringList(v, maxListItems)
			for _, l := range bad {
				warn(l, "tags must be a list of words; an item was ignored")
			}
			m.Topics = append(m.Topics, vals...)
		}
	}
	if strings.EqualFold(m.SDK, "docker") && m.AppPort == 0 {
		m.AppPort = hfDefaultAppPort
	}
	return m, warnings
}

// splitFrontMatter returns the YAML between a first line "---" and the next
// line "---" or "...", and the rest of the file. found says the file starts
// with "---"; closed says the end line was found (otherwise body is all of
// data).
func splitFrontMatter(data []byte) (fm, body []byte, found, closed bool) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	first, rest, ok := bytes.Cut(data, []byte("\n"))
	if !ok || string(bytes.TrimRight(first, " \t\r")) != "---" {
		return nil, data, false, false
	}
	off := 0
	for off <= len(rest) {
		line, _, hasNL := bytes.Cut(rest[off:], []byte("\n"))
		t := string(bytes.TrimRight(line, " \t\r"))
		if t == "---" || t == "..." {
			end := off + len(line)
			if hasNL {
				end++
			}
			return rest[:off], rest[end:], true, true
		}
		if !hasNL {
			break
		}
		off += len(line) + 1
	}
	return nil, data, true, false
}
