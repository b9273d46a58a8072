package metadata

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
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
	// Target is the stage the user declared (appstore edit --target): builds
	// stop at it, whatever a compose service says.
	Target string
	// Limits bound what is read; zero fields take DefaultLimits.
	Limits Limits
	// Logger receives debug records of what was found; nil logs nothing.
	Logger *slog.Logger
}

// Result is everything Extract learned about a repository.
type Result struct {
	// Name, Description and Homepage are what the repository declares or
	// shows: tags.yaml, the README's front matter, its first heading and
	// first paragraph, the package manifests (see Extract); "" when
	// nothing says. Callers use them only where the user gave none.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Homepage    string `json:"homepage,omitempty"`
	// Emoji is the app's emoji (tags.yaml, or the Spaces front matter).
	Emoji string `json:"emoji,omitempty"`
	// Tags are deduplicated, sorted by key and value, at most
	// catalog.MaxTagsPerRepo; each has Source author or auto.
	Tags []catalog.Tag `json:"tags"`
	// DockerfilePath is the Dockerfile to build, with symlinks resolved;
	// ContextPath is the build context ("." is the root). Both are
	// slash-separated and relative to the repository root.
	DockerfilePath string `json:"dockerfile_path"`
	ContextPath    string `json:"context_path"`
	// Build says why this Dockerfile and context were chosen and lists
	// the other Dockerfiles found; nil without a Dockerfile.
	Build *catalog.BuildChoice `json:"build,omitempty"`
	// Port is the port the app serves, 0 when nothing says (the caller
	// applies its default); PortSource says which source gave it (one
	// of the PortFrom constants).
	Port       int            `json:"port,omitempty"`
	PortSource string         `json:"port_source,omitempty"`
	Dockerfile DockerfileInfo `json:"dockerfile"`
	// HF holds the Hugging Face Spaces fields of the README's front
	// matter (emoji, colours, pinned, models, datasets); nil without.
	HF *catalog.HFMetadata `json:"hf,omitempty"`
	// Readme is the README's text without front matter, capped, for
	// full-text search.
	Readme string `json:"-"`
	// Resources is the resource profile tags.yaml asks for, "" if none.
	Resources string `json:"resources,omitempty"`
	// Storage is the data directory tags.yaml declares (storage:), kept
	// in a volume of the app's own; nil if none.
	Storage *catalog.Storage `json:"storage,omitempty"`
	// Env are the variables the app declares it reads: tags.yaml env:,
	// .env.example and .env.sample, the compose service's environment:.
	Env []catalog.DeclaredEnv `json:"env,omitempty"`
	// Facts are other things worth showing: "go.module", "go.version".
	Facts map[string]string `json:"facts,omitempty"`
	// Warnings are problems that did not stop the ingestion (an unknown
	// field, a malformed package.json, a manifest that cannot be read),
	// each naming its file.
	Warnings []string `json:"warnings,omitempty"`
}

// CardVersion is the version of the rules that derive an app's card (name,
// description, port, Dockerfile, tags). It goes up whenever they change so
// that the sync reads repositories whose card older rules derived again,
// even when their commit did not move.
const CardVersion = 5 // 3: the declared variables (Result.Env); 4: a compose service's build.target and build.args; 5: deployment notes, provenance sentences, copied libraries with a /*! banner, frameworks cloned from their repository

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
//
// A repository that cannot be built still has a card: Extract then returns
// the Result together with the *Error, so that the catalog can show what
// the app is and why it cannot be built. The card is read from everything
// but what failed: without a Dockerfile (or with one that cannot be used)
// it has no Dockerfile, context or Dockerfile-derived port; with a tags.yaml
// that cannot be used, the fields of it that could be read before the
// first bad one, and the rest from the README and the manifests. The first
// failure is returned.
//
// The card's fields come from the first source that gives them:
//
//   - name: tags.yaml name, the Spaces title, the README's first
//     level-one heading, a manifest's display name or name (package.json,
//     pyproject.toml, Cargo.toml, composer.json; not a generic one such
//     as "frontend"); the caller falls back to the repository's name.
//   - description: tags.yaml description, the Spaces short_description,
//     a manifest's description, the README's first paragraph of prose.
//   - port: tags.yaml port, the Spaces app_port, EXPOSE of the final
//     stage, the compose service's ports, the CMD/ENTRYPOINT's flags and
//     addresses, ENV PORT, the default port of the server the command
//     runs (or of the base image), the Spaces default of the SDK.
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

	x := &extraction{repo: r, lim: lim, res: &Result{Facts: map[string]string{}}, tags: newTagSet(),
		cands: map[string]*dfCandidate{}, composeRoles: map[string]string{}}
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
	if x.failure != nil {
		return res, x.failure
	}
	return res, nil
}

type extraction struct {
	repo     *repo
	lim      Limits
	res      *Result
	tags     *tagSet
	warnings []string
	// cands are the Dockerfiles read, by path; composeRoles say why a
	// compose service's Dockerfile is not the app's.
	cands        map[string]*dfCandidate
	composeRoles map[string]string
	// failure is the first problem of the repository's content that
	// stops the build (see fail); the card is read all the same.
	failure error
}

// fail records err, a problem of the repository's content (IsPermanent),
// as the reason the repository cannot be built, unless an earlier one
// was recorded: Extract then returns it with the card read from
// everything else.
func (x *extraction) fail(err error) {
	if x.failure == nil {
		x.failure = err
	}
}

// failOrReturn records a permanent err with fail and returns nil; a
// machine error or ctx's is returned to stop the extraction.
func (x *extraction) failOrReturn(err error) error {
	if err == nil || !IsPermanent(err) {
		return err
	}
	x.fail(err)
	return nil
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
		// A tags.yaml that cannot be used fails the ingestion, but the
		// card is still read: from its fields that could be read and
		// from everything else.
		data, _, err := x.repo.readFile(name, x.lim.TagsYAML)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			if err := x.failOrReturn(err); err != nil {
				return err
			}
		}
		if err == nil {
			parsed, w, err := parseTagsFile(name, data)
			x.warnings = append(x.warnings, w...)
			if parsed != nil {
				tf = parsed
			}
			var e *Error
			if errors.As(err, &e) {
				// What is wrong names the line; what to do is the same
				// for every field.
				fixed := *e
				fixed.Msg += tagsFileAdvice(name)
				err = &fixed
			}
			x.fail(err)
		}
	}

	// 2. The walk serves Dockerfile discovery and language statistics.
	walk, err := x.repo.walk(ctx, x.lim)
	if err != nil {
		return err
	}

	// 3. The Dockerfile and the build context.
	declared, declaredBy, declaredSource := tf.Dockerfile, TagsFileName, catalog.ChoiceTagsFile
	if opts.Dockerfile != "" {
		if tf.Dockerfile != "" && tf.Dockerfile != opts.Dockerfile {
			x.warn("%s declares dockerfile %q; the repository's dockerfile setting %q wins", TagsFileName, tf.Dockerfile, opts.Dockerfile)
		}
		declared, declaredBy, declaredSource = opts.Dockerfile, "the repository's dockerfile setting", catalog.ChoiceRegistration
	}
	ctxDeclared, ctxBy := tf.Context, TagsFileName
	if opts.Context != "" {
		ctxDeclared, ctxBy = opts.Context, "the repository's context setting"
	}
	ch, err := x.chooseDockerfile(declared, declaredBy, declaredSource, ctxDeclared, ctxBy, walk)
	if err := x.failOrReturn(err); err != nil {
		return err
	}
	if err != nil {
		// The Dockerfile cannot be used: the card is read without it.
		ch = nil
	}
	var facts *dockerfileFacts
	if ch != nil {
		if err := x.failOrReturn(x.applyTarget(ch, opts.Target)); err != nil {
			return err
		}
		facts = ch.cand.facts
		res.DockerfilePath, res.ContextPath = ch.Dockerfile, ch.Context
		res.Build = &ch.BuildChoice
		res.Dockerfile = facts.Info
		x.warnings = append(x.warnings, ch.cand.warnings...)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// 4. Author declarations, strongest first: tags.yaml, README, manifests.
	x.applyTagsFile(tf)
	if res.Env, err = x.declaredEnv(tf, ch); err != nil {
		return err
	}
	readme, card, err := x.readme()
	if err != nil {
		return err
	}
	dirs := x.appDirs(ch)
	manifests, err := x.manifests(dirs)
	if err != nil {
		return err
	}
	// Names and descriptions come from the manifests at the root and in
	// the build context, root first: they describe the repository.
	var named []manifest
	for _, m := range manifests {
		if d := path.Dir(m.File); d == "." || d == res.ContextPath {
			named = append(named, m)
		}
	}
	slices.SortStableFunc(named, func(a, b manifest) int {
		return cmpBool(path.Dir(a.File) != ".", path.Dir(b.File) != ".")
	})

	// 5. The card: the first source that says wins.
	res.Name = cmp.Or(catalog.CleanText(tf.Name, catalog.MaxNameLen), catalog.CleanText(readme.Title, catalog.MaxNameLen),
		catalog.CleanText(card.Title, catalog.MaxNameLen))
	res.Description = cmp.Or(catalog.CleanText(tf.Description, catalog.MaxDescriptionLen), catalog.CleanText(readme.ShortDescription, catalog.MaxDescriptionLen))
	res.Homepage = cleanURL(tf.Homepage)
	if tf.Homepage != "" && res.Homepage == "" {
		x.warn("%s: homepage %q is not an http(s) URL; ignored", TagsFileName, textutil.Truncate(tf.Homepage, 80))
	}
	for _, m := range named {
		if res.Name == "" {
			res.Name = catalog.CleanText(manifestName(m), catalog.MaxNameLen)
		}
		if res.Description == "" && !isPlaceholderDescription(m.Description) {
			res.Description = catalog.CleanText(m.Description, catalog.MaxDescriptionLen)
		}
		if res.Homepage == "" {
			res.Homepage = cleanURL(m.Homepage)
		}
	}
	if res.Description == "" {
		res.Description = catalog.CleanText(card.Description, catalog.MaxDescriptionLen)
	}
	res.Emoji = cmp.Or(tf.Emoji, readme.HF.Emoji)
	if !readme.HF.IsZero() {
		hf := readme.HF
		res.HF = &hf
	}

	// 6. The port: the first source that says wins.
	switch {
	case tf.Port != 0:
		res.Port, res.PortSource = tf.Port, PortFromTagsFile
	case readme.AppPort != 0:
		res.Port, res.PortSource = readme.AppPort, PortFromReadme
	case facts != nil && len(facts.Info.Expose) > 0 && ch != nil && len(ch.composePorts) > 0 &&
		!slices.ContainsFunc(facts.Info.Expose, func(p int) bool { return slices.Contains(ch.composePorts, p) }):
		// The compose service maps ports the Dockerfile does not expose:
		// the EXPOSE is stale (the server moved to 8080 to run without
		// root), the compose file is what the author runs. A service that
		// builds a stage (target: dev) is built as it says, so the facts
		// are that stage's.
		res.Port, res.PortSource = ch.composePorts[0], PortFromCompose
	case facts != nil && len(facts.Info.Expose) > 0:
		res.Port, res.PortSource = facts.Info.Expose[0], PortFromExpose
		if ch != nil {
			// Of several exposed ports, the one compose publishes.
			for _, p := range facts.Info.Expose {
				if slices.Contains(ch.composePorts, p) {
					res.Port = p
					break
				}
			}
		}
	case ch != nil && len(ch.composePorts) > 0:
		res.Port, res.PortSource = ch.composePorts[0], PortFromCompose
	}
	if res.Port == 0 && facts != nil {
		f := commandPort(facts.Entrypoint, facts.Cmd, x.portContext(ch, manifests))
		if f.port == 0 && facts.Entrypoint == nil && facts.Cmd == nil {
			if p := baseImagePort(facts.Info.BaseImage); p > 0 {
				f = portFind{port: p, source: PortFromFramework}
			}
		}
		res.Port, res.PortSource = f.port, f.source
		if f.port == 0 && card.RunPort > 0 {
			// The command runs no server whose default is known (a
			// compiled binary): the README's docker run shows the port. A
			// known server's default is what it does, whatever a README
			// says.
			res.Port, res.PortSource = card.RunPort, PortFromDockerRun
		}
		if res.Port == 0 {
			f := x.codePort(ch, x.portContext(ch, manifests))
			res.Port, res.PortSource = f.port, f.source
		}
	}
	if res.Port == 0 {
		if p := hfDefaultPort(readme.SDK); p > 0 {
			res.Port, res.PortSource = p, PortFromHFDefault
		}
	}

	// 7. Derived tags.
	if facts != nil {
		if rt := runtimeOf(facts.Info.BaseImage); rt != "" {
			x.tag(catalog.SourceAuto, "runtime", rt, res.DockerfilePath)
		}
	}
	var frameworks []string
	for _, m := range manifests {
		frameworks = appendNew(frameworks, m.Frameworks...)
	}
	if facts != nil {
		// What the Dockerfile installs itself (RUN pip install flask).
		frameworks = appendNew(frameworks, installedFrameworks(facts.RunLines)...)
	}
	// A Gradio or Streamlit Space gets its framework from the SDK, not
	// from requirements.txt.
	if readme.SDK == "gradio" || readme.SDK == "streamlit" {
		frameworks = appendNew(frameworks, readme.SDK)
	}
	for _, f := range frameworks {
		if b := foundationOf[f]; b != "" && slices.Contains(frameworks, b) {
			// Starlette in a FastAPI app is FastAPI's foundation, not a
			// second framework.
			continue
		}
		x.tag(catalog.SourceAuto, "framework", f, "")
	}
	for _, l := range appLanguages(walk, manifests, res.ContextPath) {
		x.tag(catalog.SourceAuto, "lang", l, "")
	}
	if err := x.licenses(); err != nil {
		return err
	}
	if ch == nil && x.failure == nil {
		how := fmt.Sprintf("looked for Dockerfile and Containerfile at the repository root, in compose files, and in sub-folders up to %d levels deep", x.lim.WalkDepth)
		if walk.truncated {
			how += fmt.Sprintf(" (the search stopped after %d entries)", x.lim.WalkEntries)
		}
		x.fail(&Error{Msg: "no Dockerfile found: " + how + "; add a Dockerfile, or declare its path with \"dockerfile:\" in tags.yaml or the repository's dockerfile setting"})
	}
	return nil
}

// tagsFileAdvice ends the error of a tags.yaml that cannot be used.
func tagsFileAdvice(name string) string {
	return "; fix " + name + " and push (the card is read without it until then)"
}

// applyTarget takes the stage builds stop at and the build arguments
// into the build choice: the stage the user declared, else the chosen
// compose service's build.target, and that service's build.args. Builds
// stop at that stage, so the image's facts (EXPOSE, command, base image)
// are the stage's. A declared stage the Dockerfile does not define fails
// the ingestion; a compose target it does not define is dropped with a
// warning (the final stage is built).
func (x *extraction) applyTarget(ch *buildChoice, declared string) error {
	if ch.Source == catalog.ChoiceCompose {
		ch.Args = ch.composeArgs
	}
	if declared != "" {
		if ch.cand.facts == nil {
			return nil
		}
		tf, ok := ch.cand.facts.forTarget(declared)
		if !ok {
			return &Error{File: ch.Dockerfile, Msg: fmt.Sprintf("the repository's target setting %q names no stage of this Dockerfile (no FROM … AS %s): "+
				"set another with `appstore edit <slug> --target NAME`, or build the final stage with `appstore edit <slug> --reset target`", declared, declared)}
		}
		if ch.Source == catalog.ChoiceCompose && !strings.EqualFold(declared, ch.composeTarget) {
			// The service's ports are those of the stage it builds,
			// not of this one.
			ch.composePorts = nil
		}
		x.useTarget(ch, tf, declared)
		ch.Reason += fmt.Sprintf("; stage %s as the repository's target setting says", declared)
		return nil
	}
	t := ch.composeTarget
	if ch.Source != catalog.ChoiceCompose || t == "" || ch.cand.facts == nil {
		return nil
	}
	if !catalog.ValidBuildTarget(t) {
		x.warn("service %s of %s builds target %q, which is not a stage name; the final stage of %s is built",
			ch.ComposeService, ch.ComposeFile, textutil.Truncate(t, 40), ch.Dockerfile)
		ch.composeTarget = ""
		return nil
	}
	tf, ok := ch.cand.facts.forTarget(t)
	if !ok {
		x.warn("service %s of %s builds target %q, which %s does not define (no FROM … AS %s); the final stage is built",
			ch.ComposeService, ch.ComposeFile, t, ch.Dockerfile, t)
		ch.composeTarget = ""
		return nil
	}
	x.useTarget(ch, tf, t)
	ch.Reason = strings.Replace(ch.Reason, " builds it", " builds its stage "+t, 1)
	return nil
}

// useTarget makes the build choice stop at the stage target, whose facts
// are tf.
func (x *extraction) useTarget(ch *buildChoice, tf *dockerfileFacts, target string) {
	c := *ch.cand
	c.facts = tf
	ch.cand = &c
	ch.Target = target
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// genericNames are package names that name a part or a template, not the
// app: a card is better off with the repository's name.
var genericNames = map[string]bool{
	"app": true, "web": true, "webapp": true, "frontend": true, "backend": true, "client": true, "server": true,
	"api": true, "ui": true, "site": true, "website": true, "www": true, "my-app": true, "myapp": true,
	"vite-project": true, "react-app": true, "vue-project": true, "svelte-app": true, "nextjs": true,
	"next-app": true, "my-next-app": true, "nuxt-app": true, "demo": true, "example": true, "project": true,
	"hello": true, "hello-world": true, "test": true, "main": true, "src": true, "service": true, "worker": true,
	"root": true, "monorepo": true, "workspace": true, "laravel": true, "skeleton": true, "starter": true,
	"template": true, "default": true, "untitled": true, "package": true, "my-project": true,
}

// foundationOf names, for a framework another one is built on, that other
// one: listed beside it, it is not tagged.
var foundationOf = map[string]string{"starlette": "fastapi"}

// genericWords are the words placeholder package names are made of
// ("test-app", "my-react-app", "sample_project", "next-starter").
var genericWords = map[string]bool{
	"my": true, "new": true, "test": true, "testing": true, "sample": true, "example": true, "demo": true,
	"hello": true, "world": true, "app": true, "application": true, "project": true, "starter": true,
	"template": true, "boilerplate": true, "basic": true, "simple": true, "first": true, "web": true,
	"webapp": true, "site": true, "website": true, "frontend": true, "backend": true, "client": true,
	"server": true, "api": true, "ui": true, "react": true, "next": true, "nextjs": true, "vue": true,
	"vite": true, "svelte": true, "sveltekit": true, "nuxt": true, "angular": true, "node": true,
	"express": true, "ts": true, "js": true, "typescript": true, "javascript": true, "default": true,
}

// isGenericCompound says a package name is made only of placeholder words
// joined by hyphens, underscores or dots.
func isGenericCompound(l string) bool {
	words := strings.FieldsFunc(l, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	if len(words) < 2 {
		return false
	}
	for _, w := range words {
		if !genericWords[w] && !isDigits(w) {
			return false
		}
	}
	return true
}

// manifestName is the name a manifest gives the app: its display name,
// else its package name without an npm scope, unless that is generic or
// just the name of its folder.
func manifestName(m manifest) string {
	if m.DisplayName != "" {
		return m.DisplayName
	}
	n := strings.TrimSpace(m.Name)
	if strings.HasPrefix(n, "@") {
		if _, rest, ok := strings.Cut(n, "/"); ok {
			n = rest
		}
	}
	l := strings.ToLower(n)
	if genericNames[l] || isGenericCompound(l) {
		return ""
	}
	if d := path.Dir(m.File); d != "." && strings.EqualFold(path.Base(d), n) {
		return ""
	}
	return n
}

// placeholderDescriptions are descriptions generators write.
var placeholderDescriptions = map[string]bool{
	"add your description here":                           true,
	"the skeleton application for the laravel framework.": true,
	"the laravel framework.":                              true,
	"a short description":                                 true,
	"description":                                         true,
	"todo":                                                true,
	"demo project for spring boot":                        true,
	"a new flutter project.":                              true,
}

func isPlaceholderDescription(s string) bool {
	return placeholderDescriptions[strings.ToLower(strings.TrimSpace(s))]
}

// portContext gives commandPort the package.json scripts of the build
// context (npm start) and the shell scripts the image copies.
func (x *extraction) portContext(ch *buildChoice, manifests []manifest) portContext {
	pc := portContext{env: ch.cand.facts.Env}
	var scripts map[string]string
	for _, m := range manifests {
		if m.Scripts != nil && (path.Dir(m.File) == ch.Context || scripts == nil && path.Dir(m.File) == ".") {
			scripts = m.Scripts
		}
	}
	pc.script = func(name string) string { return scripts[name] }
	pc.file = func(name string) []byte {
		base := path.Base(name)
		var tries []string
		for _, s := range ch.cand.facts.Sources {
			if path.Base(s.Path) == base {
				tries = append(tries, path.Join(ch.Context, s.Path))
			}
		}
		tries = append(tries, path.Join(ch.Context, strings.TrimPrefix(path.Clean("/"+name), "/")), path.Join(ch.Context, base))
		for _, t := range tries {
			data, err := x.optional(t, 64<<10)
			if err == nil && data != nil {
				if text, err := decodeText(data); err == nil {
					return text
				}
			}
		}
		return nil
	}
	return pc
}

// manifestLanguages are the languages the manifests of an app's own
// folder are written for. package.json, pom.xml and build.gradle are left
// out: they serve JavaScript or TypeScript, Java or Kotlin alike.
var manifestLanguages = map[string]string{
	"Gemfile": "ruby", "requirements.txt": "python", "pyproject.toml": "python", "Pipfile": "python",
	"go.mod": "go", "Cargo.toml": "rust", "composer.json": "php",
}

// appLanguages are the repository's languages by bytes, led by the
// language of the build context's manifests (the root's without a
// Dockerfile) when the repository holds code in it: a Sinatra app whose
// public/ carries a large JavaScript library is still a Ruby app.
func appLanguages(w walkResult, manifests []manifest, context string) []string {
	langs := w.languages()
	if context == "" {
		context = "."
	}
	for _, m := range manifests {
		base := path.Base(m.File)
		if isRequirementsFile(base) {
			base = "requirements.txt"
		}
		l := manifestLanguages[base]
		if l == "" || path.Dir(m.File) != context || w.langBytes[l] == 0 || slices.Contains(langs, l) {
			continue
		}
		langs = append([]string{l}, langs...)
		if len(langs) > maxLangs {
			langs = langs[:maxLangs]
		}
	}
	return langs
}

// conventionalAppDirs are folders where monorepos keep their apps.
var conventionalAppDirs = []string{"frontend", "backend", "web", "app", "server", "client", "api", "ui"}

// maxManifestDirs bounds the folders whose manifests are read.
const maxManifestDirs = 16

// appDirs are the folders whose manifests give tags: the build context,
// the root, the conventional app folders, every services/*/ folder and
// the contexts of compose application services.
func (x *extraction) appDirs(ch *buildChoice) []string {
	var dirs []string
	add := func(d string) {
		if len(dirs) < maxManifestDirs && !slices.Contains(dirs, d) && (d == "." || x.repo.isDir(d)) {
			dirs = append(dirs, d)
		}
	}
	if ch != nil {
		add(ch.Context)
		if d := path.Dir(ch.cand.path); d != ch.Context {
			add(d)
		}
		for _, d := range x.manifestSourceDirs(ch.cand, ch.Context) {
			add(d)
		}
	}
	add(".")
	if ch != nil {
		for _, d := range ch.appDirs {
			add(d)
		}
	}
	for _, d := range conventionalAppDirs {
		for _, n := range x.repo.rootNames {
			if strings.EqualFold(n, d) {
				add(n)
			}
		}
	}
	for _, n := range x.repo.rootNames {
		if strings.EqualFold(n, "services") || strings.EqualFold(n, "apps") {
			for _, sub := range x.repo.listDir(n, 64) {
				add(path.Join(n, sub))
			}
		}
	}
	return dirs
}

// tag adds a tag and warns, naming where it came from, when it is unusable.
func (x *extraction) tag(src catalog.TagSource, key, value, from string) {
	if reason := x.tags.add(src, key, value); reason != "" && from != "" {
		x.warn("%s: tag %q ignored: %s", from, textutil.Truncate(key+":"+value, 80), reason)
	}
}

func (x *extraction) applyTagsFile(tf *tagsFile) {
	x.res.Storage = tf.Storage
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

// readme reads the README's front matter, its title and first paragraph,
// and its text.
func (x *extraction) readme() (readmeMeta, readmeCard, error) {
	name := x.repo.findRoot(readmeNames...)
	if name == "" {
		return readmeMeta{}, readmeCard{}, nil
	}
	data, err := x.optional(name, x.lim.Readme)
	if err != nil || data == nil {
		return readmeMeta{}, readmeCard{}, err
	}
	if data, err = decodeText(data); err != nil {
		x.warn("%s: cannot be read: %v; skipped", name, err)
		return readmeMeta{}, readmeCard{}, nil
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
	var card readmeCard
	if l := strings.ToLower(name); strings.HasSuffix(l, ".md") || strings.HasSuffix(l, ".markdown") || l == "readme" || strings.HasSuffix(l, ".txt") {
		card = parseReadmeCard([]byte(m.Body))
	}
	return m, card, nil
}

// manifestReader reads one kind of manifest.
type manifestReader struct {
	// match says a file name is this manifest.
	match func(name string) bool
	parse func(file string, data []byte) (manifest, []string)
}

func named(n string) func(string) bool { return func(s string) bool { return s == n } }

// manifestReaders, in the order names and descriptions are preferred.
var manifestReaders = []manifestReader{
	{named("package.json"), parsePackageJSON},
	{named("pyproject.toml"), func(f string, d []byte) (manifest, []string) { m := parsePyproject(d); m.File = f; return m, nil }},
	{named("Cargo.toml"), func(f string, d []byte) (manifest, []string) { m := parseCargo(d); m.File = f; return m, nil }},
	{named("composer.json"), parseComposer},
	{named("go.mod"), func(f string, d []byte) (manifest, []string) { m, w := parseGoMod(f, d); m.File = f; return m, w }},
	{isRequirementsFile, func(f string, d []byte) (manifest, []string) { m := parseRequirements(d); m.File = f; return m, nil }},
	{named("Pipfile"), func(f string, d []byte) (manifest, []string) { m := parsePipfile(d); m.File = f; return m, nil }},
	{named("Gemfile"), func(f string, d []byte) (manifest, []string) { m := parseGemfile(d); m.File = f; return m, nil }},
	{named("pom.xml"), func(f string, d []byte) (manifest, []string) { m := parsePom(d); m.File = f; return m, nil }},
	{func(s string) bool { return s == "build.gradle" || s == "build.gradle.kts" }, func(f string, d []byte) (manifest, []string) {
		m := parseGradle(d)
		m.File = f
		return m, nil
	}},
}

// isRequirementsFile matches requirements.txt, requirements-prod.txt,
// requirements_dev.txt.
func isRequirementsFile(name string) bool {
	l := strings.ToLower(name)
	return strings.HasPrefix(l, "requirements") && strings.HasSuffix(l, ".txt")
}

// maxManifestsPerDir bounds the manifests read from one folder.
const maxManifestsPerDir = 16

// manifests reads the package manifests of dirs (and the *.txt files of
// a requirements/ folder in them). A manifest in UTF-16 is decoded; one
// that cannot be read as text is skipped with a warning.
func (x *extraction) manifests(dirs []string) ([]manifest, error) {
	var out []manifest
	for _, dir := range dirs {
		names := x.repo.listDir(dir, 2000)
		if slices.Contains(names, "requirements") {
			for _, n := range x.repo.listDir(path.Join(dir, "requirements"), 64) {
				if strings.HasSuffix(strings.ToLower(n), ".txt") {
					names = append(names, "requirements/"+n)
				}
			}
		}
		n := 0
		for _, rd := range manifestReaders {
			for _, fn := range names {
				base := path.Base(fn)
				if strings.HasPrefix(fn, "requirements/") {
					base = "requirements.txt"
				}
				if !rd.match(base) || n >= maxManifestsPerDir {
					continue
				}
				n++
				name := path.Join(dir, fn)
				data, err := x.optional(name, x.lim.Manifest)
				if err != nil {
					return nil, err
				}
				if data == nil {
					continue
				}
				text, err := decodeText(data)
				if err != nil {
					x.warn("%s: cannot be read: %v; its frameworks are not tagged (save it as UTF-8)", name, err)
					continue
				}
				m, w := rd.parse(name, text)
				x.warnings = append(x.warnings, w...)
				m.File = name
				for i, t := range m.Topics {
					if i >= maxTopicsPerSource {
						break
					}
					x.tag(catalog.SourceAuthor, "topic", t, name)
				}
				// A licence is the repository's when its root or the
				// build context declares it: another part of a monorepo
				// (an npm package left at "MIT") says nothing of the app's.
				if dir == "." || dir == x.res.ContextPath {
					for _, l := range m.Licenses {
						x.tag(catalog.SourceAuthor, "license", l, name)
					}
				}
				for k, v := range m.Facts {
					if _, ok := x.res.Facts[k]; !ok {
						x.res.Facts[k] = v
					}
				}
				out = append(out, m)
			}
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
