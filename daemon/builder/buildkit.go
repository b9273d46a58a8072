package builder

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	bkclient "github.com/moby/buildkit/client"
	dockerfile "github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/filesync"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/patternmatcher"
	"github.com/tonistiigi/fsutil"
	fstypes "github.com/tonistiigi/fsutil/types"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Builders a build can run on; builds.builder records which one did.
const (
	// BuilderBuildKit is the engine's built-in BuildKit, reached over its
	// /grpc and /session endpoints, with the Dockerfile frontend running in
	// appstored.
	BuilderBuildKit = "buildkit"
	// BuilderClassic is the engine's classic builder (POST /build with
	// version 1), for engines that do not serve BuildKit.
	BuilderClassic = "classic"
)

// builderChoice says which builder builds run on, and why.
type builderChoice struct {
	Kind   string // BuilderBuildKit or BuilderClassic
	Why    string // for the classic builder: why not BuildKit
	Engine string // the engine's version, "20.10.24"
}

// String is what the log's first line and /readyz say.
func (c builderChoice) String() string {
	engine := "the Docker engine"
	if c.Engine != "" {
		engine = "Docker engine " + c.Engine
	}
	if c.Kind == BuilderBuildKit {
		return "BuildKit of " + engine
	}
	return "the classic builder of " + engine + " (" + c.Why + ")"
}

// redetectClassic is how long a choice of the classic builder stands
// before the engine is asked again (it may have been upgraded or
// restarted with BuildKit).
const redetectClassic = time.Minute

// buildkit is the connection to the engine's BuildKit, made once and
// shared by the builds of a Worker; gRPC reconnects by itself.
type buildkit struct {
	engine  Engine
	network string

	mu      sync.Mutex
	client  *bkclient.Client
	choice  builderChoice
	checked time.Time
}

// dialBuildKit opens a BuildKit client over the engine's hijacked /grpc
// and /session endpoints (buildx's "docker" driver does the same).
func dialBuildKit(ctx context.Context, e Engine) (*bkclient.Client, error) {
	return bkclient.New(ctx, "",
		bkclient.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return e.DialHijack(ctx, "/grpc", "h2c", nil)
		}),
		bkclient.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return e.DialHijack(ctx, "/session", proto, meta)
		}))
}

// choose returns the builder to use and, for BuildKit, its client. The
// engine is asked once; a classic choice is asked again after a minute.
func (b *buildkit) choose(ctx context.Context) (builderChoice, *bkclient.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.checked.IsZero() && (b.choice.Kind == BuilderBuildKit || time.Since(b.checked) < redetectClassic) {
		return b.choice, b.client
	}
	b.choice = b.detect(ctx)
	b.checked = time.Now()
	return b.choice, b.client
}

// forget drops the choice after the engine went away, so that the next
// build asks again (a restarted engine may be another one).
func (b *buildkit) forget() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checked = time.Time{}
}

func (b *buildkit) detect(ctx context.Context) builderChoice {
	var c builderChoice
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if v, err := b.engine.ServerVersion(vctx); err == nil {
		c.Engine = v.Version
	}
	if b.network != "" && b.network != "none" {
		c.Kind, c.Why = BuilderClassic, fmt.Sprintf("--build-network %s names a network, which BuildKit cannot put RUN steps on", b.network)
		return c
	}
	if b.client == nil {
		cl, err := dialBuildKit(ctx, b.engine)
		if err != nil {
			c.Kind, c.Why = BuilderClassic, "no BuildKit client: "+err.Error()
			return c
		}
		b.client = cl
	}
	if _, err := b.client.ListWorkers(vctx); err != nil {
		c.Kind, c.Why = BuilderClassic, "the engine does not serve BuildKit: "+textutil.FirstLine(err.Error())
		return c
	}
	c.Kind = BuilderBuildKit
	return c
}

func (b *buildkit) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		_ = b.client.Close()
		b.client = nil
	}
}

// Builder says which builder the next build runs on, for /readyz:
// "buildkit" or "classic", with a sentence saying why.
func (w *Worker) Builder(ctx context.Context) (kind, description string) {
	c, _ := w.bk.choose(ctx)
	return c.Kind, c.String()
}

// dirSource serves the session's local directories by name: the build
// context, the Dockerfile's directory, and the files appstored fetched
// for ADD <url>. Names are added while the build runs.
type dirSource struct {
	mu   sync.Mutex
	dirs map[string]fsutil.FS
}

func (d *dirSource) LookupDir(name string) (fsutil.FS, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fs, ok := d.dirs[name]
	return fs, ok
}

func (d *dirSource) has(name string) bool {
	_, ok := d.LookupDir(name)
	return ok
}

// add serves dir under name, every file owned by uid:gid (the engine
// must not see this host's owners).
func (d *dirSource) add(name, dir string, uid, gid uint32, exclude []string) error {
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		return err
	}
	fs, err = fsutil.NewFilterFS(fs, &fsutil.FilterOpt{
		ExcludePatterns: exclude,
		Map: func(_ string, st *fstypes.Stat) fsutil.MapResult {
			st.Uid, st.Gid = uid, gid
			return fsutil.MapResultKeep
		},
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dirs == nil {
		d.dirs = map[string]fsutil.FS{}
	}
	d.dirs[name] = fs
	return nil
}

// Names of the session directories the Dockerfile frontend reads.
const (
	localContext    = "context"
	localDockerfile = "dockerfile"
)

// buildkitInput is what a BuildKit build reads from the checkout.
type buildkitInput struct {
	contextDir    string // resolved, inside the checkout
	dockerfileDir string
	dockerfile    string // base name inside dockerfileDir
	data          []byte // the Dockerfile
	ignoreFile    string // for the log: which ignore file applies
	patterns      int
	gitExcluded   bool
}

// prepareBuildKit resolves the context and the Dockerfile of a checkout
// as archiveContext does for the classic builder: both must stay inside
// the repository. BuildKit reads .dockerignore and <Dockerfile>.dockerignore
// itself; appstored only keeps .git out unless they re-include it.
func prepareBuildKit(root, contextPath, dockerfilePath string) (*buildkitInput, error) {
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
	in := &buildkitInput{contextDir: ctxDir, dockerfileDir: filepath.Dir(dfReal), dockerfile: filepath.Base(dfReal)}
	if in.data, err = readBounded(dfReal, maxDockerfileBytes); err != nil {
		return nil, &contextError{msg: fmt.Sprintf("Dockerfile %q: %v", dockerfilePath, err)}
	}
	var patterns []string
	for _, candidate := range []string{dfReal + ".dockerignore", filepath.Join(ctxDir, ".dockerignore")} {
		p, found, err := readIgnoreFile(rootReal, candidate)
		if err != nil {
			return nil, err
		}
		if found {
			patterns = p
			rel, _ := filepath.Rel(rootReal, candidate)
			in.ignoreFile = filepath.ToSlash(rel)
			break
		}
	}
	in.patterns = len(patterns)
	pm, err := patternmatcher.New(append([]string{".git"}, patterns...))
	if err != nil {
		return nil, &contextError{msg: fmt.Sprintf("%s has a bad pattern: %v", in.ignoreFile, err)}
	}
	in.gitExcluded, _ = pm.MatchesOrParentMatches(".git")
	return in, nil
}

// buildKitBuild builds the checkout at dir with the engine's BuildKit and
// the in-process Dockerfile frontend, exporting the image into the
// engine's store as tag.
func (w *Worker) buildKitBuild(ctx context.Context, c *bkclient.Client, work *store.BuildWork, dir, tag string, labels map[string]string, logs *logSink, secrets map[string][]byte) (store.BuildOutcome, error) {
	in, err := prepareBuildKit(dir, work.ContextPath, work.DockerfilePath)
	if err != nil {
		return store.BuildOutcome{}, err
	}
	if in.ignoreFile != "" {
		logs.addf("Applying %s (%d patterns)", in.ignoreFile, in.patterns)
	}
	if ref, _, _, ok := parser.DetectSyntax(in.data); ok {
		logs.addf("%s asks for the frontend %s (# syntax=): appstored's built-in Dockerfile frontend (BuildKit %s) serves it; no frontend image is pulled", work.DockerfilePath, ref, bkFrontendVersion)
	}

	dirs := &dirSource{}
	var ctxExclude []string
	if in.gitExcluded {
		ctxExclude = []string{".git"}
	}
	if err := dirs.add(localContext, in.contextDir, 0, 0, ctxExclude); err != nil {
		return store.BuildOutcome{}, fmt.Errorf("build context: %w", err)
	}
	if err := dirs.add(localDockerfile, in.dockerfileDir, 0, 0, nil); err != nil {
		return store.BuildOutcome{}, fmt.Errorf("Dockerfile directory: %w", err)
	}
	fetchDir, err := os.MkdirTemp(w.opts.SourceDir, ".fetch-")
	if err != nil {
		return store.BuildOutcome{}, fmt.Errorf("fetch directory: %w", err)
	}
	defer os.RemoveAll(fetchDir)

	g := &guard{
		policy:      w.fetch,
		allowRemote: w.opts.AllowRemoteAdd,
		literal:     literalURLs(in.data),
		dockerfile:  work.DockerfilePath,
		dfName:      in.dockerfile,
		cacheNS:     fmt.Sprintf("appstore/%s/%d/", w.catalog, work.RepositoryID),
		dirs:        dirs,
		fetchDir:    fetchDir,
		maxBytes:    w.opts.MaxRemoteBytes,
		engine:      w.engine,
		say:         logs.addf,
		slug:        work.Repository,
		secrets:     secrets,
	}

	attrs := map[string]string{
		"filename": in.dockerfile,
		// A # syntax= line is served by this frontend, not forwarded to
		// a frontend image (which the engine would pull and run).
		"cmdline": "",
		// Local images first, as `docker build` does; a registry only
		// for what the engine lacks.
		"image-resolve-mode": "local",
	}
	for k, v := range labels {
		attrs["label:"+k] = v
	}
	if work.NoCache {
		attrs["no-cache"] = ""
	}
	if w.opts.Network == "none" {
		attrs["force-network-mode"] = "none"
	}
	s, err := session.NewSession(ctx, "")
	if err != nil {
		return store.BuildOutcome{}, fmt.Errorf("BuildKit session: %w", err)
	}
	s.Allow(filesync.NewFSSyncProvider(dirs))
	// The app's secrets, for RUN --mount=type=secret,id=NAME: BuildKit
	// mounts them in that step only; they are in no layer and no cache key.
	s.Allow(secretsprovider.FromMap(secrets))
	g.sessionID = s.ID()

	status := make(chan *bkclient.SolveStatus)
	printer := newPlainProgress(logs.add)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for st := range status {
			printer.update(st)
		}
		printer.flush()
	}()
	w.engineUse.RLock()
	resp, err := c.Build(ctx, bkclient.SolveOpt{
		Exports:       []bkclient.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": tag}}},
		FrontendAttrs: attrs,
		SharedSession: s,
		Session:       []session.Attachable{},
	}, "appstore", g.buildFunc(dockerfile.Build), status)
	w.engineUse.RUnlock()
	<-printed
	if err != nil {
		if ctx.Err() != nil {
			return store.BuildOutcome{}, ctx.Err()
		}
		return store.BuildOutcome{}, w.describeBuildKitError(work, err, g, printer)
	}
	id := resp.ExporterResponse["containerimage.digest"]
	inspect, err := w.engine.ImageInspect(ctx, tag)
	if err != nil {
		return store.BuildOutcome{}, engineError(w.engine, fmt.Errorf("BuildKit reported success but %s cannot be inspected: %w", tag, err))
	}
	if id != "" && id != inspect.ID {
		return store.BuildOutcome{}, fmt.Errorf("BuildKit built %s but %s names %s: another build replaced the tag meanwhile", textutil.ShortSHA(id), tag, textutil.ShortSHA(inspect.ID))
	}
	return store.BuildOutcome{Status: catalog.BuildSucceeded, ImageID: inspect.ID, ImageTag: tag}, nil
}

// bkFrontendVersion is the BuildKit release whose Dockerfile frontend is
// linked into appstored.
const bkFrontendVersion = "v0.34.2"

// describeBuildKitError words a failed BuildKit build for people: a
// refusal of the guard as it is, a Dockerfile syntax error with its line,
// a failing step with its exit code and last lines.
func (w *Worker) describeBuildKitError(work *store.BuildWork, err error, g *guard, p *plainProgress) error {
	if g.refusal != nil {
		return g.refusal
	}
	msg := bkErrorMessage(err)
	if m := bkParseErrorRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s has a syntax error: line %s: %s", work.DockerfilePath, m[1], m[2])
	}
	if isConnectionError(err) {
		w.bk.forget()
		return &transientError{msg: fmt.Sprintf("the Docker engine at %s broke off the build: %s", w.engine.DaemonHost(), textutil.FirstLine(msg))}
	}
	if p.failed != nil {
		line := g.line(p.failedAt.String())
		if line == 0 {
			line = errorLine(err, g.dfName)
		}
		where := ""
		if line > 0 {
			where = fmt.Sprintf(" (%s line %d)", work.DockerfilePath, line)
		}
		return errors.New(p.failure(where))
	}
	if line := errorLine(err, g.dfName); line > 0 {
		return fmt.Errorf("%s line %d: %s", work.DockerfilePath, line, msg)
	}
	return errors.New(msg)
}

// bkErrorMessage strips the gRPC and wrapping prefixes from a BuildKit
// error, leaving what went wrong.
func bkErrorMessage(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"failed to solve: ", "rpc error: code = Unknown desc = ", "failed to run Build function: "} {
		for {
			i := strings.Index(msg, prefix)
			if i < 0 {
				break
			}
			msg = msg[i+len(prefix):]
		}
	}
	return strings.TrimSpace(msg)
}

var bkParseErrorRE = regexp.MustCompile(`(?i)dockerfile parse error on line (\d+): (.*)$`)

// errorLine is the Dockerfile line a BuildKit error points at, or 0.
func errorLine(err error, dfName string) int {
	for _, s := range errdefs.Sources(err) {
		if s.Info != nil && s.Info.Filename != dfName && filepath.Base(s.Info.Filename) != dfName {
			continue
		}
		for _, r := range s.Ranges {
			if r.Start != nil && r.Start.Line > 0 {
				return int(r.Start.Line)
			}
		}
	}
	return 0
}

// isConnectionError reports a broken connection to the engine rather
// than a failed build.
func isConnectionError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "code = Unavailable") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "transport is closing") ||
		strings.Contains(msg, "error reading from server: EOF")
}
