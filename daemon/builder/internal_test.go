package builder

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/internal/testenv"
)

func TestOutputParserAssemblesLinesAndNamesTheFailingStep(t *testing.T) {
	// The legacy builder's stream, as docker 20.10 sends it: the step
	// line and its newline in two messages, output in chunks that are
	// not lines, carriage returns from progress output.
	stream := `{"stream":"Step 1/3 : FROM scratch"}
{"stream":"\n"}
{"stream":" ---\u003e \n"}
{"stream":"Step 2/3 : RUN [\"/app\",\"ok\"]"}
{"stream":"\n"}
{"stream":" ---\u003e Running in 27942445bfab\n"}
{"stream":"first step output\n"}
{"stream":" ---\u003e 76fa5850ce3a\n"}
{"stream":"Step 3/3 : RUN [\"/app\",\"fail\"]"}
{"stream":"\n"}
{"stream":" ---\u003e Running in 27942445bfab\n"}
{"stream":"progress 10%\rprogress 100%\nhalf a li"}
{"stream":"ne\nbad bytes \u0000 here\n"}
{"stream":"Removing intermediate container 27942445bfab\n"}
{"errorDetail":{"code":1,"message":"The command '/app fail' returned a non-zero code: 3"},"error":"The command '/app fail' returned a non-zero code: 3"}
`
	var lines []string
	p := &outputParser{emit: func(s string) { lines = append(lines, s) }}
	if err := p.parse(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	want := []string{"Step 1/3 : FROM scratch", " ---> ", `Step 2/3 : RUN ["/app","ok"]`, " ---> Running in 27942445bfab",
		"first step output", " ---> 76fa5850ce3a", `Step 3/3 : RUN ["/app","fail"]`, " ---> Running in 27942445bfab",
		"progress 100%", "half a line", "bad bytes  here", "Removing intermediate container 27942445bfab"}
	if !slices.Equal(lines, want) {
		t.Errorf("lines\n%q\nwant\n%q", lines, want)
	}
	msg := p.failure()
	wantMsg := "Step 3/3 : RUN [\"/app\",\"fail\"]: exit code 3\nprogress 100%\nhalf a line\nbad bytes  here"
	if msg != wantMsg {
		t.Errorf("failure\n%q\nwant\n%q", msg, wantMsg)
	}
}

func TestOutputParserDropsTerminalEscapes(t *testing.T) {
	// docker 20.10's legacy builder wraps a step's stderr in ESC[91m …
	// ESC[0m, the reset landing at the start of the next line; build tools
	// add colours and window titles of their own.
	stream := `{"stream":"Step 1/1 : RUN [\"/app\",\"fail\"]\n"}
{"stream":"\u001b[91mconfig.yaml: no such file\n\u001b[0m"}
{"stream":"checking\u2026\n"}
{"stream":"\u001b[1;32mok\u001b[m \u001b]0;npm install\u0007done \u001b(B\n"}
{"errorDetail":{"message":"The command '/app fail' returned a non-zero code: 1"},"error":"x"}
`
	var lines []string
	p := &outputParser{emit: func(s string) { lines = append(lines, s) }}
	if err := p.parse(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	want := []string{`Step 1/1 : RUN ["/app","fail"]`, "config.yaml: no such file", "checking\u2026", "ok done "}
	if !slices.Equal(lines, want) {
		t.Errorf("lines\n%q\nwant\n%q", lines, want)
	}
	if msg, want := p.failure(), "Step 1/1 : RUN [\"/app\",\"fail\"]: exit code 1\nconfig.yaml: no such file\nchecking\u2026\nok done "; msg != want {
		t.Errorf("failure\n%q\nwant\n%q", msg, want)
	}
}

func TestOutputParserNumbersStepsAsTheUsersDockerfile(t *testing.T) {
	stream := `{"stream":"Step 1/2 : FROM scratch\n"}
{"stream":"Step 2/2 : LABEL appstore.build=\"7\"\n"}
`
	var lines []string
	p := &outputParser{emit: func(s string) { lines = append(lines, s) }, addedSteps: 1}
	if err := p.parse(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Step 1/1 : FROM scratch", `Labelling the image: LABEL appstore.build="7"`}; !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
}

func TestOutputParserCutsEndlessLinesAndKeepsTheImageID(t *testing.T) {
	long := strings.Repeat("é", maxLineBytes) // 2 bytes each
	stream := `{"stream":"` + long + `"}` + "\n" + `{"aux":{"ID":"sha256:abc"}}` + "\n" + `{"stream":"Successfully built abc\n"}`
	var lines []string
	p := &outputParser{emit: func(s string) { lines = append(lines, s) }}
	if err := p.parse(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if p.imageID != "sha256:abc" || p.failure() != "" {
		t.Errorf("image %q failure %q", p.imageID, p.failure())
	}
	total := 0
	for _, l := range lines[:len(lines)-1] {
		if len(l) > maxLineBytes || !strings.HasPrefix(l, "é") {
			t.Errorf("a cut line of %d bytes starting %q", len(l), l[:4])
		}
		total += len(l)
	}
	if total != len(long) || lines[len(lines)-1] != "Successfully built abc" {
		t.Errorf("%d bytes in %d lines, last %q", total, len(lines), lines[len(lines)-1])
	}
	if err := (&outputParser{emit: func(string) {}}).parse(strings.NewReader(`{"stream":`)); err == nil {
		t.Error("a broken stream is not an error")
	}
}

func TestWithLabels(t *testing.T) {
	labels := map[string]string{"b.label": "2", "a.label": "x y"}
	out, ok := withLabels([]byte("FROM scratch\nCOPY a /a\n\n"), labels)
	if !ok || string(out) != "FROM scratch\nCOPY a /a\nLABEL a.label=\"x y\" b.label=\"2\"\n" {
		t.Errorf("%v %q", ok, out)
	}
	// A last line that continues would swallow the LABEL.
	for _, df := range []string{"FROM scratch\nRUN a \\\n", "# escape=`\nFROM scratch\nRUN a `\n"} {
		if out, ok := withLabels([]byte(df), labels); ok || string(out) != df {
			t.Errorf("%q: labelled %v: %q", df, ok, out)
		}
	}
	// With the escape changed, a backslash ends nothing.
	if _, ok := withLabels([]byte("# escape=`\nFROM scratch\nRUN echo c:\\\n"), labels); !ok {
		t.Error("a trailing backslash under escape=` was taken for a continuation")
	}
}

// writeTree writes files (name → content; "->target" makes a symlink).
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// listArchive returns the archive's entries and the content of name.
func listArchive(t *testing.T, a *contextArchive, name string) ([]string, string) {
	t.Helper()
	defer a.tar.Close()
	var names []string
	var content string
	tr := tar.NewReader(a.tar)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := strings.TrimSuffix(h.Name, "/")
		if h.Typeflag == tar.TypeSymlink {
			n += "->" + h.Linkname
		}
		names = append(names, n)
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			content = string(b)
		}
	}
	slices.Sort(names)
	return names, content
}

func TestArchiveContext(t *testing.T) {
	root := writeTree(t, map[string]string{
		"Dockerfile":                  "FROM scratch\nCOPY . /\n",
		".dockerignore":               "*.secret\n!keep.secret\nbuild/\nDockerfile\n.dockerignore\n",
		"a.secret":                    "no",
		"keep.secret":                 "yes",
		"build/out":                   "no",
		"src/main.go":                 "package main",
		"link-inside":                 "->src/main.go",
		"link-outside":                "->/etc/passwd",
		".git/HEAD":                   "ref: refs/heads/main",
		"deploy/Dockerfile":           "FROM scratch\n",
		"app/Dockerfile":              "FROM scratch\n",
		"app/x.txt":                   "x",
		"app/Dockerfile.dockerignore": "x.txt\n",
		"ctx-link":                    "->app",
		"escape":                      "->/tmp",
	})
	labels := map[string]string{"appstore.build": "7"}
	a, err := archiveContext(root, ".", "Dockerfile", labels)
	if err != nil {
		t.Fatal(err)
	}
	names, df := listArchive(t, a, "Dockerfile")
	// Symlinks travel as links (never followed on this host); .git and
	// what .dockerignore excludes stay home; Dockerfile and
	// .dockerignore are sent although excluded.
	want := []string{".dockerignore", "Dockerfile", "app", "app/Dockerfile", "app/Dockerfile.dockerignore", "app/x.txt",
		"ctx-link->app", "deploy", "deploy/Dockerfile", "escape->/tmp", "keep.secret", "link-inside->src/main.go",
		"link-outside->/etc/passwd", "src", "src/main.go"}
	if !slices.Equal(names, want) {
		t.Errorf("entries\n%q\nwant\n%q", names, want)
	}
	if a.dockerfile != "Dockerfile" || !a.labelled || df != "FROM scratch\nCOPY . /\nLABEL appstore.build=\"7\"\n" {
		t.Errorf("dockerfile %q labelled %v content %q", a.dockerfile, a.labelled, df)
	}
	if a.ignoreFile != ".dockerignore" || a.patterns != 5 {
		t.Errorf("ignore file %q with %d patterns", a.ignoreFile, a.patterns)
	}

	// A context reached through a symlink inside the repository, with a
	// Dockerfile-specific ignore file.
	a, err = archiveContext(root, "ctx-link", "app/Dockerfile", nil)
	if err != nil {
		t.Fatal(err)
	}
	names, _ = listArchive(t, a, "")
	if !slices.Equal(names, []string{"Dockerfile", "Dockerfile.dockerignore"}) || a.ignoreFile != "app/Dockerfile.dockerignore" {
		t.Errorf("entries %q, ignore file %q", names, a.ignoreFile)
	}

	// A Dockerfile outside the context is added under a name of its own.
	a, err = archiveContext(root, "src", "deploy/Dockerfile", labels)
	if err != nil {
		t.Fatal(err)
	}
	names, df = listArchive(t, a, outsideDockerfileName)
	if a.dockerfile != outsideDockerfileName || !slices.Equal(names, []string{outsideDockerfileName, "main.go"}) ||
		df != "FROM scratch\nLABEL appstore.build=\"7\"\n" {
		t.Errorf("outside Dockerfile: %q %q %q", a.dockerfile, names, df)
	}

	for _, tc := range []struct{ ctx, dockerfile, want string }{
		{"escape", "Dockerfile", "leads outside the repository"},
		{".", "link-outside", "leads outside the repository"},
		{"../x", "Dockerfile", "must be a path inside the repository"},
		{"missing", "Dockerfile", `build context "missing" does not exist`},
		{".", "src", `Dockerfile "src" is not a file`},
		{".", "", "names no Dockerfile"},
	} {
		_, err := archiveContext(root, tc.ctx, tc.dockerfile, nil)
		var ce *contextError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("context %q dockerfile %q: %v, want %q", tc.ctx, tc.dockerfile, err, tc.want)
		}
	}
}

type memLogStore struct {
	mu        sync.Mutex
	lines     []string
	bytes     int64
	truncated bool
	writes    int
	fail      int // fail this many writes first
}

func (m *memLogStore) AppendBuildLog(_ context.Context, _ int64, lines []string, n int64, truncated bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail > 0 {
		m.fail--
		return errors.New("database away")
	}
	m.writes++
	m.lines = append(m.lines, lines...)
	m.bytes, m.truncated = n, truncated
	return nil
}

func TestLogSinkBatchesCapsAndRetries(t *testing.T) {
	m := &memLogStore{fail: 1}
	s := newLogSink(context.Background(), m, 1, 1000, discardLogger())
	for i := 0; i < 250; i++ {
		s.add(strings.Repeat("x", 9)) // 10 bytes with the newline
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if len(m.lines) != 101 || m.lines[100] != "[log truncated at 1000 bytes]" || m.bytes != 1000 || !m.truncated {
		t.Errorf("%d lines, last %q, %d bytes, truncated %v", len(m.lines), m.lines[len(m.lines)-1], m.bytes, m.truncated)
	}
	if m.writes > 3 {
		t.Errorf("%d writes for 101 lines: not batched", m.writes)
	}

	// Lines are stored while the build goes on, not only at the end.
	m = &memLogStore{}
	s = newLogSink(context.Background(), m, 1, 1<<20, discardLogger())
	s.add("early")
	deadline := time.Now().Add(30 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.lines)
		m.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a line waited more than 30s to be stored while the sink stayed open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = s.close()
}

func TestRoundDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{20 * time.Minute: "20m", 90 * time.Second: "1m30s", 3 * time.Second: "3s",
		1500 * time.Millisecond: "1.5s", 42 * time.Millisecond: "42ms", 2 * time.Hour: "2h0m"} {
		if got := roundDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestLabelCatalogMatchesTestenv keeps the label by which the tests'
// cleanup (testenv.RemoveCatalogImages) finds a catalog's images equal to
// the one builds put on them.
func TestLabelCatalogMatchesTestenv(t *testing.T) {
	if LabelCatalog != testenv.LabelCatalog {
		t.Errorf("build.LabelCatalog %q, testenv.LabelCatalog %q", LabelCatalog, testenv.LabelCatalog)
	}
}
