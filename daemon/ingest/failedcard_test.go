package ingest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// TestFailedCardKeepsItsPort: a repository whose ingestion fails (no
// Dockerfile yet) but whose tags.yaml or README names the port gets that
// port on its card, as a success would.
func TestFailedCardKeepsItsPort(t *testing.T) {
	e := newEnv(t)
	repo := gitserver.NewNamedRepo(t, "space-draft", map[string]string{
		"README.md": "---\ntitle: Draft Space\nsdk: docker\napp_port: 7861\n---\n\n# Draft Space\n\nA Space whose Dockerfile is not written yet.\n",
	})
	r := e.register(repo)
	got, err := e.ingest(r, 1)
	if err == nil || got.IngestStatus != catalog.IngestFailed || !strings.Contains(got.IngestError, "no Dockerfile found") {
		t.Fatalf("handler %v, status %s %q", err, got.IngestStatus, got.IngestError)
	}
	if got.AppPort != 7861 || got.PortSource != metadata.PortFromReadme {
		t.Errorf("failed card: port %d (%s), want 7861 (readme)", got.AppPort, got.PortSource)
	}

	// tags.yaml's port wins, as on a success.
	repo.Commit(t, map[string]string{"tags.yaml": "port: 3000\n"}, "declare the port")
	if _, _, err := e.st.RequestIngest(context.Background(), r.Slug, "refresh"); err != nil {
		t.Fatal(err)
	}
	if got, _ = e.ingest(r, 1); got.AppPort != 3000 || got.PortSource != metadata.PortFromTagsFile {
		t.Errorf("failed card with tags.yaml: port %d (%s), want 3000 (tags.yaml)", got.AppPort, got.PortSource)
	}
}
