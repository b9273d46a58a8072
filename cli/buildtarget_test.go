package cli_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// TestComposeTargetIsRecordedAndShown ingests, through a real appstored, a
// compose project whose service builds the "app" stage of its Dockerfile
// with a build argument: show names the stage and the arguments, and the
// build ingestion queued carries them.
func TestComposeTargetIsRecordedAndShown(t *testing.T) {
	d := ingestingDaemon(t)
	repo := gitserver.NewNamedRepo(t, "staged", map[string]string{
		"compose.yaml": "services:\n  web:\n    build:\n      context: .\n      target: app\n      args:\n        GREETING: hello\n    ports: ['8080:8080']\n",
		"Dockerfile":   "FROM busybox AS app\nARG GREETING\nCOPY index.html /www/\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n\nFROM app AS test\nRUN false\n",
		"index.html":   "<p>hi</p>\n",
	})
	git := gitserver.HTTP(t, repo)
	if r := cmd(t, d.URL, false, "add", git.URL(repo), "--wait"); r.code != 0 {
		t.Fatalf("add --wait: %+v", r)
	}
	r := cmd(t, d.URL, false, "show", "staged")
	if r.code != 0 || !inOrder(r.stdout, `^dockerfile:\tDockerfile$`, `^stage:\tapp$`, `^build args:\tGREETING=hello$`,
		`^chosen because:\tservice web of compose.yaml builds its stage app$`, `^port:\t8080 \(from expose\)$`) {
		t.Errorf("show in a pipe:\n%s", r.stdout)
	}
	r = cmd(t, d.URL, false, "builds", "staged", "--json")
	var builds []client.Build
	if err := json.Unmarshal([]byte(r.stdout), &builds); err != nil {
		t.Fatalf("builds --json: %v %q", err, r.stdout)
	}
	if len(builds) != 1 || builds[0].Target != "app" || builds[0].BuildArgs["GREETING"] != "hello" {
		t.Errorf("the build ingestion queued: %+v", builds)
	}
}

// TestEditTarget: appstore edit --target picks another stage than the
// compose service's (ingested again at once; the next build stops there), a
// stage the Dockerfile lacks fails the ingestion with what to do, and
// --reset target gives the choice back to ingestion.
func TestEditTarget(t *testing.T) {
	d := ingestingDaemon(t)
	repo := gitserver.NewNamedRepo(t, "stages", map[string]string{
		"compose.yaml": "services:\n  web:\n    build:\n      context: .\n      target: app\n    ports: ['8080:8080']\n",
		"Dockerfile":   "FROM busybox AS app\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\"]\n\nFROM busybox AS debug\nEXPOSE 9000\nCMD [\"httpd\", \"-f\", \"-p\", \"9000\"]\n",
	})
	git := gitserver.HTTP(t, repo)
	if r := cmd(t, d.URL, false, "add", git.URL(repo), "--wait"); r.code != 0 {
		t.Fatalf("add --wait: %+v", r)
	}
	// settled waits for the ingestion an edit queued to end.
	settled := func(what string) client.Repository {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			var got client.Repository
			r := cmd(t, d.URL, false, "show", "stages", "--json")
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("%s: show --json: %v %q", what, err, r.stdout)
			}
			if got.IngestStatus == catalog.IngestReady || got.IngestStatus == catalog.IngestFailed {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ingestion still %s", what, got.IngestStatus)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	target := func(r client.Repository) string {
		var meta catalog.RepositoryMetadata
		if json.Unmarshal(r.Metadata, &meta) != nil || meta.Build == nil {
			return ""
		}
		return meta.Build.Target
	}

	if r := cmd(t, d.URL, false, "edit", "stages", "--target", "debug"); r.code != 0 || r.stdout != "target\tdebug\n" {
		t.Fatalf("edit --target: %+v", r)
	}
	got := settled("--target debug")
	if got.IngestStatus != catalog.IngestReady || target(got) != "debug" || got.AppPort != 9000 ||
		!slices.Contains(got.ManualFields, "target") {
		t.Errorf("after --target debug: %s %q, stage %q, port %d, manual %v", got.IngestStatus, got.IngestError, target(got), got.AppPort, got.ManualFields)
	}
	if r := cmd(t, d.URL, true, "show", "stages"); !inOrder(r.stdout, `^stage: +debug \(manual\)$`) {
		t.Errorf("show on a terminal:\n%s", r.stdout)
	}
	var builds []client.Build
	r := cmd(t, d.URL, false, "builds", "stages", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &builds); err != nil || len(builds) == 0 || builds[0].Target != "debug" {
		t.Errorf("the newest build: %v %+v", err, builds)
	}

	if r := cmd(t, d.URL, false, "edit", "stages", "--target", "nosuch"); r.code != 0 {
		t.Fatalf("edit --target nosuch: %+v", r)
	}
	if got := settled("--target nosuch"); got.IngestStatus != catalog.IngestFailed ||
		!strings.Contains(got.IngestError, `target setting "nosuch" names no stage`) || !strings.Contains(got.IngestError, "--reset target") {
		t.Errorf("a stage the Dockerfile lacks: %s %q", got.IngestStatus, got.IngestError)
	}
	if r := cmd(t, d.URL, false, "edit", "stages", "--target", "no stage!"); r.code == 0 || !strings.Contains(r.stderr, "not a stage name") {
		t.Errorf("edit --target with a bad name: %+v", r)
	}

	if r := cmd(t, d.URL, false, "edit", "stages", "--reset", "target"); r.code != 0 {
		t.Fatalf("edit --reset target: %+v", r)
	}
	if got := settled("--reset target"); got.IngestStatus != catalog.IngestReady || target(got) != "app" || got.AppPort != 8080 ||
		slices.Contains(got.ManualFields, "target") {
		t.Errorf("after --reset target: %s %q, stage %q, port %d, manual %v", got.IngestStatus, got.IngestError, target(got), got.AppPort, got.ManualFields)
	}
}
