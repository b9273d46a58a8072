package web_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/volume"
	dockerclient "github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestWebViewShowsHowItIsBuilt: the app page says which Dockerfile is
// built and why, the stage builds stop at (a compose service's
// build.target), the build arguments, the port and where it came from,
// the data directory, and the space its volume takes against the size
// the app declares (measured on the engine, over the size marked), as
// `appstore show` does. The card is recorded as ingestion records it; the
// volume is a real one on the engine, labelled as the runner labels it.
func TestWebViewShowsHowItIsBuilt(t *testing.T) {
	chromium(t)
	testenv.Docker(t)
	dir := artifacts(t)
	d := startDaemon(t, dir, daemon.Config{Roles: []string{daemon.RoleAPI, daemon.RoleRunner}})
	ctx := context.Background()
	r := register(t, d.Store, "ledger")

	// The card of a compose service that builds its stage "app".
	claim, err := d.Store.ClaimIngest(ctx, r.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(catalog.RepositoryMetadata{
		Build: &catalog.BuildChoice{Dockerfile: "docker/Dockerfile", Context: ".", Source: catalog.ChoiceCompose,
			Reason: "service web of compose.yaml builds its stage app", ComposeFile: "compose.yaml", ComposeService: "web",
			Target: "app", Args: map[string]string{"NODE_ENV": "production"}},
		Storage: &catalog.Storage{Path: "/data", SizeBytes: 1 << 20},
	})
	if _, err := d.Store.CompleteIngest(ctx, store.IngestSuccess{IngestAttempt: claim.Outcome(), Branch: "main",
		DockerfilePath: "docker/Dockerfile", ContextPath: ".", BuildTarget: "app", BuildArgs: map[string]string{"NODE_ENV": "production"},
		AppPort: 4000, PortSource: catalog.PortFromCompose, Metadata: meta}); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, dir)
	const short = 20 * time.Second
	b.step("open the app", short, chromedp.Navigate(d.URL+"/app/ledger"))
	b.wait("how it is built", `(() => { const f = (k) => { const e = document.querySelector('[data-role=build-facts] [data-fact="' + k + '"] dd'); return e ? e.textContent : ''; };
		return f('dockerfile') === 'docker/Dockerfile (context: the repository root)' && f('stage') === 'app'
			&& f('reason') === 'service web of compose.yaml builds its stage app' && f('args') === 'NODE_ENV=production'
			&& f('port') === '4000 (from the compose service’s ports)'
			&& f('storage') === '/data, 1 MiB (kept in a volume of its own)'
			&& f('storage-used') === 'nothing yet: the volume is made at the first launch'; })()`, short)

	// The volume a launch makes, holding more than the app declares.
	docker, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	cid, err := d.Store.CatalogID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := runner.VolumeName(cid, "ledger")
	u, err := giturl.Parse(r.GitURL)
	if err != nil {
		t.Fatal(err)
	}
	key := u.Key()
	v, err := docker.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: map[string]string{
		runner.LabelManaged: "true", runner.LabelCatalog: cid, runner.LabelRepository: "ledger", runner.LabelSource: key,
		runner.LabelStoragePath: "/data", runner.LabelStorageSize: strconv.Itoa(1 << 20),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = docker.VolumeRemove(context.Background(), name, true) })
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "ledger.db"), make([]byte, 3<<19), 0o644); err != nil {
		t.Fatalf("write into the volume at %s (appstored measures it there): %v", v.Mountpoint, err)
	}
	b.step("open the app again", short, chromedp.Navigate(d.URL+"/app/ledger"))
	b.wait("the space it takes, over its size", `(() => { const e = document.querySelector('[data-role=build-facts] [data-fact="storage-used"] dd');
		return e && e.textContent.startsWith('1.5 MiB of 1 MiB — over its size') && e.querySelector('.over') !== null; })()`, short)
	b.screenshot("how-it-is-built")

	// A stage set by hand says so.
	target := "app"
	if _, err := d.Store.UpdateRepository(ctx, "ledger", store.RepositoryUpdate{Target: &target}); err != nil {
		t.Fatal(err)
	}
	b.step("open the app once more", short, chromedp.Navigate(d.URL+"/app/ledger"))
	b.wait("the stage set by hand", `(() => { const e = document.querySelector('[data-role=build-facts] [data-fact="stage"] dd'); return e && e.textContent === 'app (set by hand)'; })()`, short)
	if got := eval[string](b, `document.querySelector('[data-role=build-facts]').textContent`); strings.Contains(got, "undefined") {
		t.Errorf("the panel reads %q", got)
	}
}
