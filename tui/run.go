package tui

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Run runs the TUI on a terminal (in, out) until the user quits or ctx is
// done. Without colour (opts.Color false) the renderer still speaks ANSI
// so that the cursor and the selection show in reverse and bold: NO_COLOR
// asks for no colour, not for no attributes.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	if opts.Renderer == nil {
		r := lipgloss.NewRenderer(out)
		if !opts.Color && r.ColorProfile() == termenv.Ascii && os.Getenv("TERM") != "dumb" {
			// termenv reads NO_COLOR as "no escape codes at all"; a
			// real terminal still gets bold and reverse.
			r.SetColorProfile(termenv.ANSI)
		}
		// Ask the terminal for its background now, while nothing else
		// reads it: once the program runs, its input loop would swallow
		// the answer. (The CLI skips Bubble Tea's own early query; see
		// internal/termbg.)
		_ = r.HasDarkBackground()
		opts.Renderer = r
	}
	m := New(ctx, opts)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// OpenBrowser opens url in the user's browser: $BROWSER when set (a
// command, the URL as its last argument), else xdg-open, or open on macOS.
// It does not wait for the browser.
func OpenBrowser(url string) error { return openBrowser(url, os.Getenv) }

// BrowserOpener is OpenBrowser with $BROWSER read by getenv (the CLI's
// environment, which its tests set).
func BrowserOpener(getenv func(string) string) func(url string) error {
	return func(url string) error { return openBrowser(url, getenv) }
}

func openBrowser(url string, getenv func(string) string) error {
	var cmd *exec.Cmd
	if b := strings.Fields(getenv("BROWSER")); len(b) > 0 {
		cmd = exec.Command(b[0], append(b[1:], url)...)
	} else {
		switch runtime.GOOS {
		case "darwin":
			cmd = exec.Command("open", url)
		case "windows":
			cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
		default:
			cmd = exec.Command("xdg-open", url)
		}
	}
	// The browser must not draw over the TUI.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	// exec's errors name the command already.
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
