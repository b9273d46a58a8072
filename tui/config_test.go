package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/client"
)

// TestDetailListsTheAppsConfiguration: the detail view lists what the app
// declares with what sets each, a missing required secret with the
// command that sets it, and variables it does not declare.
func TestDetailListsTheAppsConfiguration(t *testing.T) {
	f := catalogSource()
	f.setConfig(&client.AppConfig{
		Slug: "dash",
		Declared: []client.DeclaredConfig{
			{DeclaredEnv: client.DeclaredEnv{Name: "OPENAI_API_KEY", Required: true, Secret: true, Source: "tags.yaml"}},
			{DeclaredEnv: client.DeclaredEnv{Name: "GREETING", Default: "hello", Source: "tags.yaml"}, SetBy: "default"},
			{DeclaredEnv: client.DeclaredEnv{Name: "MODEL", Source: ".env.example"}, SetBy: "variable"},
		},
		Variables: []client.EnvVar{{Name: "MODEL", Value: "small"}, {Name: "EXTRA", Value: "1"}},
		Missing:   []string{"OPENAI_API_KEY"},
	})
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 120, Height: 80})
	h.online()
	h.press("down", "enter")
	h.waitView("Configuration",
		"OPENAI_API_KEY  required secret   missing — appstore secret set dash OPENAI_API_KEY",
		"GREETING        optional          default",
		"MODEL           optional          set (variable)",
		"EXTRA           variable          set")
}
