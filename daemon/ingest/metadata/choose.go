package metadata

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Which Dockerfile builds the app, when a repository has several, and with
// which context. The first rule that applies wins:
//
//  1. the repository's dockerfile setting (--dockerfile at registration);
//  2. tags.yaml's dockerfile;
//  3. the application service of a compose file: one that builds from the
//     repository and publishes or exposes a port, and is not a proxy or a
//     datastore (by its image, its Dockerfile's base image or its name);
//     among several, the one no other application service depends on,
//     then one that publishes a port, then by name (web, app, frontend…);
//  4. the Dockerfile at the root, unless it is a leftover template (its
//     COPY/ADD sources are not in the repository);
//  5. a Dockerfile whose context holds an application manifest
//     (package.json, requirements.txt, go.mod…);
//  6. any other Dockerfile, shallowest first.
//
// A Dockerfile in a sub-folder whose sources exist only relative to the
// repository root builds with the root as context (docker build -f
// deploy/Dockerfile .). Compose services build with the context compose
// gives them.

// proxyImages and datastoreImages name the base images (runtime: values)
// of services that are not the application a person opens.
var proxyImages = map[string]bool{
	"nginx": true, "nginx-unprivileged": true, "openresty": true, "caddy": true, "traefik": true,
	"haproxy": true, "envoy": true, "varnish": true, "nginx-proxy": true, "httpd": true, "apache": true,
}

var datastoreImages = map[string]bool{
	"postgres": true, "postgresql": true, "postgis": true, "mysql": true, "mariadb": true, "redis": true,
	"valkey": true, "keydb": true, "mongo": true, "mongodb": true, "memcached": true, "elasticsearch": true,
	"opensearch": true, "rabbitmq": true, "kafka": true, "zookeeper": true, "minio": true, "clickhouse": true,
	"clickhouse-server": true, "cassandra": true, "neo4j": true, "influxdb": true, "etcd": true, "couchdb": true,
	"qdrant": true, "weaviate": true, "chroma": true, "milvus": true, "pgvector": true, "timescaledb": true,
	"adminer": true, "pgadmin4": true, "phpmyadmin": true, "mailhog": true, "mailpit": true, "localstack": true,
	"nats": true, "sqlserver": true, "mssql": true, "oracle": true,
}

// testerImages are the base images of end-to-end test runners: a compose
// service built on one drives the app, it is not the app.
var testerImages = map[string]bool{
	"playwright": true, "cypress": true, "included": true, "browsers": true, "standalone-chrome": true,
	"standalone-firefox": true, "puppeteer": true, "k6": true, "locust": true, "newman": true,
}

// testerServiceNames are compose services named for the tests they run.
var testerServiceNames = map[string]bool{
	"playwright": true, "cypress": true, "e2e": true, "tests": true, "test": true, "integration-tests": true,
	"e2e-tests": true, "selenium": true, "k6": true, "locust": true,
}

// proxyServiceNames and datastoreServiceNames classify compose services
// that name their role.
var proxyServiceNames = map[string]bool{
	"nginx": true, "proxy": true, "reverse-proxy": true, "reverseproxy": true, "traefik": true,
	"caddy": true, "haproxy": true, "lb": true, "loadbalancer": true, "gateway": true,
}

var datastoreServiceNames = map[string]bool{
	"db": true, "database": true, "postgres": true, "postgresql": true, "mysql": true, "mariadb": true,
	"redis": true, "mongo": true, "mongodb": true, "cache": true, "memcached": true, "elasticsearch": true,
	"rabbitmq": true, "kafka": true, "minio": true, "broker": true, "queue": true,
}

// appFolderRank orders folders by how likely they hold the app a person
// opens.
var appFolderRank = []string{"web", "app", "frontend", "client", "ui", "site", "www", "webapp", "server", "backend", "api", "src", "service"}

func folderRank(dir string) int {
	b := strings.ToLower(path.Base(dir))
	if i := slices.Index(appFolderRank, b); i >= 0 {
		return i
	}
	return len(appFolderRank)
}

// sampleDirs hold Dockerfiles that are not the app's.
var sampleDirs = map[string]bool{
	"example": true, "examples": true, "sample": true, "samples": true, "test": true, "tests": true,
	"testdata": true, "fixtures": true, "e2e": true, "docs": true, "doc": true, "benchmark": true,
	"benchmarks": true, "demo-data": true, "devcontainer": true,
}

func inSampleDir(p string) string {
	for _, part := range strings.Split(path.Dir(p), "/") {
		if sampleDirs[strings.ToLower(part)] {
			return part
		}
	}
	return ""
}

// appManifestNames are files that say a folder holds an application.
var appManifestNames = []string{
	"package.json", "requirements.txt", "pyproject.toml", "Pipfile", "go.mod", "Cargo.toml", "Gemfile",
	"composer.json", "pom.xml", "build.gradle", "build.gradle.kts", "mix.exs", "deno.json", "app.py",
	"main.py", "manage.py", "index.html",
}

// dfCandidate is a Dockerfile of the repository, parsed on demand.
type dfCandidate struct {
	path     string // as found or declared
	real     string // after symlinks
	facts    *dockerfileFacts
	warnings []string
	err      error
	// context is where it builds; missing are its sources that context
	// lacks (a leftover template when not empty).
	context string
	missing []sourceRef
	// notFile says the path is a directory or another non-regular file.
	notFile bool
}

// buildChoice is the Dockerfile chosen, with what the rest of the
// extraction needs from it.
type buildChoice struct {
	catalog.BuildChoice
	cand *dfCandidate
	// composePorts are the ports of the compose service chosen, and
	// composeTarget the stage it builds ("" for the final one).
	composePorts  []int
	composeTarget string
	composeArgs   map[string]string
	// appDirs are the contexts of compose application services, where
	// manifests are read for tags.
	appDirs []string
	// composeEnv are the environment: keys of the compose service chosen.
	composeEnv []string
}

// candidate reads and parses the Dockerfile at p once.
func (x *extraction) candidate(p string) *dfCandidate {
	if c, ok := x.cands[p]; ok {
		return c
	}
	c := &dfCandidate{path: p}
	x.cands[p] = c
	real, fi, err := x.repo.stat(p)
	switch {
	case err != nil:
		c.err = err
		return c
	case !fi.Mode().IsRegular():
		c.err = fileError(p, 0, "is not a regular file")
		c.notFile = true
		return c
	}
	c.real = real
	data, _, err := x.repo.readFile(real, x.lim.Dockerfile)
	if err != nil {
		c.err = err
		return c
	}
	c.facts, c.warnings, c.err = analyzeDockerfile(real, data)
	if c.facts != nil {
		c.context, c.missing = x.contextOf(p, c.facts)
	}
	return c
}

// contextOf decides where a Dockerfile builds: its folder, or the root
// when its sources are found only there. missing are the sources the
// chosen context lacks.
func (x *extraction) contextOf(p string, f *dockerfileFacts) (string, []sourceRef) {
	dir := path.Dir(p)
	missDir := x.missingSources(dir, f.Sources)
	if dir != "." && len(f.Sources) > 0 && len(missDir) == 0 && x.onlyBuildFiles(dir) {
		// "COPY . ." from a folder that holds nothing but Dockerfiles
		// copies the repository, not the folder.
		return ".", nil
	}
	if len(missDir) == 0 || dir == "." {
		return dir, missDir
	}
	missRoot := x.missingSources(".", f.Sources)
	if len(missRoot) == 0 {
		return ".", nil
	}
	return dir, missDir
}

// onlyBuildFiles says a folder holds only Dockerfiles, compose files,
// ignore files and notes: nothing an image could be built from.
func (x *extraction) onlyBuildFiles(dir string) bool {
	for _, n := range x.repo.listDir(dir, 64) {
		l := strings.ToLower(n)
		if isDockerfileName(n) || isComposeFile(n) || strings.HasSuffix(l, ".dockerignore") || l == ".dockerignore" ||
			strings.HasPrefix(l, "readme") || l == ".env" || strings.HasPrefix(l, ".env.") {
			continue
		}
		return false
	}
	return true
}

// missingSources returns the sources that do not exist under dir.
func (x *extraction) missingSources(dir string, srcs []sourceRef) []sourceRef {
	var out []sourceRef
	for _, s := range srcs {
		if !x.repo.globExists(path.Join(dir, s.Path)) {
			out = append(out, s)
		}
	}
	return out
}

// roleOf says whether a Dockerfile (or a compose service) is a proxy or a
// datastore rather than an application, and why: "a proxy (nginx)".
func roleOf(c *dfCandidate, image, service string) (role, why string) {
	if rt := runtimeOf(image); rt != "" {
		switch {
		case datastoreImages[rt]:
			return "datastore", "a datastore (" + rt + ")"
		case proxyImages[rt]:
			return "proxy", "a proxy (" + rt + ")"
		}
	}
	if c != nil && c.facts != nil {
		rt := runtimeOf(c.facts.Info.BaseImage)
		switch {
		case testerImages[rt]:
			return "tester", "an end-to-end test runner (" + rt + ")"
		case datastoreImages[rt]:
			return "datastore", "a datastore (" + rt + ")"
		case proxyImages[rt] && servesConfigOnly(c.facts):
			return "proxy", "a proxy (" + rt + ")"
		case proxyImages[rt]:
			// nginx serving files the Dockerfile copies or builds: a
			// static site, an application.
			return "", ""
		}
	}
	n := strings.ToLower(service)
	switch {
	case testerServiceNames[n]:
		return "tester", "an end-to-end test runner"
	case datastoreServiceNames[n]:
		return "datastore", "a datastore"
	case proxyServiceNames[n] && (c == nil || c.facts == nil):
		return "proxy", "a proxy"
	}
	return "", ""
}

// servesConfigOnly says a proxy image's Dockerfile copies only its
// configuration (to /etc, or *.conf files), not content it serves.
func servesConfigOnly(f *dockerfileFacts) bool {
	if f.CopiesFromStage {
		return false
	}
	for _, s := range f.Sources {
		if s.Instr == "RUN --mount" {
			continue
		}
		dest := s.Dest
		base := strings.ToLower(path.Base(s.Path))
		if strings.HasPrefix(dest, "/etc/") || strings.HasSuffix(base, ".conf") || strings.HasSuffix(base, ".template") ||
			base == "conf" || base == "conf.d" || base == "nginx" || strings.HasSuffix(base, ".caddyfile") || base == "caddyfile" {
			continue
		}
		return false
	}
	return true
}

// allDockerfiles lists every Dockerfile of the repository: those at the
// root first, then those the walk found.
func (x *extraction) allDockerfiles(w walkResult) []string {
	var out []string
	for _, n := range dockerfileNames {
		for _, rn := range x.repo.rootNames {
			if rn == n && !slices.Contains(out, rn) {
				out = append(out, rn)
			}
		}
	}
	var variants []string
	for _, rn := range x.repo.rootNames {
		if isDockerfileName(rn) && !slices.Contains(out, rn) {
			variants = append(variants, rn)
		}
	}
	sort.Strings(variants)
	out = append(out, variants...)
	return append(out, w.dockerfiles...)
}

// chooseDockerfile applies the rules above.
func (x *extraction) chooseDockerfile(declared, declaredBy, declaredSource, ctxDeclared, ctxBy string, w walkResult) (*buildChoice, error) {
	all := x.allDockerfiles(w)
	var ch *buildChoice
	var err error
	if declared != "" {
		ch, err = x.declaredChoice(declared, declaredBy, declaredSource)
	} else {
		ch, err = x.discoveredChoice(all, w)
	}
	if err != nil || ch == nil {
		return nil, err
	}
	if ctxDeclared != "" {
		c, err := x.repo.resolveContext(ctxDeclared, ctxBy, ch.Dockerfile)
		if err != nil {
			return nil, err
		}
		ch.Context = c
		ch.cand.missing = x.missingSources(c, ch.cand.facts.Sources)
		ch.Reason = strings.TrimSuffix(ch.Reason, rootContextNote) + "; context declared by " + ctxBy
	}
	for _, m := range ch.cand.missing {
		x.warn("%s: %s %s: not found in the build context %s; the build will fail unless the file is added (or the context changed)",
			fmt.Sprintf("%s:%d", ch.Dockerfile, m.Line), m.Instr, textutil.Truncate(m.Path, 80), displayDir(ch.Context))
		break
	}
	ch.Others = x.otherDockerfiles(all, ch)
	return ch, nil
}

func displayDir(p string) string {
	if p == "." || p == "" {
		return "(the repository root)"
	}
	return p + "/"
}

// declaredChoice checks a Dockerfile the user or tags.yaml declared.
func (x *extraction) declaredChoice(declared, declaredBy, source string) (*buildChoice, error) {
	what := "the Dockerfile declared by " + declaredBy
	p, err := cleanRel(what, declared)
	if err != nil {
		return nil, err
	}
	if p == "." {
		return nil, &Error{Msg: what + " is empty or \".\"; give the path of the file, e.g. docker/Dockerfile"}
	}
	_, fi, err := x.repo.stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fileError(p, 0, "%s does not exist in the repository; fix the path or remove the declaration", what)
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, fileError(p, 0, "%s is a directory; declare the file itself, e.g. %s", what, path.Join(p, "Dockerfile"))
	case !fi.Mode().IsRegular():
		return nil, fileError(p, 0, "%s is not a regular file", what)
	}
	c := x.candidate(p)
	if c.err != nil {
		return nil, c.err
	}
	ch := &buildChoice{cand: c}
	ch.Dockerfile, ch.Context, ch.Source = c.real, c.context, source
	ch.Reason = "declared by " + declaredBy
	if c.context != path.Dir(p) {
		ch.Reason += rootContextNote
	}
	return ch, nil
}

const rootContextNote = "; its COPY sources exist only relative to the repository root, so it builds with the root as context"

// discoveredChoice applies rules 3 to 6.
func (x *extraction) discoveredChoice(all []string, w walkResult) (*buildChoice, error) {
	devCompose := x.composeChoice(w)
	if devCompose != nil && !isDevDockerfile(devCompose.Dockerfile) {
		return devCompose, nil
	}
	// 4. The root Dockerfile.
	for _, p := range all {
		if strings.Contains(p, "/") || isDockerfileVariant(p) {
			continue
		}
		c := x.candidate(p)
		switch {
		case c.notFile || errors.Is(c.err, fs.ErrNotExist):
			// A directory or a dangling link named Dockerfile.
			continue
		case c.err != nil:
			// The root Dockerfile is the app's unless shown otherwise:
			// one that cannot be read or parsed must be fixed.
			return nil, c.err
		case len(c.missing) > 0:
			continue // a leftover template: rule 5 looks further
		}
		ch := &buildChoice{cand: c}
		ch.Dockerfile, ch.Context, ch.Source = c.real, c.context, catalog.ChoiceRoot
		ch.Reason = "the Dockerfile at the repository root"
		if devCompose != nil {
			x.composeRoles[devCompose.cand.path] = fmt.Sprintf("a development Dockerfile (service %s of %s)", devCompose.ComposeService, devCompose.ComposeFile)
		}
		return ch, nil
	}
	if devCompose != nil {
		return devCompose, nil
	}
	// 5 and 6: rank the rest.
	type ranked struct {
		c             *dfCandidate
		tier          int
		variant       bool
		depth, folder int
		manifest      string
	}
	var list []ranked
	var firstErr error
	for _, p := range all {
		c := x.candidate(p)
		if c.notFile || errors.Is(c.err, fs.ErrNotExist) {
			continue
		}
		if c.err != nil {
			if !IsPermanent(c.err) {
				return nil, c.err
			}
			if firstErr == nil {
				firstErr = c.err
			}
			continue
		}
		r := ranked{c: c, variant: isDockerfileVariant(p), depth: strings.Count(p, "/"), folder: folderRank(path.Dir(p))}
		role, _ := roleOf(c, "", "")
		switch {
		case len(c.missing) > 0 || role != "" || inSampleDir(p) != "":
			r.tier = 3
		default:
			r.manifest = x.manifestIn(c.context)
			if r.manifest == "" && c.context == "." {
				r.manifest = x.manifestIn(path.Dir(p))
			}
			if r.manifest != "" {
				r.tier = 1
			} else {
				r.tier = 2
			}
		}
		list = append(list, r)
	}
	if len(list) == 0 {
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, nil
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		switch {
		case a.tier != b.tier:
			return a.tier < b.tier
		case a.variant != b.variant:
			return !a.variant
		case a.depth != b.depth:
			return a.depth < b.depth
		case a.folder != b.folder:
			return a.folder < b.folder
		}
		return a.c.path < b.c.path
	})
	best := list[0]
	c := best.c
	ch := &buildChoice{cand: c}
	ch.Dockerfile, ch.Context = c.real, c.context
	switch best.tier {
	case 1:
		ch.Source = catalog.ChoiceManifest
		ch.Reason = fmt.Sprintf("its context %s holds %s", displayDir(c.context), best.manifest)
	default:
		ch.Source = catalog.ChoiceFound
		ch.Reason = "the shallowest Dockerfile found"
		if len(list) == 1 {
			ch.Reason = "the only Dockerfile found"
		}
	}
	if c.context != path.Dir(c.path) {
		ch.Reason += rootContextNote
	}
	if !strings.Contains(c.path, "/") && !isDockerfileVariant(c.path) {
		// A root Dockerfile that looked like a template but is all
		// there is.
		ch.Source = catalog.ChoiceRoot
		ch.Reason = "the Dockerfile at the repository root"
	}
	return ch, nil
}

// manifestIn returns the first application manifest in dir, or "".
func (x *extraction) manifestIn(dir string) string {
	for _, n := range appManifestNames {
		p := path.Join(dir, n)
		if _, fi, err := x.repo.stat(p); err == nil && fi.Mode().IsRegular() {
			return n
		}
	}
	return ""
}

// composeApp is a compose service that could be the app.
type composeApp struct {
	svc   composeService
	cand  *dfCandidate
	ports []int
}

// composeChoice applies rule 3: the first compose file with an
// application service decides.
func (x *extraction) composeChoice(w walkResult) *buildChoice {
	var files []string
	for _, n := range x.repo.rootNames {
		if isComposeFile(n) {
			files = append(files, n)
		}
	}
	files = append(files, w.composeFiles...)
	sortComposeFiles(files)
	// A service that builds a development Dockerfile (Dockerfile.dev, with
	// the sources mounted) is taken only when no compose file has a
	// production one.
	var dev *buildChoice
	// merged are the override files already read with their base file.
	merged := map[string]bool{}
	for i, f := range files {
		if i >= 8 {
			break
		}
		if merged[f] {
			continue
		}
		data, err := x.optional(f, x.lim.Manifest)
		if err != nil || data == nil {
			continue
		}
		text, err := decodeText(data)
		if err != nil {
			x.warn("%s: %v; skipped", f, err)
			continue
		}
		services, warns := parseCompose(f, text)
		x.warnings = append(x.warnings, warns...)
		// Files it includes are one project with it: their services are
		// read together, so that depends_on across them counts.
		for _, inc := range composeIncludes(f, text) {
			data, err := x.optional(inc, x.lim.Manifest)
			if err != nil || data == nil {
				continue
			}
			if t, err := decodeText(data); err == nil {
				s, warns := parseCompose(inc, t)
				x.warnings = append(x.warnings, warns...)
				services = mergeCompose(services, s)
			}
		}
		if over := x.composeOverride(f); over != "" {
			// Compose reads compose.override.yaml over compose.yaml: the
			// ports a development setup publishes are often only there.
			if data, err := x.optional(over, x.lim.Manifest); err == nil && data != nil {
				if text, err := decodeText(data); err == nil {
					o, warns := parseCompose(over, text)
					x.warnings = append(x.warnings, warns...)
					services = mergeCompose(services, o)
					merged[over] = true
				}
			}
		}
		ch := x.pickComposeService(f, services)
		switch {
		case ch == nil:
		case !isDevDockerfile(ch.Dockerfile):
			if dev != nil {
				x.composeRoles[dev.cand.path] = fmt.Sprintf("a development Dockerfile (service %s of %s); %s builds for production", dev.ComposeService, dev.ComposeFile, ch.ComposeFile)
			}
			return ch
		case dev == nil:
			dev = ch
		}
	}
	return dev
}

// composeOverride names the override file Compose reads with a standard
// compose file of the same folder (compose.override.yaml beside
// compose.yaml), "" when there is none.
func (x *extraction) composeOverride(f string) string {
	base := strings.ToLower(path.Base(f))
	if !slices.Contains(composeNames, base) {
		return ""
	}
	stem, _, _ := strings.Cut(base, ".")
	dir := path.Dir(f)
	for _, n := range x.repo.listDir(dir, 2000) {
		l := strings.ToLower(n)
		if l == stem+".override.yaml" || l == stem+".override.yml" {
			return path.Join(dir, n)
		}
	}
	return ""
}

// mergeCompose applies an override file's services to a base file's, as
// Compose does: a service of both takes the override's build and image
// and the union of ports, expose and depends_on; a service only in the
// override is added.
func mergeCompose(base, over []composeService) []composeService {
	out := slices.Clone(base)
	for _, o := range over {
		i := slices.IndexFunc(out, func(b composeService) bool { return b.Name == o.Name })
		if i < 0 {
			out = append(out, o)
			continue
		}
		b := &out[i]
		if o.Build {
			b.Build, b.Context, b.Dockerfile, b.Target, b.Args = true, o.Context, o.Dockerfile, o.Target, o.Args
		}
		if o.Image != "" {
			b.Image = o.Image
		}
		b.Ports = appendNew(b.Ports, o.Ports...)
		b.Expose = appendNew(b.Expose, o.Expose...)
		b.DependsOn = appendNew(b.DependsOn, o.DependsOn...)
	}
	return out
}

func appendNew[T comparable](s []T, vs ...T) []T {
	for _, v := range vs {
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

// isDevDockerfile says a Dockerfile's name marks it as a development one:
// Dockerfile.dev, dev.Dockerfile, Dockerfile.development, Dockerfile.local.
func isDevDockerfile(p string) bool {
	l := strings.ToLower(path.Base(p))
	for _, w := range []string{"dev", "develop", "development", "local", "debug"} {
		if l == "dockerfile."+w || l == w+".dockerfile" || l == "containerfile."+w || strings.HasPrefix(l, "dockerfile."+w+".") {
			return true
		}
	}
	return false
}

func (x *extraction) pickComposeService(file string, services []composeService) *buildChoice {
	var apps []composeApp
	var notes []string
	for _, s := range services {
		if !s.Build {
			if _, why := roleOf(nil, s.Image, s.Name); why != "" {
				notes = append(notes, s.Name+" is "+why)
			}
			continue
		}
		c := x.candidate(s.Dockerfile)
		if c.err != nil {
			continue
		}
		if !x.repo.isDir(s.Context) {
			continue
		}
		if _, why := roleOf(c, s.Image, s.Name); why != "" {
			notes = append(notes, s.Name+" is "+why)
			x.composeRoles[s.Dockerfile] = fmt.Sprintf("service %s of %s is %s", s.Name, file, why)
			continue
		}
		ports := append(append([]int{}, s.Ports...), s.Expose...)
		if len(ports) == 0 && len(c.facts.Info.Expose) == 0 {
			x.composeRoles[s.Dockerfile] = fmt.Sprintf("service %s of %s publishes no port", s.Name, file)
			continue
		}
		apps = append(apps, composeApp{svc: s, cand: c, ports: ports})
	}
	if len(apps) == 0 {
		return nil
	}
	dependedOn := map[string]bool{}
	for _, a := range apps {
		for _, d := range a.svc.DependsOn {
			dependedOn[d] = true
		}
	}
	sort.SliceStable(apps, func(i, j int) bool {
		a, b := apps[i], apps[j]
		if dependedOn[a.svc.Name] != dependedOn[b.svc.Name] {
			return !dependedOn[a.svc.Name]
		}
		if (len(a.svc.Ports) > 0) != (len(b.svc.Ports) > 0) {
			return len(a.svc.Ports) > 0
		}
		ra, rb := folderRank(a.svc.Name), folderRank(b.svc.Name)
		if ra != rb {
			return ra < rb
		}
		return false
	})
	best := apps[0]
	ch := &buildChoice{cand: best.cand, composePorts: best.ports, composeTarget: best.svc.Target, composeArgs: best.svc.Args, composeEnv: best.svc.Environment}
	ch.Dockerfile, ch.Context, ch.Source = best.cand.real, best.svc.Context, catalog.ChoiceCompose
	ch.ComposeFile, ch.ComposeService = file, best.svc.Name
	ch.cand.missing = x.missingSources(ch.Context, best.cand.facts.Sources)
	ch.Reason = fmt.Sprintf("service %s of %s builds it", best.svc.Name, file)
	if len(notes) > 0 {
		ch.Reason += " (" + strings.Join(notes, ", ") + ")"
	}
	for _, a := range apps[1:] {
		x.composeRoles[a.svc.Dockerfile] = fmt.Sprintf("service %s of %s is another part of the app (%s is built)", a.svc.Name, file, best.svc.Name)
	}
	for _, a := range apps {
		ch.appDirs = append(ch.appDirs, a.svc.Context)
		ch.appDirs = append(ch.appDirs, x.manifestSourceDirs(a.cand, a.svc.Context)...)
	}
	return ch
}

// manifestSourceDirs are the folders of its context from which a
// Dockerfile copies a package manifest (COPY app/package*.json ./) or
// that it copies whole when they hold one (COPY ./server/ /app/): where the
// app's dependencies are declared when they are not at the context's top.
func (x *extraction) manifestSourceDirs(c *dfCandidate, context string) []string {
	if c == nil || c.facts == nil {
		return nil
	}
	var out []string
	for _, s := range c.facts.Sources {
		p := path.Clean(s.Path)
		if p != "." && !strings.HasPrefix(p, "..") && !strings.ContainsAny(p, "*?[$") && x.repo.isDir(path.Join(context, p)) {
			if x.manifestIn(path.Join(context, p)) != "" {
				out = appendNew(out, path.Join(context, p))
			}
			continue
		}
		dir, base := path.Split(p)
		dir = path.Clean(dir)
		if dir == "." || strings.HasPrefix(dir, "..") || strings.ContainsAny(dir, "*?[$") {
			continue
		}
		for _, m := range appManifestNames {
			stem := strings.TrimSuffix(m, path.Ext(m))
			if base == m || strings.HasPrefix(base, stem) && strings.ContainsAny(base, "*?[") {
				out = appendNew(out, path.Join(context, dir))
				break
			}
		}
	}
	return out
}

// otherDockerfiles says why each Dockerfile not chosen was not.
func (x *extraction) otherDockerfiles(all []string, ch *buildChoice) []catalog.OtherDockerfile {
	var out []catalog.OtherDockerfile
	for _, p := range all {
		if p == ch.cand.path || p == ch.Dockerfile {
			continue
		}
		if len(out) >= 32 {
			break
		}
		o := catalog.OtherDockerfile{Path: p}
		c := x.candidate(p)
		role, roleWhy := roleOf(c, "", "")
		switch {
		case x.composeRoles[p] != "":
			o.Why = x.composeRoles[p]
		case c.notFile:
			continue
		case c.err != nil && errors.Is(c.err, fs.ErrNotExist):
			o.Why = "a broken symbolic link"
		case c.err != nil:
			o.Why = "cannot be read: " + textutil.Truncate(c.err.Error(), 160)
		case len(c.missing) > 0:
			m := c.missing[0]
			o.Why = fmt.Sprintf("a leftover template: %s %s is not in the repository", m.Instr, textutil.Truncate(m.Path, 60))
		case role != "":
			o.Why = roleWhy
		case inSampleDir(p) != "":
			o.Why = "in " + inSampleDir(p) + "/, an example rather than the app"
		case isDockerfileVariant(p):
			o.Why = "a variant (" + path.Base(p) + "); declare it with dockerfile: in tags.yaml to build it"
		default:
			o.Why = fmt.Sprintf("%s is preferred (%s)", ch.Dockerfile, ch.Source)
		}
		out = append(out, o)
	}
	return out
}
