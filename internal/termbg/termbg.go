// Package termbg keeps the appstore CLI from asking the terminal for its
// background colour when it starts. Bubble Tea v1 does that in its init
// (lipgloss.HasDarkBackground, tea_init.go) in every program that links it:
// on a terminal that never answers the query (script(1), some editors'
// shells and CI ptys) every command, even `appstore version`, then waits
// termenv's 5 s timeout. The CLI links Bubble Tea for its TUI only.
//
// Imported by cmd/appstore for its init alone, which runs before Bubble
// Tea's: both wait for Lip Gloss only, and among packages ready at once Go
// initialises the one with the smaller import path first
// ("github.com/appstore-dev/…" < "github.com/charmbracelet/…"). Setting the
// default renderer's background explicitly makes Bubble Tea's query a
// no-op. The TUI asks its own renderer when it starts (tui.Run), before
// Bubble Tea takes the terminal.
package termbg

import "github.com/charmbracelet/lipgloss"

func init() {
	lipgloss.SetHasDarkBackground(true)
}
