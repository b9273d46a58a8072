package metadata

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
)

// Limits bound what Extract reads. A zero field takes its default.
type Limits struct {
	TagsYAML   int64 // tags.yaml; larger is an error (default 64 KiB)
	Dockerfile int64 // the Dockerfile; larger is an error (default 1 MiB)
	Readme     int64 // README; larger is skipped with a warning (default 512 KiB)
	Manifest   int64 // package.json, go.mod, requirements.txt, pyproject.toml, Cargo.toml; larger is skipped (default 1 MiB)
	License    int64 // each LICENSE/COPYING file; larger is skipped (default 256 KiB)
	// ReadmeText is how many bytes of the README body are kept for full-text
	// search (default 64 KiB).
	ReadmeText int
	// WalkEntries and WalkDepth bound the walk that finds a Dockerfile in a
	// sub-folder and counts bytes per language (defaults 20000 entries, depth 8).
	WalkEntries int
	WalkDepth   int
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		TagsYAML:    64 << 10,
		Dockerfile:  1 << 20,
		Readme:      512 << 10,
		Manifest:    1 << 20,
		License:     256 << 10,
		ReadmeText:  64 << 10,
		WalkEntries: 20000,
		WalkDepth:   8,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	l.TagsYAML = orDefault(l.TagsYAML, d.TagsYAML)
	l.Dockerfile = orDefault(l.Dockerfile, d.Dockerfile)
	l.Readme = orDefault(l.Readme, d.Readme)
	l.Manifest = orDefault(l.Manifest, d.Manifest)
	l.License = orDefault(l.License, d.License)
	l.ReadmeText = orDefault(l.ReadmeText, d.ReadmeText)
	l.WalkEntries = orDefault(l.WalkEntries, d.WalkEntries)
	l.WalkDepth = orDefault(l.WalkDepth, d.WalkDepth)
	return l
}

// orDefault is v, or def when v is zero or negative (unset).
func orDefault[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// errTooLarge is wrapped by the *Error of a file over its size limit, so that
// callers can skip optional files and fail on required ones.
var errTooLarge = errors.New("file too large")

// maxLinkHops bounds symlink resolution, as the kernel does (ELOOP after 40).
const maxLinkHops = 40

// maxRootEntries bounds the listing of the repository's top directory.
const maxRootEntries = 10000

// repo reads files of a checkout without ever leaving it. All paths are
// slash-separated and relative to the root.
//
// Confinement is enforced twice: resolve follows symlinks itself to report
// the real path and a clear error naming the offending link, and every open
// goes through os.Root, which refuses absolute links and anything that
// escapes the root even if the tree changes under us.
type repo struct {
	root *os.Root
	// rootNames is the listing of the top directory, read once.
	rootNames []string
}

func openRepo(dir string) (*repo, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		// The checkout directory is ours, not the repository's: not permanent.
		return nil, fmt.Errorf("open repository checkout %s: %w", dir, err)
	}
	r := &repo{root: root}
	f, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("list repository checkout %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(maxRootEntries)
	if err != nil && !errors.Is(err, io.EOF) {
		root.Close()
		return nil, fmt.Errorf("list repository checkout %s: %w", dir, err)
	}
	r.rootNames = names
	return r, nil
}

func (r *repo) Close() error { return r.root.Close() }

// findRoot returns the name of the first candidate present in the top
// directory, comparing case-insensitively (README.md, readme.md, Readme.md),
// preferring an exact match. It returns "" when none is present.
func (r *repo) findRoot(candidates ...string) string {
	for _, c := range candidates {
		for _, n := range r.rootNames {
			if n == c {
				return n
			}
		}
		for _, n := range r.rootNames {
			if strings.EqualFold(n, c) {
				return n
			}
		}
	}
	return ""
}

// cleanRel checks a path given by a user or a file of the repository and
// returns it cleaned. what names the path in errors ("Dockerfile declared in
// tags.yaml").
func cleanRel(what, p string) (string, error) {
	if err := catalog.ValidateRelPath(what, p); err != nil {
		var inv *catalog.InvalidError
		msg := err.Error()
		if errors.As(err, &inv) {
			msg = inv.Message
		}
		return "", &Error{Msg: what + ": " + msg, Err: err}
	}
	c := path.Clean(p)
	if c == "." || c == "" {
		return ".", nil
	}
	return c, nil
}

// resolve follows symbolic links in name, component by component, and
// returns the real path inside the root. A link that is absolute or climbs
// out of the root is an *Error naming it; a missing component gives an error
// that wraps fs.ErrNotExist.
func (r *repo) resolve(name string) (string, error) {
	name, err := cleanRel("path", name)
	if err != nil {
		return "", err
	}
	if name == "." {
		return ".", nil
	}
	pending := strings.Split(name, "/")
	var done []string
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", fileError(name, 0, "the path leads outside the repository; refused")
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(done, c)...)
		fi, err := r.root.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%s: %w", name, fs.ErrNotExist)
			}
			return "", fmt.Errorf("stat %s: %w", cur, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !fi.IsDir() && len(pending) > 0 {
				return "", fileError(name, 0, "%q is not a directory", cur)
			}
			done = append(done, c)
			continue
		}
		hops++
		if hops > maxLinkHops {
			return "", fileError(name, 0, "too many levels of symbolic links")
		}
		target, err := r.root.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("read symbolic link %s: %w", cur, err)
		}
		if path.IsAbs(target) || strings.HasPrefix(target, `\`) {
			return "", fileError(name, 0, "%q is a symbolic link to %q, outside the repository; refused", cur, target)
		}
		// Check that the link stays inside before splicing it in, so the
		// error names the link rather than a later component.
		depth := len(done)
		for _, t := range strings.Split(target, "/") {
			switch t {
			case "", ".":
			case "..":
				depth--
			default:
				depth++
			}
			if depth < 0 {
				return "", fileError(name, 0, "%q is a symbolic link to %q, outside the repository; refused", cur, target)
			}
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// stat resolves name and returns its real path and file info.
func (r *repo) stat(name string) (string, fs.FileInfo, error) {
	real, err := r.resolve(name)
	if err != nil {
		return "", nil, err
	}
	fi, err := r.root.Stat(real)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		return "", nil, r.osError(name, err)
	}
	return real, fi, nil
}

// osError turns an os.Root error into an *Error when it is the root refusing
// an escape, and wraps it as a machine error otherwise.
func (r *repo) osError(name string, err error) error {
	if strings.Contains(err.Error(), "escapes from parent") {
		return &Error{File: name, Msg: "the path leads outside the repository; refused", Err: err}
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// readFile returns the content of a regular file, at most limit bytes. A
// larger file is an *Error wrapping errTooLarge; a missing one wraps
// fs.ErrNotExist.
func (r *repo) readFile(name string, limit int64) ([]byte, string, error) {
	real, fi, err := r.stat(name)
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, real, fileError(name, 0, "is not a regular file")
	}
	if fi.Size() > limit {
		return nil, real, tooLarge(name, fi.Size(), limit)
	}
	f, err := r.root.Open(real)
	if err != nil {
		return nil, real, r.osError(name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, real, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit { // it grew since the stat
		return nil, real, tooLarge(name, int64(len(data)), limit)
	}
	return data, real, nil
}

func tooLarge(name string, size, limit int64) *Error {
	return &Error{
		File: name,
		Msg:  fmt.Sprintf("file is %s, larger than the %s limit; make it smaller", humanSize(size), humanSize(limit)),
		Err:  errTooLarge,
	}
}

// isDir reports whether p is a directory of the repository.
func (r *repo) isDir(p string) bool {
	_, fi, err := r.stat(p)
	return err == nil && fi.IsDir()
}

// maxGlobEntries bounds the directory entries one glob looks at.
const maxGlobEntries = 4096

// globExists reports whether a path, possibly with the wildcards of COPY
// (*, ?, [...] in any component), names something in the repository.
func (r *repo) globExists(p string) bool {
	p = path.Clean(p)
	if p == "." {
		return true
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return false
	}
	if !strings.ContainsAny(p, "*?[") {
		_, _, err := r.stat(p)
		return err == nil
	}
	budget := maxGlobEntries
	return r.globFrom(".", strings.Split(p, "/"), &budget)
}

func (r *repo) globFrom(dir string, parts []string, budget *int) bool {
	if len(parts) == 0 {
		return true
	}
	part := parts[0]
	if !strings.ContainsAny(part, "*?[") {
		next := path.Join(dir, part)
		if len(parts) == 1 {
			_, _, err := r.stat(next)
			return err == nil
		}
		if !r.isDir(next) {
			return false
		}
		return r.globFrom(next, parts[1:], budget)
	}
	if *budget <= 0 {
		return false
	}
	real, err := r.resolve(dir)
	if err != nil {
		return false
	}
	f, err := r.root.Open(real)
	if err != nil {
		return false
	}
	entries, _ := f.ReadDir(*budget)
	f.Close()
	*budget -= len(entries)
	for _, e := range entries {
		if ok, _ := path.Match(part, e.Name()); !ok {
			continue
		}
		if r.globFrom(path.Join(dir, e.Name()), parts[1:], budget) {
			return true
		}
		if *budget <= 0 {
			return false
		}
	}
	return false
}

// listDir returns up to max names of the entries of a directory of the
// repository, sorted; nil when it cannot be listed.
func (r *repo) listDir(dir string, max int) []string {
	if dir == "." {
		if len(r.rootNames) > max {
			return slices.Sorted(slices.Values(r.rootNames[:max]))
		}
		return slices.Sorted(slices.Values(r.rootNames))
	}
	real, err := r.resolve(dir)
	if err != nil {
		return nil
	}
	f, err := r.root.Open(real)
	if err != nil {
		return nil
	}
	defer f.Close()
	names, _ := f.Readdirnames(max)
	slices.Sort(names)
	return names
}
