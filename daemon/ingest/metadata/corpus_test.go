package metadata_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"

	yaml "go.yaml.in/yaml/v3"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
)

// The corpus: each folder of testdata/corpus holds a repository laid out
// like a kind of real public repository (files.txtar) and the card a
// careful maintainer would write for it (want.yaml). TestCorpus ingests
// every one and scores, field by field, how many cards are right.

// corpusWant is a want.yaml.
type corpusWant struct {
	// Kind says which kind of real repository the fixture is modelled on.
	Kind string `yaml:"kind"`
	// Repo is the repository's name, the card's name when nothing else
	// gives one (the worker falls back to it).
	Repo        string   `yaml:"repo"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Emoji       string   `yaml:"emoji"`
	Port        int      `yaml:"port"`
	PortSource  string   `yaml:"port_source"`
	Dockerfile  string   `yaml:"dockerfile"`
	Context     string   `yaml:"context"`
	Lang        []string `yaml:"lang"`
	Framework   []string `yaml:"framework"`
	License     []string `yaml:"license"`
	// Error is a part of the error Extract must return ("" for none).
	Error string `yaml:"error"`
	// Warning is a part of a warning Extract must give.
	Warning string `yaml:"warning"`
	// Others are Dockerfiles that must be listed as not chosen.
	Others []string `yaml:"others"`
}

// corpusFields are the scored fields.
var corpusFields = []string{"name", "description", "port", "dockerfile", "lang", "framework", "license"}

// corpusThreshold is the share of right fields below which the test fails,
// overall and for each field.
const corpusThreshold = 0.95

func TestCorpus(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "corpus", "*", "want.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 30 {
		t.Errorf("the corpus has %d fixtures, want at least 30", len(dirs))
	}
	right := map[string]int{}
	total := 0
	for _, wantFile := range dirs {
		dir := filepath.Dir(wantFile)
		name := filepath.Base(dir)
		var want corpusWant
		data, err := os.ReadFile(wantFile)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%s: %v", wantFile, err)
		}
		if want.Kind == "" || want.Repo == "" {
			t.Fatalf("%s: kind and repo are required", wantFile)
		}
		root := unpackTxtar(t, filepath.Join(dir, "files.txtar"))
		res, err := metadata.Extract(context.Background(), root, metadata.Options{})
		switch {
		case want.Error == "" && err != nil:
			t.Errorf("%s: Extract: %v", name, err)
			continue
		case want.Error != "" && (err == nil || !strings.Contains(err.Error(), want.Error)):
			t.Errorf("%s: error %v, want one with %q", name, err, want.Error)
		case want.Error != "" && !metadata.IsPermanent(err):
			t.Errorf("%s: error %v is not permanent", name, err)
		}
		if res == nil {
			t.Errorf("%s: no card with the error %v", name, err)
			continue
		}
		total++
		got := corpusCard(res, want.Repo)
		exp := map[string]string{
			"name":        want.Name,
			"description": want.Description,
			"port":        fmt.Sprintf("%d (%s)", want.Port, want.PortSource),
			"dockerfile":  fmt.Sprintf("%s (context %s)", want.Dockerfile, want.Context),
			"lang":        setString(want.Lang),
			"framework":   setString(want.Framework),
			"license":     setString(want.License),
		}
		for _, f := range corpusFields {
			if got[f] == exp[f] {
				right[f]++
				continue
			}
			t.Logf("%s (%s): %s is %q, want %q", name, want.Kind, f, got[f], exp[f])
		}
		if want.Emoji != res.Emoji {
			t.Errorf("%s: emoji %q, want %q", name, res.Emoji, want.Emoji)
		}
		if want.Warning != "" && !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, want.Warning) }) {
			t.Errorf("%s: warnings %q, want one with %q", name, res.Warnings, want.Warning)
		}
		for _, o := range want.Others {
			if res.Build == nil || !slices.ContainsFunc(res.Build.Others, func(x catalog.OtherDockerfile) bool { return x.Path == o && x.Why != "" }) {
				t.Errorf("%s: %s is not listed with a reason among the other Dockerfiles: %+v", name, o, res.Build)
			}
		}
	}
	var all int
	var b strings.Builder
	fmt.Fprintf(&b, "corpus of %d repositories, right fields:\n", total)
	for _, f := range corpusFields {
		all += right[f]
		share := float64(right[f]) / float64(total)
		fmt.Fprintf(&b, "  %-12s %3d/%d  %5.1f %%\n", f, right[f], total, 100*share)
		if share < corpusThreshold {
			t.Errorf("field %s is right in %.1f %% of the corpus, want at least %.0f %%", f, 100*share, 100*corpusThreshold)
		}
	}
	overall := float64(all) / float64(total*len(corpusFields))
	fmt.Fprintf(&b, "  %-12s %3d/%d  %5.1f %%", "all", all, total*len(corpusFields), 100*overall)
	t.Log(b.String())
	if overall < corpusThreshold {
		t.Errorf("%.1f %% of the card fields are right, want at least %.0f %%", 100*overall, 100*corpusThreshold)
	}
}

// corpusCard renders the scored fields of a Result as the worker would
// store them.
func corpusCard(res *metadata.Result, repoName string) map[string]string {
	var lang, fw, lic []string
	for _, t := range res.Tags {
		switch t.Key {
		case "lang":
			lang = append(lang, t.Value)
		case "framework":
			fw = append(fw, t.Value)
		case "license":
			lic = append(lic, t.Value)
		}
	}
	name := res.Name
	if name == "" {
		name = repoName
	}
	return map[string]string{
		"name":        name,
		"description": res.Description,
		"port":        fmt.Sprintf("%d (%s)", res.Port, res.PortSource),
		"dockerfile":  fmt.Sprintf("%s (context %s)", res.DockerfilePath, res.ContextPath),
		"lang":        setString(lang),
		"framework":   setString(fw),
		"license":     setString(lic),
	}
}

func setString(s []string) string {
	s = slices.Clone(s)
	sort.Strings(s)
	return strings.Join(s, ",")
}

// unpackTxtar lays out the files of a txtar archive ("-- name --" lines
// start a file) in a fresh directory. A name followed by " utf-16le" is
// written in UTF-16LE with a byte-order mark, as Windows tools write.
func unpackTxtar(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	var name string
	var body bytes.Buffer
	flush := func() {
		if name == "" {
			return
		}
		content := body.Bytes()
		if n, ok := strings.CutSuffix(name, " utf-16le"); ok {
			name = n
			u := utf16.Encode([]rune(string(content)))
			enc := []byte{0xff, 0xfe}
			for _, c := range u {
				enc = append(enc, byte(c), byte(c>>8))
			}
			content = enc
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		body.Reset()
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			flush()
			name = strings.TrimSuffix(strings.TrimPrefix(trimmed, "-- "), " --")
			continue
		}
		if name != "" {
			body.WriteString(line)
		}
	}
	flush()
	if name == "" {
		t.Fatalf("%s holds no files", file)
	}
	return root
}
