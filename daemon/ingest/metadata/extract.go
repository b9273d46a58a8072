package metadata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Options steer Extract.
type Options struct {
	// Dockerfile and Context are the paths the user declared when
	// registering the repository (relative to its root). They win over
	// tags.yaml's dockerfile: and context:.
	Dockerfile string
	Context    string
	// Limits bound what is read; zero fields take DefaultLimits.
	Limits Limits
	// Logger receives debug records of what was found; nil logs nothing.
	Logger *slog.Logger
}

// Result is everything Extract learned about a repository.
type Result struct {
	// Name, Description and Homepage are what the repository declares
	// (tags.yaml, README front matter, package manifests, in that order);
	// "" when it declares nothing. Callers use them only where the user
	// gave none.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Homepage    string `json:"homepage,omitempty"`
	// Tags are deduplicated, sorted by key and value, at most
	// catalog.MaxTagsPerRepo; each has Source author or auto.
	Tags []catalog.Tag `json:"tags"`
	// DockerfilePath is the Dockerfile to build, with symlinks resolved;
	// ContextPath is the build context ("." is the root). Both are
	// slash-separated and relative to the repository root.
	DockerfilePath string `json:"dockerfile_path"`
	ContextPath    string `json:"context_path"`
	// Port is the port the app serves, 0 when nothing says (the caller
	// applies its default); PortSource says which source gave it:
	// "tags.yaml", "readme" or "expose".
	Port       int            `json:"port,omitempty"`
	PortSource string         `json:"port_source,omitempty"`
	Dockerfile DockerfileInfo `json:"dockerfile"`
	// Readme is the README's text without front matter, capped, for
	// full-text search.
	Readme string `json:"-"`
	// Resources is the resource profile tags.yaml asks for, "" if none.
	Resources string `json:"resources,omitempty"`
	// Facts are other things worth showing: "go.module", "go.version".
	Facts map[string]string `json:"facts,omitempty"`
	// Warnings are problems that did not stop the ingestion (an unknown
	// field, a malformed package.json), each naming its file.
	Warnings []string `json:"warnings,omitempty"`
}

// Port sources.
const (
	PortFromTagsFile = "tags.yaml"
	PortFromReadme   = "readme"
	PortFromExpose   = "expose"
)

// maxWarnings bounds Result.Warnings.
const maxWarnings = 100

// maxTopicsPerSource bounds topic: tags taken from one file.
const maxTopicsPerSource = 32

// Extract reads the checkout in root. It fails with an *Error (permanent)
// when the repository cannot be built as it is: no Dockerfile, an
// unparsable one, a declared path that is missing or leaves the
// repository, a malformed or over-large tags.yaml. Other files are optional:
// their problems become Result.Warnings. Errors that are not *Error come
// from the machine (I/O) or ctx and may be retried.
func Extract(ctx context.Context, root string, opts Options) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := opts.Limits.withDefaults()
	r, err := openRepo(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()

	x := &extraction{repo: r, lim: lim, res: &Result{Facts: map[string]string{}}, tags: newTagSet()}
	if err := x.run(ctx, opts); err != nil {
		return nil, err
	}
	res := x.res
	var dropped int
	res.Tags, dropped = x.tags.list()
	if dropped > 0 {
		x.warn("%d tags over the limit of %d were dropped (author tags are kept first)", dropped, catalog.MaxTagsPerRepo)
	}
	if len(x.warnings) > maxWarnings {
		more := len(x.warnings) - maxWarnings
		x.warnings = append(x.warnings[:maxWarnings], fmt.Sprintf("%d more warnings not shown", more))
	}
	res.Warnings = x.warnings
	if len(res.Facts) == 0 {
		res.Facts = nil
	}
	for _, w := range res.Warnings {
		log.Debug("repository metadata warning", "root", root, "warning", w)
	}
	log.Debug("repository metadata extracted", "root", root, "dockerfile", res.DockerfilePath,
		"context", res.ContextPath, "port", res.Port, "port_source", res.PortSource,
		"tags", len(res.Tags), "warnings", len(res.Warnings))
	return res, nil
}

type extraction struct {
	repo     *repo
	lim      Limits
	res      *Result
	tags     *tagSet
	warnings []string
}

func (x *extraction) warn(format string, args ...any) {
	x.warnings = append(x.warnings, fmt.Sprintf(format, args...))
}

// optional reads a file that may be absent or skipped. It returns nil data
// when the file is missing, over its limit or unreadable for a reason of
// the repository (warned); machine errors are returned.
func (x *extraction) optional(name string, limit int64) ([]byte, error) {
	data, _, err := x.repo.readFile(name, limit)
	var e *Error
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.As(err, &e):
		x.warnings = append(x.warnings, err.Error()+"; skipped")
		return nil, nil
	default:
		return nil, err
	}
}

func (x *extraction) run(ctx context.Context, opts Options) error {
	res := x.res

	// 1. tags.yaml first: it may say where the Dockerfile is.
	tf := &tagsFile{}
	if name := x.repo.findRoot(TagsFileName, "tags.yml"); name != "" {
		data, _, err := x.repo.readFile(name, x.lim.TagsYAML)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err == nil {
			var w []string
			tf, w, err = parseTagsFile(name, data)
			x.warnings = append(x.warnings, w...)
			if err != nil {
				return err
			}
		}
	}

	// 2. The walk serves Dockerfile discovery and language statistics.
	walk, err := x.repo.walk(ctx, x.lim)
	if err != nil {
		return err
	}

	// 3. The Dockerfile and the build context.
	declared, declaredBy := tf.Dockerfile, TagsFileName
	if opts.Dockerfile != "" {
		if tf.Dockerfile != "" && tf.Dockerfile != opts.Dockerfile {
			x.warn("%s declares dockerfile %q; the repository's dockerfile setting %q wins", TagsFileName, tf.Dockerfile, opts.Dockerfile)
		}
		declared, declaredBy = opts.Dockerfile, "the repository's dockerfile setting"
	}
	found, real, err := x.repo.findDockerfile(declared, declaredBy, walk, x.lim)
	if err != nil {
		return err
	}
	res.DockerfilePath = real
	ctxDeclared, ctxBy := tf.Context, TagsFileName
	if opts.Context != "" {
		ctxDeclared, ctxBy = opts.Context, "the repository's context setting"
	}
	if res.ContextPath, err = x.repo.resolveContext(ctxDeclared, ctxBy, found); err != nil {
		return err
	}
	data, _, err := x.repo.readFile(real, x.lim.Dockerfile)
	if err != nil {
		return err
	}
	info, w, err := parseDockerfile(real, data)
	x.warnings = append(x.warnings, w...)
	if err != nil {
		return err
	}
	res.Dockerfile = info
	if err := ctx.Err(); err != nil {
		return err
	}

	// 4. Author declarations, strongest first: tags.yaml, README, manifests.
	x.applyTagsFile(tf)
	readme, err := x.readme()
	if err != nil {
		return err
	}
	manifests, err := x.manifests()
	if err != nil {
		return err
	}

	// 5. Names: the first source that declares one wins.
	res.Name = cmp.Or(cleanText(tf.Name, catalog.MaxNameLen), cleanText(readme.Title, catalog.MaxNameLen))
	res.Description = cmp.Or(cleanText(tf.Description, catalog.MaxDescriptionLen), cleanText(readme.ShortDescription, catalog.MaxDescriptionLen))
	res.Homepage = cleanURL(tf.Homepage)
	if tf.Homepage != "" && res.Homepage == "" {
		x.warn("%s: homepage %q is not an http(s) URL; ignored", TagsFileName, textutil.Truncate(tf.Homepage, 80))
	}
	for _, m := range manifests {
		if res.Name == "" {
			res.Name = cleanText(m.Name, catalog.MaxNameLen)
		}
		if res.Description == "" {
			res.Description = cleanText(m.Description, catalog.MaxDescriptionLen)
		}
		if res.Homepage == "" {
			res.Homepage = cleanURL(m.Homepage)
		}
	}

	// 6. The port: declared, then the README, then EXPOSE.
	switch {
	case tf.Port != 0:
		res.Port, res.PortSource = tf.Port, PortFromTagsFile
	case readme.AppPort != 0:
		res.Port, res.PortSource = readme.AppPort, PortFromReadme
	case len(info.Expose) > 0:
		res.Port, res.PortSource = info.Expose[0], PortFromExpose
	}

	// 7. Derived tags.
	if rt := runtimeOf(info.BaseImage); rt != "" {
		x.tag(catalog.SourceAuto, "runtime", rt, real)
	}
	for _, m := range manifests {
		for _, f := range m.Frameworks {
			x.tag(catalog.SourceAuto, "framework", f, "")
		}
	}
	for _, l := range walk.languages() {
		x.tag(catalog.SourceAuto, "lang", l, "")
	}
	if err := x.licenses(); err != nil {
		return err
	}
	return nil
}

// tag adds a tag and warns, naming where it came from, when it is unusable.
func (x *extraction) tag(src catalog.TagSource, key, value, from string) {
	if reason := x.tags.add(src, key, value); reason != "" && from != "" {
		x.warn("%s: tag %q ignored: %s", from, textutil.Truncate(key+":"+value, 80), reason)
	}
}

func (x *extraction) applyTagsFile(tf *tagsFile) {
	for _, t := range tf.Tags {
		from := fmt.Sprintf("%s:%d", TagsFileName, t.Line)
		x.tag(catalog.SourceAuthor, t.Key, t.Value, from)
	}
	if tf.Resources != "" {
		if v := strings.ToLower(tf.Resources); isProfileName(v) {
			x.res.Resources = v
		} else {
			x.warn("%s: resources %q is not a profile name (a word such as small); ignored", TagsFileName, textutil.Truncate(tf.Resources, 40))
		}
	}
}

// readme reads the README's front matter and text.
func (x *extraction) readme() (readmeMeta, error) {
	name := x.repo.findRoot(readmeNames...)
	if name == "" {
		return readmeMeta{}, nil
	}
	data, err := x.optional(name, x.lim.Readme)
	if err != nil || data == nil {
		return readmeMeta{}, err
	}
	m, w := parseReadme(name, data)
	x.warnings = append(x.warnings, w...)
	x.res.Readme = cleanBody(m.Body, x.lim.ReadmeText)
	if m.SDK != "" {
		x.tag(catalog.SourceAuthor, "sdk", m.SDK, name)
	}
	for i, t := range m.Topics {
		if i >= maxTopicsPerSource {
			break
		}
		x.tag(catalog.SourceAuthor, "topic", t, name)
	}
	for _, l := range licenseIDs(m.License) {
		x.tag(catalog.SourceAuthor, "license", l, name)
	}
	return m, nil
}

// manifests reads the package manifests of the build context and, when
// the context is a sub-folder, of the root too (a monorepo's app lives in
// its folder, its license and README at the top). They come back in the
// order their names and descriptions are preferred.
func (x *extraction) manifests() ([]manifest, error) {
	var out []manifest
	type reader struct {
		name  string
		parse func(file string, data []byte) (manifest, []string)
	}
	readers := []reader{
		{"package.json", parsePackageJSON},
		{"Cargo.toml", func(_ string, d []byte) (manifest, []string) { return parseCargo(d), nil }},
		{"pyproject.toml", func(_ string, d []byte) (manifest, []string) { return parsePyproject(d), nil }},
		{"go.mod", parseGoMod},
		{"requirements.txt", func(_ string, d []byte) (manifest, []string) { return parseRequirements(d), nil }},
	}
	dirs := []string{"."}
	if x.res.ContextPath != "." {
		dirs = []string{x.res.ContextPath, "."}
	}
	for _, dir := range dirs {
		for _, rd := range readers {
			name := path.Join(dir, rd.name)
			data, err := x.optional(name, x.lim.Manifest)
			if err != nil {
				return nil, err
			}
			if data == nil {
				continue
			}
			m, w := rd.parse(name, data)
			x.warnings = append(x.warnings, w...)
			for i, t := range m.Topics {
				if i >= maxTopicsPerSource {
					break
				}
				x.tag(catalog.SourceAuthor, "topic", t, name)
			}
			for _, l := range m.Licenses {
				x.tag(catalog.SourceAuthor, "license", l, name)
			}
			for k, v := range m.Facts {
				if _, ok := x.res.Facts[k]; !ok {
					x.res.Facts[k] = v
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// licenses detects the kind of each license file at the root.
func (x *extraction) licenses() error {
	for _, name := range x.repo.licenseFiles() {
		data, err := x.optional(name, x.lim.License)
		if err != nil {
			return err
		}
		if data == nil {
			continue
		}
		if id := detectLicense(string(data)); id != "" {
			x.tag(catalog.SourceAuto, "license", id, name)
		}
	}
	return nil
}

// isProfileName reports whether s looks like a resource profile name; which
// profiles exist is the runner's business.
func isProfileName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
