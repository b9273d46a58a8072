package runnertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/daemon/runner"
)

// SwarmLockPath is the lock file that serialises Swarm tests across test
// processes: one process at a time makes, uses and leaves the swarm.
var SwarmLockPath = filepath.Join(os.TempDir(), "appstore-swarm-test.lock")

// Swarm makes the test engine a single-node swarm (advertised on
// 127.0.0.1; host-mode ports work there, the routing mesh is not needed)
// for the rest of the test, holding SwarmLockPath meanwhile, and leaves it
// again at the end if it made it. An engine already in a swarm is used as
// it is and left in it. Plain containers of other tests are not touched:
// init and leave do not remove them, and nothing is pruned.
func Swarm(t testing.TB, cli *client.Client) {
	t.Helper()
	f, err := os.OpenFile(SwarmLockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", SwarmLockPath, err)
	}
	unlock := func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }
	ctx := context.Background()
	info, err := cli.Info(ctx)
	if err != nil {
		unlock()
		t.Fatal(err)
	}
	made := false
	switch info.Swarm.LocalNodeState {
	case swarm.LocalNodeStateActive:
		if !info.Swarm.ControlAvailable {
			unlock()
			t.Fatal("the test engine is a Swarm worker; the Swarm tests need a manager (or no swarm: they make one)")
		}
	case swarm.LocalNodeStateInactive:
		if _, err := cli.SwarmInit(ctx, swarm.InitRequest{ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1"}); err != nil {
			unlock()
			t.Fatalf("docker swarm init --advertise-addr 127.0.0.1: %v", err)
		}
		made = true
	default:
		unlock()
		t.Fatalf("the test engine's swarm is %q: settle it first (docker swarm leave --force)", info.Swarm.LocalNodeState)
	}
	t.Cleanup(func() {
		defer unlock()
		if made {
			if err := cli.SwarmLeave(context.Background(), true); err != nil {
				t.Errorf("docker swarm leave --force: %v", err)
			}
		}
	})
}

// Services lists the Swarm services labelled with runner.
func Services(t testing.TB, cli *client.Client, runnerID string) []swarm.Service {
	t.Helper()
	svcs, err := cli.ServiceList(context.Background(), swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", runner.LabelRunner+"="+runnerID))})
	if err != nil {
		t.Fatal(err)
	}
	return svcs
}

// CleanupServices removes the runner's services when the test ends,
// whatever happened to the runner (before the swarm is left: register it
// after Swarm).
func CleanupServices(t testing.TB, cli *client.Client, runnerID string) {
	t.Helper()
	t.Cleanup(func() {
		for _, s := range Services(t, cli, runnerID) {
			_ = cli.ServiceRemove(context.Background(), s.ID)
		}
	})
}

// Push pushes the local image tag to reg as the app slug's image and
// records it in the build as the build worker does (registry_image,
// image_digest); it returns the digest.
func Push(t testing.TB, cli *client.Client, st *store.Store, reg *registry.Registry, buildID int64, slug, tag string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := reg.Tagged(slug, "test")
	if err := cli.ImageTag(ctx, tag, ref); err != nil {
		t.Fatal(err)
	}
	defer cli.ImageRemove(context.Background(), ref, image.RemoveOptions{}) //nolint:errcheck
	rc, err := cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: reg.EngineAuth()})
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	defer rc.Close()
	digest := ""
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Error string
			Aux   *struct{ Digest string }
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if m.Error != "" {
			t.Fatalf("push %s: %s", ref, m.Error)
		}
		if m.Aux != nil && m.Aux.Digest != "" {
			digest = m.Aux.Digest
		}
	}
	if digest == "" {
		t.Fatal(fmt.Sprintf("push %s: no digest", ref))
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE builds SET registry_image = $2, image_digest = $3 WHERE id = $1`, buildID, ref, digest); err != nil {
		t.Fatal(err)
	}
	return digest
}
