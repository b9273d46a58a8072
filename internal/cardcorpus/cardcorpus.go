// Package cardcorpus loads the corpus of repository layouts that app cards
// are measured against (daemon/ingest/metadata/testdata/corpus): each
// fixture is a folder with files.txtar, the repository as a txtar archive,
// and want.yaml, the card a careful maintainer would write for it. The
// metadata tests score Extract over all of it; end-to-end tests ingest a
// few fixtures through a real appstored.
package cardcorpus

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"

	yaml "go.yaml.in/yaml/v3"
)

// Dir is the corpus folder, relative to the module root.
const Dir = "daemon/ingest/metadata/testdata/corpus"

// Want is a want.yaml.
type Want struct {
	// Kind says which kind of real repository the fixture is modelled on.
	Kind string `yaml:"kind"`
	// Repo is the repository's name, the card's name when nothing else
	// gives one (ingestion falls back to it).
	Repo        string `yaml:"repo"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Emoji       string `yaml:"emoji"`
	Port        int    `yaml:"port"`
	PortSource  string `yaml:"port_source"`
	Dockerfile  string `yaml:"dockerfile"`
	Context     string `yaml:"context"`
	// Target is the stage builds stop at ("" for the final one).
	Target    string   `yaml:"target"`
	Lang      []string `yaml:"lang"`
	Framework []string `yaml:"framework"`
	License   []string `yaml:"license"`
	// Error is a part of the error ingestion must end with ("" for none).
	Error string `yaml:"error"`
	// Warning is a part of a warning ingestion must give.
	Warning string `yaml:"warning"`
	// Others are Dockerfiles that must be listed as not chosen.
	Others []string `yaml:"others"`
}

// Fixture is one repository of the corpus.
type Fixture struct {
	// Name is the fixture's folder name.
	Name string
	// Files maps slash-separated paths to contents.
	Files map[string][]byte
	Want  Want
}

// Load reads every fixture under dir, sorted by name.
func Load(dir string) ([]Fixture, error) {
	wants, err := filepath.Glob(filepath.Join(dir, "*", "want.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(wants)
	var out []Fixture
	for _, w := range wants {
		f, err := LoadOne(filepath.Dir(w))
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// LoadOne reads the fixture in dir.
func LoadOne(dir string) (Fixture, error) {
	f := Fixture{Name: filepath.Base(dir)}
	data, err := os.ReadFile(filepath.Join(dir, "want.yaml"))
	if err != nil {
		return f, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f.Want); err != nil {
		return f, fmt.Errorf("%s/want.yaml: %w", dir, err)
	}
	if f.Want.Kind == "" || f.Want.Repo == "" {
		return f, fmt.Errorf("%s/want.yaml: kind and repo are required", dir)
	}
	archive, err := os.ReadFile(filepath.Join(dir, "files.txtar"))
	if err != nil {
		return f, err
	}
	if f.Files, err = ParseTxtar(archive); err != nil {
		return f, fmt.Errorf("%s/files.txtar: %w", dir, err)
	}
	return f, nil
}

// ParseTxtar reads a txtar archive: text before the first "-- name --"
// line is a comment, each such line starts a file. A name followed by
// " utf-16le" is stored in UTF-16LE with a byte-order mark, as Windows
// tools write files.
func ParseTxtar(data []byte) (map[string][]byte, error) {
	files := map[string][]byte{}
	var name string
	var body bytes.Buffer
	flush := func() {
		if name == "" {
			return
		}
		content := bytes.Clone(body.Bytes())
		if n, ok := strings.CutSuffix(name, " utf-16le"); ok {
			name = n
			enc := []byte{0xff, 0xfe}
			for _, c := range utf16.Encode([]rune(string(content))) {
				enc = append(enc, byte(c), byte(c>>8))
			}
			content = enc
		}
		files[name] = content
		body.Reset()
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			flush()
			name = strings.TrimSuffix(strings.TrimPrefix(trimmed, "-- "), " --")
			if !filepath.IsLocal(filepath.FromSlash(strings.TrimSuffix(name, " utf-16le"))) {
				return nil, fmt.Errorf("file name %q leaves the archive", name)
			}
			continue
		}
		if name != "" {
			body.WriteString(line)
		}
	}
	flush()
	if len(files) == 0 {
		return nil, fmt.Errorf("holds no files")
	}
	return files, nil
}

// Write lays out the files under root.
func (f Fixture) Write(root string) error {
	for name, content := range f.Files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
