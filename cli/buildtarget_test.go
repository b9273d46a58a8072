package cli_test

import (
	"encoding/json"
	"testing"

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
