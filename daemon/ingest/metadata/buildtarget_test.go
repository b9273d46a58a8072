package metadata_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
)

// twoStages builds a server only in its "app" stage; the final stage is a
// test runner that exposes nothing.
const twoStages = "ARG BASE=busybox\n" +
	"FROM ${BASE} AS app\nARG GREETING\nCOPY www /www\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n\n" +
	"FROM app AS test\nCMD [\"sh\", \"-c\", \"test -f /www/index.html\"]\n"

// TestComposeBuildTarget: the stage and build arguments of the compose
// service chosen are recorded with the Dockerfile, and the card's facts
// (port, base image) are the stage's, not the final stage's.
func TestComposeBuildTarget(t *testing.T) {
	compose := `services:
  web:
    build:
      context: .
      target: app
      args:
        GREETING: hello
        VERSION: ${VERSION:-1.2}
        FROM_ENV:
        UNSET: ${NOT_SET}
        ESCAPED: "a$$b"
    ports: ["9000:8080"]
`
	root := writeRepo(t, map[string]string{"Dockerfile": twoStages, "compose.yaml": compose, "www/index.html": "<p>hi</p>"})
	res, err := metadata.Extract(context.Background(), root, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Build == nil || res.Build.Target != "app" {
		t.Fatalf("build choice %+v, want target app", res.Build)
	}
	want := map[string]string{"GREETING": "hello", "VERSION": "1.2", "ESCAPED": "a$b"}
	if !maps.Equal(res.Build.Args, want) {
		t.Errorf("args %v, want %v (FROM_ENV and UNSET come from the environment: left out)", res.Build.Args, want)
	}
	if res.Port != 8080 || res.PortSource != metadata.PortFromExpose {
		t.Errorf("port %d (%s), want 8080 (expose) from the app stage", res.Port, res.PortSource)
	}
	if !strings.Contains(res.Build.Reason, "stage app") {
		t.Errorf("reason %q does not name the stage", res.Build.Reason)
	}

	// The list form of args; a target the Dockerfile does not define is
	// dropped with a warning: the final stage is built.
	compose = "services:\n  web:\n    build:\n      context: .\n      target: prod\n      args: [\"GREETING=hi\", \"FROM_ENV\"]\n    ports: [\"8080:8080\"]\n"
	root = writeRepo(t, map[string]string{"Dockerfile": twoStages, "compose.yaml": compose, "www/index.html": "<p>hi</p>"})
	res, err = metadata.Extract(context.Background(), root, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Build.Target != "" || !maps.Equal(res.Build.Args, map[string]string{"GREETING": "hi"}) {
		t.Errorf("target %q args %v, want the final stage with GREETING=hi", res.Build.Target, res.Build.Args)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, `target "prod"`) && strings.Contains(w, "final stage") }) {
		t.Errorf("no warning about the missing stage: %q", res.Warnings)
	}

	// Without compose, the root Dockerfile's final stage is built.
	root = writeRepo(t, map[string]string{"Dockerfile": twoStages, "www/index.html": "<p>hi</p>"})
	res, err = metadata.Extract(context.Background(), root, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Build.Target != "" || res.Build.Args != nil {
		t.Errorf("target %q args %v without compose", res.Build.Target, res.Build.Args)
	}
}

// TestDeclaredTarget: the repository's target setting wins over the
// compose service's; one the Dockerfile does not define fails the
// ingestion for good, saying what to do.
func TestDeclaredTarget(t *testing.T) {
	compose := "services:\n  web:\n    build:\n      context: .\n      target: app\n    ports: [\"8080:8080\"]\n"
	root := writeRepo(t, map[string]string{"Dockerfile": twoStages, "compose.yaml": compose, "www/index.html": "<p>hi</p>"})
	res, err := metadata.Extract(context.Background(), root, metadata.Options{Target: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Build.Target != "test" || !strings.Contains(res.Build.Reason, "target setting") {
		t.Errorf("build choice %+v, want the declared stage test", res.Build)
	}
	_, err = metadata.Extract(context.Background(), root, metadata.Options{Target: "nope"})
	if err == nil || !metadata.IsPermanent(err) || !strings.Contains(err.Error(), `"nope" names no stage`) {
		t.Errorf("a declared stage the Dockerfile lacks: %v", err)
	}
}
