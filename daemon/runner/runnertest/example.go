package runnertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/internal/testenv"
)

// ExampleImage builds the example app name of examples/ (a single main.go,
// standard library only) into an image with the example's own Dockerfile,
// as make demo does, and returns its tag and id. variant changes the
// image's id without changing the app (a label), to stand for a rebuild;
// each test gets images of its own, removed when it ends.
func ExampleImage(t testing.TB, cli *client.Client, name, variant string) (tag, id string) {
	t.Helper()
	dir := filepath.Join(testenv.ModuleRoot(t), "examples", name)
	src, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// The test's name keeps its images its own: another test's cleanup
	// cannot remove them under it.
	dockerfile := string(df) + "\nLABEL appstore-test.test=" + strings.ReplaceAll(t.Name(), "/", ".") + " appstore-test.variant=" + variant + "\n"
	// StaticBinary's module says go 1.21, which would turn the method
	// patterns of the examples' muxes ("POST /notes") off.
	bin, err := os.ReadFile(testenv.StaticBinary(t, "//go:debug httpmuxgo121=0\n"+string(src)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	sum.Write([]byte(dockerfile))
	sum.Write(src)
	sum.Write([]byte(runtime.Version()))
	tag = "appstore-test/" + name + ":" + hex.EncodeToString(sum.Sum(nil))[:16]

	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for _, f := range []struct {
		name string
		data []byte
		mode int64
	}{{"Dockerfile", []byte(dockerfile), 0o644}, {"app", bin, 0o755}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	imageMu.Lock()
	defer imageMu.Unlock()
	// No cache: the classic builder would share the intermediate images
	// of the steps before LABEL between tests, and one test's cleanup
	// (a forced removal, which takes untagged parents along) would pull
	// them from under another test's build ("unable to find image").
	resp, err := cli.ImageBuild(ctx, &ctxTar, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, NoCache: true, Version: build.BuilderV1,
	})
	if err != nil {
		t.Fatalf("build the %s example: %v", name, err)
	}
	defer resp.Body.Close()
	// The id is the one this build made, as its output says: the tag may
	// already name another process's build of the same test (the lead's
	// suite and a helper's run share the engine), and the cleanup below
	// would remove that image under it.
	built := ""
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Stream, Error string
			Aux           struct{ ID string }
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("build the %s example: %v", name, err)
		}
		if msg.Error != "" {
			t.Fatalf("build the %s example: %s", name, strings.TrimSpace(msg.Error))
		}
		if msg.Aux.ID != "" {
			built = msg.Aux.ID
		}
	}
	if built == "" {
		t.Fatalf("build the %s example: the engine reported no image id", name)
	}
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), built, image.RemoveOptions{Force: true})
	})
	return tag, built
}
