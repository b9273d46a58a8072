package builder_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dockerbuild "github.com/docker/docker/api/types/build"
	dockerclient "github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// bbRepo registers a repository whose Dockerfile (with BASE standing for
// the local busybox base image, so that RUN steps have a shell) and files
// are given, and returns its slug.
func (e *env) bbRepo(name, dockerfile string, files map[string]string) (string, int64, *gitserver.Repo) {
	e.t.Helper()
	all := map[string]string{"Dockerfile": strings.ReplaceAll(dockerfile, "BASE", testenv.BusyboxImage(e.t))}
	for k, v := range files {
		all[k] = strings.ReplaceAll(v, "BASE", testenv.BusyboxImage(e.t))
	}
	return e.repo(name, e.files(all))
}

// buildFails queues and runs a build of slug and requires it to fail.
func (e *env) buildFails(slug string) *catalog.Build {
	e.t.Helper()
	id := e.queueBuild(slug, false)
	if err := e.handle(id); err != nil {
		e.t.Fatalf("a failing build is the build's failure, not the job's: %v", err)
	}
	b := e.get(id)
	if b.Status != catalog.BuildFailed {
		e.t.Fatalf("build %d: status %s, want failed\nlog:\n%s", id, b.Status, e.logText(id))
	}
	return b
}

// logHas fails the test unless the build's log holds every want.
func (e *env) logHas(id int64, want ...string) {
	e.t.Helper()
	log := e.logText(id)
	for _, w := range want {
		if !strings.Contains(log, w) {
			e.t.Errorf("log of build %d lacks %q:\n%s", id, w, log)
		}
	}
}

// TestCacheMountSurvivesToTheNextBuildOfTheApp: what build 1 writes in a
// RUN --mount=type=cache directory, build 2 of the same app (a new
// commit) reads; another app's build with the same Dockerfile does not
// see it (cache mounts are namespaced per repository).
func TestCacheMountSurvivesToTheNextBuildOfTheApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	const df = "FROM BASE\nCOPY stamp /stamp\n" +
		"RUN --mount=type=cache,target=/root/.cache sh -c 'echo \"cache holds: $(cat /root/.cache/note 2>/dev/null || echo nothing)\"; cat /stamp > /root/.cache/note'\n"
	slug, repoID, repo := e.bbRepo("cachemount", df, map[string]string{"stamp": "written-by-build-1"})
	b1 := e.buildOK(slug, false)
	e.logHas(b1.ID, "cache holds: nothing")

	e.ingested(repoID, repo.Commit(t, map[string]string{"stamp": "written-by-build-2"}, "next"), "Dockerfile", ".")
	b2 := e.buildOK(slug, false)
	e.logHas(b2.ID, "cache holds: written-by-build-1")

	// Another app, same Dockerfile, same target path: its own cache.
	other, _, _ := e.bbRepo("cachemount-other", df, map[string]string{"stamp": "written-by-the-other-app"})
	b3 := e.buildOK(other, false)
	e.logHas(b3.ID, "cache holds: nothing")
	if strings.Contains(e.logText(b3.ID), "written-by-build") {
		t.Errorf("app B's build read app A's cache mount:\n%s", e.logText(b3.ID))
	}
}

// TestModernDockerfileSyntaxBuilds: syntax only BuildKit accepts, each in
// a Dockerfile of its own, builds, and the step sees what it should.
func TestModernDockerfileSyntaxBuilds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	for _, tc := range []struct {
		name, dockerfile string
		files            map[string]string
		want             []string // in the log
	}{
		{"bind mount", "FROM BASE\nRUN --mount=type=bind,source=data,target=/mnt cat /mnt/hello.txt\nRUN test ! -e /mnt/hello.txt && echo not in the image\n",
			map[string]string{"data/hello.txt": "read through a bind mount"}, []string{"read through a bind mount", "not in the image"}},
		{"COPY --chmod", "FROM BASE\nCOPY --chmod=750 run.sh /run.sh\nRUN stat -c 'mode %a' /run.sh\n",
			map[string]string{"run.sh": "#!/bin/sh\n"}, []string{"mode 750"}},
		{"COPY --link", "FROM BASE\nCOPY --link hello.txt /linked/hello.txt\nRUN cat /linked/hello.txt\n",
			map[string]string{"hello.txt": "copied with --link"}, []string{"copied with --link"}},
		{"ARG before FROM", "ARG IMAGE=BASE\nARG GREETING=hello-from-a-global-arg\nFROM ${IMAGE}\nARG GREETING\nRUN echo \"$GREETING\"\n",
			nil, []string{"hello-from-a-global-arg"}},
		{"heredocs", "FROM BASE\nRUN <<EOF\necho first line of a RUN heredoc\necho second > /second.txt\nEOF\nCOPY <<EOF /copied.txt\nwritten by COPY <<EOF\nEOF\nRUN cat /copied.txt /second.txt\n",
			nil, []string{"first line of a RUN heredoc", "written by COPY <<EOF", "second"}},
		{"# syntax= directive", "# syntax=docker/dockerfile:1\nFROM BASE\nRUN echo built without pulling a frontend\n",
			nil, []string{"Dockerfile asks for the frontend docker/dockerfile:1 (# syntax=): appstored's built-in Dockerfile frontend", "no frontend image is pulled", "built without pulling a frontend"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slug, _, _ := e.bbRepo(repoName(tc.name), tc.dockerfile, tc.files)
			// --no-cache: an earlier run's steps may be in the engine's
			// cache, and a CACHED step prints nothing.
			b := e.buildOK(slug, true)
			e.logHas(b.ID, tc.want...)
		})
	}
}

// TestSyntaxDirectiveIsNamedOnTheFirstLines: the log says at once that a
// # syntax= line is served in process.
func TestSyntaxDirectiveIsNamedOnTheFirstLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, _, _ := e.repo("syntax-line", e.files(map[string]string{"Dockerfile": "# syntax=docker/dockerfile:1.7\nFROM scratch\nCOPY app /app\n"}))
	b := e.buildOK(slug, false)
	lines := e.logLines(b.ID)
	i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "# syntax=") })
	if i < 0 || i > 4 || !strings.Contains(lines[i], "docker/dockerfile:1.7") {
		t.Errorf("the # syntax= line is not among the first lines: %q", lines)
	}
}

// TestIndependentStagesRunInParallel: two stages wait for each other
// through a shared cache mount; they only finish if BuildKit runs them at
// the same time (the classic builder would run one, which would give up
// after 30 s).
func TestIndependentStagesRunInParallel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	stage := func(me, other string) string {
		return fmt.Sprintf("FROM BASE AS %[1]s\nCOPY token /token\n"+
			"RUN --mount=type=cache,target=/sync,id=rendezvous,sharing=shared sh -c 't=$(cat /token); touch /sync/%[1]s-$t; "+
			"i=0; while [ ! -e /sync/%[2]s-$t ]; do i=$((i+1)); if [ $i -gt 600 ]; then echo \"%[2]s never ran alongside %[1]s\"; exit 1; fi; sleep 0.05; done; "+
			"echo \"%[1]s met %[2]s\" | tee /%[1]s.txt'\n", me, other)
	}
	df := stage("left", "right") + stage("right", "left") + "FROM BASE\nCOPY --from=left /left.txt /\nCOPY --from=right /right.txt /\nRUN cat /left.txt /right.txt\n"
	slug, _, _ := e.bbRepo("parallel", df, map[string]string{"token": randomToken(t)})
	b := e.buildOK(slug, false)
	e.logHas(b.ID, "left met right", "right met left")
}

// TestDockerignoreNextToTheDockerfileWins: <Dockerfile>.dockerignore
// applies instead of the context's .dockerignore.
func TestDockerignoreNextToTheDockerfileWins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	files := e.files(map[string]string{
		"build/app.Dockerfile":              strings.ReplaceAll("FROM BASE\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n", "BASE", testenv.BusyboxImage(t)),
		"build/app.Dockerfile.dockerignore": "secret.txt\nbuild\n",
		".dockerignore":                     "keep.txt\n",
		"secret.txt":                        "do not ship",
		"keep.txt":                          "ship me",
	})
	slug, repoID, repo := e.repo("dfignore", files)
	e.ingested(repoID, repo.Head(t), "build/app.Dockerfile", ".")
	b := e.buildOK(slug, true)
	e.logHas(b.ID, "Applying build/app.Dockerfile.dockerignore (2 patterns)", "/ctx/keep.txt", "/ctx/.dockerignore")
	if log := e.logText(b.ID); strings.Contains(log, "/ctx/secret.txt") || strings.Contains(log, "/ctx/build/") || strings.Contains(log, "/ctx/.git/") {
		t.Errorf("the image holds files that build/app.Dockerfile.dockerignore (or appstore, for .git) excludes:\n%s", log)
	}
}

// TestSecretMountGetsAClearError: a secret the app does not have is
// named, with the command that sets it: in the log for an optional mount
// (the Dockerfile default), as the refusal for a required one.
func TestSecretMountGetsAClearError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, _, _ := e.bbRepo("secret", "FROM BASE\nRUN echo before\nRUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc\n", nil)
	b := e.buildFails(slug)
	if !strings.Contains(b.ErrorMessage, "Dockerfile line 3") {
		t.Errorf("error %q does not name the step", b.ErrorMessage)
	}
	e.logHas(b.ID, "the secret npmrc is not set", "appstore secret set secret npmrc")
	slug, _, _ = e.bbRepo("secretreq", "FROM BASE\nRUN --mount=type=secret,id=npmrc,required=true cat /run/secrets/npmrc\n", nil)
	b = e.buildFails(slug)
	for _, want := range []string{"Dockerfile line 2", "RUN --mount=type=secret,id=npmrc", "secretreq has no secret npmrc", "appstore secret set secretreq npmrc"} {
		if !strings.Contains(b.ErrorMessage, want) {
			t.Errorf("error %q lacks %q", b.ErrorMessage, want)
		}
	}
	// A step never gets the host's network, whatever it asks.
	slug, _, _ = e.bbRepo("hostnet", "FROM BASE\nRUN --network=host echo on the host\n", nil)
	b = e.buildFails(slug)
	if !strings.Contains(b.ErrorMessage, "Dockerfile line 2") || !strings.Contains(b.ErrorMessage, "RUN --network=host is refused") {
		t.Errorf("RUN --network=host: error %q", b.ErrorMessage)
	}
}

// TestStepOutputKeepsItsOrder: a step that prints to standard output and
// then to standard error shows the two in that order, without terminal
// escapes; the error names the step and ends with its last lines.
func TestStepOutputKeepsItsOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	// Standard output and error are two pipes, read apart in the engine,
	// which stamps each chunk with the time it read it: the order of
	// writes a few milliseconds apart is kept (the sleeps stand for the
	// work between a tool's messages).
	step := `RUN sh -c 'printf "\033[1;31mred\033[0m \033]0;title\007done\n"; echo compiling; sleep 0.2; echo "error: undefined: main" >&2; exit 3'`
	slug, _, _ := e.bbRepo("order", "FROM BASE\n"+step+"\n", nil)
	b := e.buildFails(slug)
	lines := e.logLines(b.ID)
	ci := slices.IndexFunc(lines, func(l string) bool { return strings.HasSuffix(l, " compiling") })
	ei := slices.IndexFunc(lines, func(l string) bool { return strings.HasSuffix(l, " error: undefined: main") })
	if ci < 0 || ei < 0 || ci > ei {
		t.Errorf("stdout line at %d, stderr line at %d: want both, stdout first:\n%s", ci, ei, strings.Join(lines, "\n"))
	}
	log := e.logText(b.ID)
	if strings.ContainsRune(log, 0x1b) || strings.ContainsRune(b.ErrorMessage, 0x1b) || !strings.Contains(log, " red done") {
		t.Errorf("terminal escapes were not stripped:\n%q", log)
	}
	first, rest, _ := strings.Cut(b.ErrorMessage, "\n")
	if !strings.HasPrefix(first, "[2/2] RUN sh -c") || !strings.HasSuffix(first, "(Dockerfile line 2): exit code 3") {
		t.Errorf("the error's first line %q does not name the step, its line and exit code", first)
	}
	if rest != "red done\ncompiling\nerror: undefined: main" {
		t.Errorf("the error's tail %q is not the step's last lines in order", rest)
	}
}

// TestBuildNetwork: RUN steps are on the engine's default network, or on
// none with --build-network none.
func TestBuildNetwork(t *testing.T) {
	t.Parallel()
	df := "FROM BASE\nCOPY token /token\nRUN echo interfaces: $(ls /sys/class/net | sort)\n"
	for _, tc := range []struct {
		network, want string
	}{{"none", "interfaces: lo\n"}, {"", "interfaces: eth0 lo\n"}} {
		e := newEnv(t, builder.Options{Network: tc.network})
		slug, _, _ := e.bbRepo("network"+tc.network, df, map[string]string{"token": randomToken(t)})
		b := e.buildOK(slug, false)
		if log := e.logText(b.ID) + "\n"; !strings.Contains(log, tc.want) {
			t.Errorf("--build-network %q: log lacks %q:\n%s", tc.network, tc.want, log)
		}
	}
}

// refusingEngine is an engine without BuildKit, as Podman's
// Docker-compatible API or an old engine: /grpc answers 404.
type refusingEngine struct {
	*countingEngine
	mu    sync.Mutex
	dials int
}

func (r *refusingEngine) DialHijack(_ context.Context, url, _ string, _ map[string][]string) (net.Conn, error) {
	r.mu.Lock()
	r.dials++
	r.mu.Unlock()
	return nil, errors.New("unable to upgrade to h2c, received 404")
}

// TestEngineWithoutBuildKitGetsTheClassicBuilder: the fallback builds,
// and the build, its log's first line and Builder say which builder ran.
func TestEngineWithoutBuildKitGetsTheClassicBuilder(t *testing.T) {
	t.Parallel()
	counting := &countingEngine{}
	engine := &refusingEngine{countingEngine: counting}
	e := newEnv(t, builder.Options{Engine: engine})
	counting.Engine = e.docker
	slug, _, repo := e.repo("classic", e.files(map[string]string{"Dockerfile": okDockerfile}))
	// Without the cache: the engine's classic cache is shared with the
	// package's other tests, whose cleanup may remove the layer a cache
	// hit picked before this build reuses it.
	b := e.buildOK(slug, true)
	if b.Builder != builder.BuilderClassic || len(counting.buildCalls()) != 1 {
		t.Errorf("builder %q, %d classic builds; want classic, 1", b.Builder, len(counting.buildCalls()))
	}
	first := e.logLines(b.ID)[0]
	if want := "Building " + slug + " at " + repo.Head(t)[:12] + " with the classic builder of Docker engine "; !strings.HasPrefix(first, want) ||
		!strings.Contains(first, "the engine does not serve BuildKit") {
		t.Errorf("first line %q, want it to start %q and say why", first, want)
	}
	e.logHas(b.ID, "Step 1/4 : FROM scratch", "hello from a build step")
	if kind, desc := e.w.Builder(e.ctx); kind != builder.BuilderClassic || !strings.Contains(desc, "classic builder") {
		t.Errorf("Builder() = %q, %q", kind, desc)
	}
	if engine.dials == 0 {
		t.Error("the worker never asked the engine for BuildKit")
	}
	// The real engine serves BuildKit.
	if kind, desc := newEnv(t, builder.Options{}).w.Builder(e.ctx); kind != builder.BuilderBuildKit || !strings.HasPrefix(desc, "BuildKit of Docker engine") {
		t.Errorf("the real engine: Builder() = %q, %q", kind, desc)
	}
}

// TestRebuildRemovesTheImageItReplaced: a --no-cache rebuild of a commit
// takes its tag; the image it took it from, dangling, is removed.
func TestRebuildRemovesTheImageItReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	slug, _, _ := e.repo("dangling", e.files(map[string]string{"Dockerfile": okDockerfile}))
	b1 := e.buildOK(slug, false)
	b2 := e.buildOK(slug, true)
	if b1.ImageID == b2.ImageID {
		t.Fatalf("the --no-cache rebuild made the same image %s", b1.ImageID)
	}
	waitFor(t, "the replaced image to go", 30*time.Second, func() bool {
		_, err := e.docker.ImageInspect(e.ctx, b1.ImageID)
		return dockerclient.IsErrNotFound(err)
	})
	if _, err := e.docker.ImageInspect(e.ctx, b2.ImageTag); err != nil {
		t.Errorf("the new image: %v", err)
	}
}

// pruneRecorder records the build cache prunes the worker asks for.
type pruneRecorder struct {
	builder.Engine
	mu     sync.Mutex
	prunes []dockerbuild.CachePruneOptions
}

func (p *pruneRecorder) BuildCachePrune(ctx context.Context, o dockerbuild.CachePruneOptions) (*dockerbuild.CachePruneReport, error) {
	p.mu.Lock()
	p.prunes = append(p.prunes, o)
	p.mu.Unlock()
	return p.Engine.BuildCachePrune(ctx, o)
}

// TestPruneKeepsTheBuildCacheUnderItsSize: the cleanup asks the engine to
// keep its build cache under --build-cache-size.
func TestPruneKeepsTheBuildCacheUnderItsSize(t *testing.T) {
	t.Parallel()
	rec := &pruneRecorder{}
	e := newEnv(t, builder.Options{Engine: rec, CacheSize: 64 << 30})
	rec.Engine = e.docker
	if err := e.w.Prune(e.ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec.prunes) != 1 || rec.prunes[0].KeepStorage != 64<<30 || !rec.prunes[0].All {
		t.Errorf("build cache prunes %+v, want one keeping 64 GiB", rec.prunes)
	}
}

// repoName makes a repository name of a test case's name.
func repoName(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
	return strings.Trim(s, "-")
}
