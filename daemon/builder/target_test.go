package builder_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/builder"
)

// targetDockerfile has the app only in its "app" stage; its final stage
// cannot be built at all, so a build that ignored the target would fail.
const targetDockerfile = "FROM BASE AS app\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting\nCMD [\"cat\", \"/greeting\"]\n\n" +
	"FROM BASE AS broken\nRUN echo 'the final stage is not the app' && false\n"

// TestBuildStopsAtTheTargetWithItsArguments: the stage and build arguments
// ingestion recorded (a compose service's build.target and build.args)
// reach both builders: the image is the target stage's, built with the
// arguments, labelled like every build's image.
func TestBuildStopsAtTheTargetWithItsArguments(t *testing.T) {
	t.Parallel()
	for _, classic := range []bool{false, true} {
		name := map[bool]string{false: "buildkit", true: "classic"}[classic]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var e *env
			if classic {
				counting := &countingEngine{}
				e = newEnv(t, builder.Options{Engine: &refusingEngine{countingEngine: counting}})
				counting.Engine = e.docker
			} else {
				e = newEnv(t, builder.Options{})
			}
			slug, id, _ := e.bbRepo("target-"+name, targetDockerfile, nil)
			if _, err := e.st.Pool().Exec(e.ctx, `UPDATE repositories SET build_target = 'app',
				build_args = '{"GREETING": "hello from the app stage"}' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			// Without the cache for the classic builder: its layers are
			// shared with the package's other tests (see
			// TestEngineWithoutBuildKitGetsTheClassicBuilder).
			b := e.buildOK(slug, classic)
			if b.Target != "app" || !maps.Equal(b.BuildArgs, map[string]string{"GREETING": "hello from the app stage"}) {
				t.Errorf("build record: target %q, args %v", b.Target, b.BuildArgs)
			}
			wantBuilder := map[bool]string{false: builder.BuilderBuildKit, true: builder.BuilderClassic}[classic]
			if b.Builder != wantBuilder {
				t.Errorf("builder %q, want %q", b.Builder, wantBuilder)
			}
			if first := e.logLines(b.ID)[0]; !strings.Contains(first, "Dockerfile Dockerfile (stage app, build arguments GREETING)") {
				t.Errorf("the log's first line does not name the stage and arguments: %q", first)
			}
			if out := runImage(t, e, b.ImageTag); out != "hello from the app stage\n" {
				t.Errorf("the image printed %q, want the app stage's greeting", out)
			}
			img, err := e.docker.ImageInspect(e.ctx, b.ImageTag)
			if err != nil {
				t.Fatal(err)
			}
			if l := img.Config.Labels; l[builder.LabelRepository] != slug || l[builder.LabelBuild] != itoa(b.ID) {
				t.Errorf("the target's image lacks the build's labels: %v", l)
			}
			// The same commit built at its final stage is another build
			// (another cache key), and fails: the final stage is broken.
			if _, err := e.st.Pool().Exec(e.ctx, `UPDATE repositories SET build_target = '', build_args = '{}' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			f := e.buildFails(slug)
			if f.CacheKey == b.CacheKey && f.CacheKey != "" {
				t.Errorf("the final stage's build reused the target's cache key %s", b.CacheKey)
			}
			if f.Cached {
				t.Error("the final stage's build was served the target's image from the cache")
			}
		})
	}
}
