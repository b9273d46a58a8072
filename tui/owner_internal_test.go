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

// TestDetailShowsTheOwner: the detail view names the user who owns the app,
// and who registered it when that is someone else; an app without an
// owner shows no owner line.
func TestDetailShowsTheOwner(t *testing.T) {
	d := newDetail(NewStyles(lipgloss.NewRenderer(os.Stdout), false), time.UTC, map[string]*client.Launch{})
	d.SetSize(80, 40)
	d.Open("dash")
	repo := &client.Repository{Slug: "dash", Name: "dash", GitURL: "https://git.example.com/acme/dash.git", IngestStatus: catalog.IngestReady,
		OwnedBy: "ada", RegisteredBy: "mia"}
	d.Set(repoMsg{slug: "dash", repo: repo})
	if view := d.vp.View(); !strings.Contains(view, "owner       ada (registered by mia)") {
		t.Errorf("detail view without the owner:\n%s", view)
	}
	repo2 := *repo
	repo2.OwnedBy, repo2.RegisteredBy = "", ""
	d.Set(repoMsg{slug: "dash", repo: &repo2})
	if view := d.vp.View(); strings.Contains(view, "owner") {
		t.Errorf("an app without an owner shows one:\n%s", view)
	}
}
