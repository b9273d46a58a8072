// Package runnertest gives tests of launches what they need on a real Docker
// engine: images FROM scratch with a small web app (a static binary built by
// the test, see testdata/app), repositories with a succeeded build of such
// an image, and views of the containers a runner left behind.
package runnertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// AppSource is the test app: HTTP on $PORT with /headers, /env, /redirect,
// /whoami, /exit?code=N, /alloc?mb=N, /print?b64= (bytes to stdout),
// /cookie?domain= (a cookie for a wider domain) and a WebSocket echo on
// /ws; flags -mode crash|hostile-crash|tcp, -delay, -port and -name change
// its behaviour.
//
//go:embed testdata/app/main.go
var AppSource string

// Docker returns a client of the test engine (testenv.Docker first).
func Docker(t testing.TB) *client.Client {
	t.Helper()
	testenv.Docker(t)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// ImageOptions shape a test image.
type ImageOptions struct {
	// Args are the app's flags (CMD after the binary).
	Args []string
	// Expose are EXPOSE ports of the Dockerfile.
	Expose []int
}

var imageMu sync.Mutex

// Image builds (once per content, cached by the engine) an image FROM
// scratch with the test app and opts, and returns its tag and id.
func Image(t testing.TB, cli *client.Client, opts ImageOptions) (tag, id string) {
	t.Helper()
	bin := testenv.StaticBinary(t, AppSource)
	binData, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var df strings.Builder
	df.WriteString("FROM scratch\nCOPY app /app\n")
	for _, p := range opts.Expose {
		fmt.Fprintf(&df, "EXPOSE %d\n", p)
	}
	cmd, _ := json.Marshal(append([]string{"/app"}, opts.Args...))
	fmt.Fprintf(&df, "CMD %s\n", cmd)
	// The tag names the source, not the binary: binaries built by other
	// test processes differ in embedded paths only, so one image per
	// variant is reused across runs instead of piling up.
	sum := sha256.New()
	sum.Write([]byte(df.String()))
	sum.Write([]byte(AppSource))
	sum.Write([]byte(runtime.Version()))
	tag = "appstore-test/app:" + hex.EncodeToString(sum.Sum(nil))[:16]

	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for name, data := range map[string][]byte{"Dockerfile": []byte(df.String()), "app": binData} {
		mode := int64(0o644)
		if name == "app" {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
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
	if ins, err := cli.ImageInspect(ctx, tag); err == nil {
		return tag, ins.ID
	}
	resp, err := cli.ImageBuild(ctx, &ctxTar, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		t.Fatalf("build test image: %v", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Stream, Error string
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("build test image: %v", err)
		}
		if msg.Error != "" {
			t.Fatalf("build test image: %s", msg.Error)
		}
	}
	ins, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatalf("inspect test image: %v", err)
	}
	return tag, ins.ID
}

// App registers the repository slug (ready, with port when not 0) with a
// succeeded build of the image, as ingestion and the build worker would,
// and returns the repository and build ids.
func App(t testing.TB, st *store.Store, slug, imageTag, imageID string, port int) (repoID, buildID int64) {
	t.Helper()
	ctx := context.Background()
	u, err := giturl.Parse("https://git.example.com/test/" + slug + ".git")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := st.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: slug, Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if repo.Slug != slug {
		t.Fatalf("registered as %q, want %q", repo.Slug, slug)
	}
	var p any
	source := ""
	if port > 0 {
		p, source = port, "tags.yaml"
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'ready', app_port = $2, port_source = $3 WHERE id = $1`, repo.ID, p, source); err != nil {
		t.Fatal(err)
	}
	buildID = AddBuild(t, st, repo.ID, imageTag, imageID)
	return repo.ID, buildID
}

// AddBuild records a succeeded build of the image for the repository.
func AddBuild(t testing.TB, st *store.Store, repoID int64, imageTag, imageID string) int64 {
	t.Helper()
	var id int64
	err := st.Pool().QueryRow(context.Background(), `
		INSERT INTO builds (repository_id, commit_sha, status, image_tag, image_id, started_at, completed_at, duration_ms)
		VALUES ($1, $2, 'succeeded', $3, $4, now(), now(), 1) RETURNING id`,
		repoID, strings.Repeat("a", 40), imageTag, imageID).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Containers lists every container (running or not) labelled with runner.
func Containers(t testing.TB, cli *client.Client, runnerID string) []container.Summary {
	t.Helper()
	cs, err := cli.ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", runner.LabelRunner+"="+runnerID)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// CleanupContainers removes the runner's containers when the test ends,
// whatever happened to the daemon.
func CleanupContainers(t testing.TB, cli *client.Client, runnerID string) {
	t.Helper()
	t.Cleanup(func() {
		for _, c := range Containers(t, cli, runnerID) {
			_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
		}
	})
}

// LaunchLabel is the launch id of a container.
func LaunchLabel(c container.Summary) int64 {
	id, _ := strconv.ParseInt(c.Labels[runner.LabelLaunch], 10, 64)
	return id
}
