package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// TestEmojiBesideTheName: a result with an emoji shows it before its name,
// one without shows the name alone, and a refreshed repository brings its
// emoji to the row.
func TestEmojiBesideTheName(t *testing.T) {
	l := newResultList(NewStyles(lipgloss.DefaultRenderer(), false), map[string]*client.Launch{})
	l.SetSize(100, 10)
	l.SetPage("", &catalog.SearchPage{Results: []catalog.SearchResult{
		{ID: 1, Slug: "invoice-extractor", Name: "Invoice Extractor", Emoji: "🧾", IngestStatus: catalog.IngestReady},
		{ID: 2, Slug: "shorty", Name: "shorty", IngestStatus: catalog.IngestReady},
	}, Total: 2, TotalExact: true})
	v := l.View()
	if !strings.Contains(v, "🧾 Invoice Extractor (invoice-extractor)") || !strings.Contains(v, "  shorty") || strings.Contains(v, " shorty (") {
		t.Errorf("results:\n%s", v)
	}
	l.PatchRepository(&client.Repository{Slug: "shorty", Name: "Shorty", Emoji: "🔗", IngestStatus: catalog.IngestReady})
	if v := l.View(); !strings.Contains(v, "🔗 Shorty (shorty)") {
		t.Errorf("after a refresh:\n%s", v)
	}
}
