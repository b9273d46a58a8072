package tui

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// TestDetailShowsThePortOfAnAppWithoutDockerfile: an app whose ingestion
// failed for want of a Dockerfile still shows the port its tags.yaml or
// README names; the stage a build stops at shows under the Dockerfile.
func TestDetailShowsThePortOfAnAppWithoutDockerfile(t *testing.T) {
	d := newDetail(NewStyles(lipgloss.NewRenderer(os.Stdout), false), time.UTC, map[string]*client.Launch{})
	d.SetSize(80, 60)
	d.Open("draft")
	repo := &client.Repository{Slug: "draft", Name: "draft", GitURL: "https://git.example.com/acme/draft.git",
		IngestStatus: catalog.IngestFailed, IngestError: "no Dockerfile found", AppPort: 7861, PortSource: "readme"}
	d.Set(repoMsg{slug: "draft", repo: repo})
	view := d.vp.View()
	if !strings.Contains(view, "none usable (see the error above)") || !strings.Contains(view, "  port      7861 (readme)") {
		t.Errorf("detail view of a failed card without its port:\n%s", view)
	}

	// One that is still being ingested has not found it yet.
	d.Set(repoMsg{slug: "draft", repo: &client.Repository{Slug: "draft", Name: "draft", IngestStatus: catalog.IngestProcessing}})
	if view := d.vp.View(); !strings.Contains(view, "not found yet") {
		t.Errorf("detail view of a card being ingested:\n%s", view)
	}

	// A card whose build stops at a stage names it.
	repo = &client.Repository{Slug: "draft", Name: "draft", IngestStatus: catalog.IngestReady, DockerfilePath: "Dockerfile",
		Metadata: []byte(`{"build": {"dockerfile": "Dockerfile", "context": ".", "source": "compose", "reason": "", "target": "app"}}`)}
	d.Set(repoMsg{slug: "draft", repo: repo})
	if view := d.vp.View(); !strings.Contains(view, "  stage     app") {
		t.Errorf("detail view without the stage:\n%s", view)
	}
}
