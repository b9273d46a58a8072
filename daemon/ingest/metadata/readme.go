package metadata

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// readmeNames are looked for at the root, in order, case-insensitively.
var readmeNames = []string{"README.md", "README.markdown", "README", "README.txt", "README.rst"}

// hfDefaultAppPort is the port a Hugging Face Docker (or Gradio) Space
// serves when its front matter gives no app_port.
const hfDefaultAppPort = 7860

// hfStreamlitPort is the port of a Streamlit Space.
const hfStreamlitPort = 8501

// readmeMeta is the README's front matter in the Hugging Face Spaces form
// and its body.
type readmeMeta struct {
	Title            string
	ShortDescription string
	SDK              string
	AppPort          int
	Topics           []string
	License          string
	// HF holds the Spaces fields kept for the card (emoji, colours,
	// pinned, models, datasets, sdk_version, app_file).
	HF   catalog.HFMetadata
	Body string
}

// hfKeys are front matter keys only a Hugging Face Space README has: a
// README that opens with "key: value" lines including one of them has
// front matter even without --- fences.
var hfKeys = map[string]bool{
	"sdk": true, "sdk_version": true, "app_port": true, "app_file": true, "emoji": true,
	"colorfrom": true, "colorto": true, "pinned": true, "short_description": true,
	"python_version": true, "hf_oauth": true, "suggested_hardware": true, "fullwidth": true,
	"models": true, "datasets": true, "license": true, "title": true, "tags": true,
}

// hfOnlyKeys are the hfKeys that prose or other front matter never opens with.
var hfOnlyKeys = map[string]bool{
	"sdk": true, "sdk_version": true, "app_port": true, "app_file": true, "emoji": true,
	"colorfrom": true, "colorto": true, "pinned": true, "short_description": true,
	"python_version": true, "hf_oauth": true, "suggested_hardware": true,
}

// maxListItemsHF bounds models and datasets kept.
const maxListItemsHF = 16

// parseReadme splits off YAML front matter (between "---" lines, or the
// unfenced "key: value" lines a README opens with when they include Spaces
// keys) and reads the Spaces fields from it. A malformed front matter is a
// warning: the README is documentation, not configuration, and its body is
// still worth indexing.
func parseReadme(file string, data []byte) (readmeMeta, []string) {
	var m readmeMeta
	var warnings []string
	warn := func(line int, format string, args ...any) {
		warnings = append(warnings, fileError(file, line, format, args...).Error())
	}
	fm, body, found, closed := splitFrontMatter(data)
	firstLine := 2
	if !found {
		fm, body, found = splitUnfencedFrontMatter(data)
		closed, firstLine = found, 1
	}
	m.Body = string(body)
	if !found {
		return m, nil
	}
	if !closed {
		warn(1, "front matter starts with --- but has no closing --- line; read as text")
		return m, warnings
	}
	top, err := parseYAMLMapping(file, firstLine, fm)
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
		case "title", "short_description", "sdk", "license", "emoji", "colorfrom", "colorto", "sdk_version", "app_file":
			s, ok := scalarString(v)
			if !ok {
				warn(v.Line, "%s must be a string, found %s; ignored", k.Value, kindName(v))
				continue
			}
			s = strings.TrimSpace(s)
			switch key {
			case "title":
				m.Title = s
			case "short_description":
				m.ShortDescription = s
			case "sdk":
				m.SDK = strings.ToLower(s)
				m.HF.SDK = textutil.Truncate(m.SDK, 32)
			case "license":
				m.License = s
			case "emoji":
				if e := cleanEmoji(s); e != "" {
					m.HF.Emoji = e
				} else if s != "" {
					warn(v.Line, "emoji %q is not an emoji; ignored", textutil.Truncate(s, 20))
				}
			case "colorfrom":
				m.HF.ColorFrom = cleanColor(s)
			case "colorto":
				m.HF.ColorTo = cleanColor(s)
			case "sdk_version":
				m.HF.SDKVersion = catalog.CleanText(s, 32)
			case "app_file":
				m.HF.AppFile = catalog.CleanText(s, 200)
			}
		case "pinned":
			s, ok := scalarString(v)
			switch b := strings.ToLower(strings.TrimSpace(s)); {
			case ok && (b == "true" || b == "yes"):
				t := true
				m.HF.Pinned = &t
			case ok && (b == "false" || b == "no"):
				f := false
				m.HF.Pinned = &f
			default:
				warn(v.Line, "pinned must be true or false, found %s; ignored", kindName(v))
			}
		case "models", "datasets":
			vals, bad := stringList(v, maxListItemsHF)
			for _, l := range bad {
				warn(l, "%s must be a list of names; an item was ignored", key)
			}
			for i := range vals {
				vals[i] = catalog.CleanText(vals[i], 200)
			}
			if key == "models" {
				m.HF.Models = vals
			} else {
				m.HF.Datasets = vals
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
	return m, warnings
}

// hfDefaultPort is the port Hugging Face serves a Space of an SDK on when
// its front matter gives no app_port; 0 for SDKs without a server of
// their own (static).
func hfDefaultPort(sdk string) int {
	switch sdk {
	case "docker", "gradio":
		return hfDefaultAppPort
	case "streamlit":
		return hfStreamlitPort
	}
	return 0
}

// cleanEmoji keeps a short run of symbols (one emoji, possibly a sequence
// joined with ZWJ or a flag), or returns "".
func cleanEmoji(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 || utf8.RuneCountInString(s) > 12 {
		return ""
	}
	for _, r := range s {
		if r < 0x80 && r != '#' && r != '*' && !(r >= '0' && r <= '9') {
			// Letters, spaces, quotes: a word, not an emoji.
			return ""
		}
		if r == 0 || r == '\uFFFD' {
			return ""
		}
	}
	return s
}

var colorWord = regexp.MustCompile(`^[a-zA-Z]{1,20}$|^#[0-9a-fA-F]{3,8}$`)

// cleanColor keeps a colour name ("blue") or a hex colour, lower-cased.
func cleanColor(s string) string {
	s = strings.TrimSpace(s)
	if !colorWord.MatchString(s) {
		return ""
	}
	return strings.ToLower(s)
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

// fmKeyLine is a "key: value" (or "key:") line of unfenced front matter.
var fmKeyLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*):(\s.*)?$`)

// maxUnfencedLines bounds how far unfenced front matter is looked for.
const maxUnfencedLines = 60

// splitUnfencedFrontMatter recognises Spaces front matter written without
// its opening --- line: the README opens with "key: value" lines (and the
// indented or "- item" lines of their lists), at least two keys, one of
// which only Spaces front matter has (sdk, app_port, emoji, colorFrom…).
// It ends at a blank line or a --- line (the closing fence of a README
// that lost only its opening one), which is consumed.
func splitUnfencedFrontMatter(data []byte) (fm, body []byte, found bool) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	off, keys, hfOnly := 0, 0, false
	for n := 0; off < len(data) && n < maxUnfencedLines; n++ {
		line, _, hasNL := bytes.Cut(data[off:], []byte("\n"))
		t := strings.TrimRight(string(line), " \t\r")
		next := off + len(line)
		if hasNL {
			next++
		}
		switch {
		case t == "" || t == "---" || t == "...":
			if keys < 2 || !hfOnly {
				return nil, data, false
			}
			return data[:off], data[next:], true
		case fmKeyLine.MatchString(t):
			k := strings.ToLower(fmKeyLine.FindStringSubmatch(t)[1])
			if !hfKeys[k] {
				return nil, data, false
			}
			keys++
			hfOnly = hfOnly || hfOnlyKeys[k]
		case keys > 0 && (strings.HasPrefix(t, " ") || strings.HasPrefix(t, "\t") || strings.HasPrefix(t, "- ")):
			// An item of the previous key's list.
		default:
			return nil, data, false
		}
		off = next
	}
	if off >= len(data) && keys >= 2 && hfOnly {
		return data, nil, true
	}
	return nil, data, false
}
