package builder

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	archive "github.com/moby/go-archive"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// maxDockerfileBytes bounds a Dockerfile read into memory (one outside
// the context, or a .dockerignore).
const maxDockerfileBytes = 1 << 20

// outsideDockerfileName is where a Dockerfile that lies outside the build
// context is put in the context archive, as the docker CLI does.
const outsideDockerfileName = ".appstore.Dockerfile"

// zeroTime is the modification time of files the worker adds to a
// context: fixed, so that the same input makes the same archive.
var zeroTime = time.Unix(0, 0)

// contextArchive is a build context ready to send to the engine.
type contextArchive struct {
	tar io.ReadCloser
	// dockerfile is the Dockerfile's path inside the archive, for
	// ImageBuildOptions.Dockerfile.
	dockerfile string
	// ignored lists the .dockerignore patterns applied (for the log).
	ignoreFile string
	patterns   int
	// labelled is set when the labels were added to the Dockerfile.
	labelled bool
	// dockerfileData is the Dockerfile as read (before the labels).
	dockerfileData []byte
}

// contextError is a build context that cannot be built as it is; the
// message says what to change in the repository.
type contextError struct{ msg string }

func (e *contextError) Error() string { return e.msg }

// archiveContext packs the build context contextPath of the checkout at
// root, honouring .dockerignore, with the Dockerfile at dockerfilePath
// (both slash-separated and relative to the repository root, as ingestion
// records them). Paths that are or pass through symbolic links are
// resolved and must stay inside the repository; links inside the context
// travel as links, which the engine resolves inside the image, never on
// this host. The repository's .git directory is left out unless
// .dockerignore re-includes it with "!.git".
//
// labels are appended to the Dockerfile as one LABEL instruction (the
// engine's label option would add one build step per label); when that is
// not safe, labelled is false and the caller passes them to the engine.
func archiveContext(root, contextPath, dockerfilePath string, labels map[string]string) (*contextArchive, error) {
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("source checkout %s: %w", root, err)
	}
	ctxDir, err := resolveInside(rootReal, contextPath, "build context")
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(ctxDir); err != nil || !fi.IsDir() {
		return nil, &contextError{msg: fmt.Sprintf("build context %q is not a directory in this commit: fix the context in tags.yaml or the repository settings", displayPath(contextPath))}
	}
	if dockerfilePath == "" {
		return nil, &contextError{msg: "the build names no Dockerfile: refresh the repository so that ingestion finds one"}
	}
	dfReal, err := resolveInside(rootReal, dockerfilePath, "Dockerfile")
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dfReal); err != nil || !fi.Mode().IsRegular() {
		return nil, &contextError{msg: fmt.Sprintf("Dockerfile %q is not a file in this commit", dockerfilePath)}
	}

	out := &contextArchive{}
	// BuildKit's convention, which the docker CLI follows: a
	// <Dockerfile>.dockerignore next to the Dockerfile wins over the
	// context's .dockerignore.
	var patterns []string
	for _, candidate := range []string{dfReal + ".dockerignore", filepath.Join(ctxDir, ".dockerignore")} {
		p, found, err := readIgnoreFile(rootReal, candidate)
		if err != nil {
			return nil, err
		}
		if found {
			patterns = p
			out.ignoreFile, _ = filepath.Rel(rootReal, candidate)
			out.ignoreFile = filepath.ToSlash(out.ignoreFile)
			break
		}
	}
	out.patterns = len(patterns)
	excludes := append([]string{".git"}, patterns...)

	dfRel, err := filepath.Rel(ctxDir, dfReal)
	if err != nil {
		return nil, fmt.Errorf("Dockerfile %s: %w", dockerfilePath, err)
	}
	dfRel = filepath.ToSlash(dfRel)
	outside := dfRel == ".." || strings.HasPrefix(dfRel, "../")

	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, &contextError{msg: fmt.Sprintf("%s has a bad pattern: %v", out.ignoreFile, err)}
	}
	// The engine reads the Dockerfile and .dockerignore from the
	// archive: keep them even when .dockerignore excludes them, as the
	// docker CLI does.
	if !outside {
		if excluded, _ := pm.MatchesOrParentMatches(dfRel); excluded {
			excludes = append(excludes, "!"+dfRel)
		}
	}
	if excluded, _ := pm.MatchesOrParentMatches(".dockerignore"); excluded {
		excludes = append(excludes, "!.dockerignore")
	}

	data, err := readBounded(dfReal, maxDockerfileBytes)
	if err != nil {
		return nil, &contextError{msg: fmt.Sprintf("Dockerfile %q: %v", dockerfilePath, err)}
	}
	out.dockerfileData = data
	if len(labels) > 0 {
		data, out.labelled = withLabels(data, labels)
	}
	rc, err := archive.TarWithOptions(ctxDir, &archive.TarOptions{
		ExcludePatterns: excludes,
		// Owned by root in the image, whoever owns the checkout here.
		ChownOpts: &archive.ChownOpts{UID: 0, GID: 0},
	})
	if err != nil {
		return nil, fmt.Errorf("pack the build context: %w", err)
	}
	out.dockerfile = dfRel
	if outside {
		out.dockerfile = outsideDockerfileName
	}
	if outside || out.labelled {
		// The Dockerfile read above replaces the archive's copy (or is
		// added to the archive), so the engine builds exactly it.
		out.tar = archive.ReplaceFileTarWrapper(rc, map[string]archive.TarModifierFunc{
			out.dockerfile: func(_ string, h *tar.Header, _ io.Reader) (*tar.Header, []byte, error) {
				if h == nil {
					h = &tar.Header{Name: out.dockerfile, Mode: 0o600, Typeflag: tar.TypeReg, ModTime: zeroTime}
				}
				h.Size = int64(len(data))
				return h, data, nil
			},
		})
	} else {
		out.tar = rc
	}
	return out, nil
}

// withLabels appends one LABEL instruction with labels to a Dockerfile:
// it applies to the final stage, as the engine's label option does. It
// leaves the Dockerfile alone (false) when its last line continues with
// the escape character, where an appended line would join that
// instruction.
func withLabels(dockerfile []byte, labels map[string]string) ([]byte, bool) {
	escape := byte('\\')
	if m := escapeDirectiveRE.FindSubmatch(dockerfile); m != nil {
		escape = m[1][0]
	}
	trimmed := bytes.TrimRight(dockerfile, " \t\r\n")
	if len(trimmed) > 0 && trimmed[len(trimmed)-1] == escape {
		return dockerfile, false
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.Write(trimmed)
	b.WriteString("\nLABEL")
	for _, k := range keys {
		b.WriteString(" " + k + "=" + strconv.Quote(labels[k]))
	}
	b.WriteString("\n")
	return b.Bytes(), true
}

// escapeDirectiveRE finds a "# escape=`" parser directive at the top of a
// Dockerfile (directives precede every other line).
var escapeDirectiveRE = regexp.MustCompile(`(?i)\A(?:[ \t]*#[ \t]*[a-z]+[ \t]*=[^\n]*\n)*?[ \t]*#[ \t]*escape[ \t]*=[ \t]*([\\` + "`" + `])`)

// resolveInside resolves the repository-relative path rel against root
// (itself resolved), following symbolic links, and refuses a result
// outside root.
func resolveInside(root, rel, what string) (string, error) {
	clean := path.Clean("/" + strings.TrimPrefix(rel, "./"))[1:]
	if clean == "" {
		clean = "."
	}
	if path.IsAbs(rel) || strings.Contains(rel, "\x00") || strings.HasPrefix(path.Clean(rel), "../") || path.Clean(rel) == ".." {
		return "", &contextError{msg: fmt.Sprintf("%s %q must be a path inside the repository", what, rel)}
	}
	p := filepath.Join(root, filepath.FromSlash(clean))
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &contextError{msg: fmt.Sprintf("%s %q does not exist in this commit", what, displayPath(rel))}
	}
	if err != nil {
		return "", &contextError{msg: fmt.Sprintf("%s %q: %v", what, displayPath(rel), err)}
	}
	if !within(root, real) {
		return "", &contextError{msg: fmt.Sprintf("%s %q is a symbolic link that leads outside the repository; builds only read files inside it", what, displayPath(rel))}
	}
	return real, nil
}

// within reports whether p is root or below it (both cleaned, absolute).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// readIgnoreFile reads the patterns of an ignore file if it exists. A
// symbolic link leading outside the repository is refused.
func readIgnoreFile(root, p string) ([]string, bool, error) {
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", filepath.Base(p), err)
	}
	rel, _ := filepath.Rel(root, p)
	if !within(root, real) {
		return nil, false, &contextError{msg: fmt.Sprintf("%s is a symbolic link that leads outside the repository", filepath.ToSlash(rel))}
	}
	data, err := readBounded(real, maxDockerfileBytes)
	if err != nil {
		return nil, false, &contextError{msg: fmt.Sprintf("%s: %v", filepath.ToSlash(rel), err)}
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return nil, false, &contextError{msg: fmt.Sprintf("%s: %v", filepath.ToSlash(rel), err)}
	}
	return patterns, true, nil
}

func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %s", formatBytes(limit))
	}
	return data, nil
}

func displayPath(p string) string {
	if p == "" {
		return "."
	}
	return p
}
