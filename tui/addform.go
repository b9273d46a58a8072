package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// AddForm asks for a Git URL and tags to register an app.
type AddForm struct {
	styles *Styles
	keys   FormKeys
	width  int
	height int

	url   textinput.Model
	tags  textinput.Model
	focus int // 0 url, 1 tags
	err   string
	busy  bool
	// home expands a leading ~ (os.UserHomeDir when nil), as a shell
	// would have done on the command line.
	home func() (string, error)
}

// expandHome turns "~" and "~/x" into paths under the home directory;
// anything else ("~user", URLs) is left as typed.
func expandHome(p string, home func() (string, error)) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	if home == nil {
		home = os.UserHomeDir
	}
	h, err := home()
	if err != nil || h == "" {
		return p
	}
	return filepath.Join(h, p[1:])
}

func newAddForm(styles *Styles) AddForm {
	mk := func(prompt, placeholder string) textinput.Model {
		in := styles.textInput(prompt, placeholder)
		in.CharLimit = 2048
		return in
	}
	return AddForm{
		styles: styles,
		keys:   newFormKeys(),
		url:    mk("Git URL › ", "https://github.com/acme/dash.git or /path/to/repo"),
		tags:   mk("Tags    › ", "category:dashboard team:ops (optional)"),
	}
}

// SetSize sets the form's area.
func (f *AddForm) SetSize(width, height int) {
	f.width, f.height = width, height
	f.url.Width = max(1, width-len(f.url.Prompt)-2)
	f.tags.Width = max(1, width-len(f.tags.Prompt)-2)
}

// Reset empties the form and focuses the URL.
func (f *AddForm) Reset() tea.Cmd {
	f.url.Reset()
	f.tags.Reset()
	f.err, f.busy, f.focus = "", false, 0
	f.tags.Blur()
	return f.url.Focus()
}

// Fail shows why the daemon refused the app; the form stays filled in.
func (f *AddForm) Fail(err error) {
	f.busy = false
	f.err = err.Error()
}

// Request validates the form and returns what to send.
func (f *AddForm) Request() (client.AddRepositoryRequest, error) {
	u := strings.TrimSpace(f.url.Value())
	if u == "" {
		return client.AddRepositoryRequest{}, fmt.Errorf("enter the Git URL of a repository with a Dockerfile (https://, ssh://, git@host:path, or a local path)")
	}
	u = expandHome(u, f.home)
	var tags []string
	for _, t := range strings.FieldsFunc(f.tags.Value(), func(r rune) bool { return r == ' ' || r == ',' }) {
		tag, err := catalog.ParseTag(t)
		if err != nil {
			return client.AddRepositoryRequest{}, err
		}
		tags = append(tags, tag.String())
	}
	return client.AddRepositoryRequest{GitURL: u, Tags: tags}, nil
}

// Update edits the fields; Enter and Esc are the root model's.
func (f *AddForm) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, f.keys.Next), key.Matches(k, f.keys.Prev):
			f.focus = 1 - f.focus
			if f.focus == 0 {
				f.tags.Blur()
				return f.url.Focus()
			}
			f.url.Blur()
			return f.tags.Focus()
		}
		f.err = ""
	}
	var cmd tea.Cmd
	if f.focus == 0 {
		f.url, cmd = f.url.Update(msg)
	} else {
		f.tags, cmd = f.tags.Update(msg)
	}
	return cmd
}

// SetBusy marks the request as sent.
func (f *AddForm) SetBusy() { f.busy = true; f.err = "" }

// View renders the form.
func (f *AddForm) View() string {
	s := f.styles
	var b strings.Builder
	b.WriteString(s.Title.Render("Add an app") + "\n\n")
	b.WriteString(s.Subtle.Render("A Git repository with a Dockerfile. It is cloned, its metadata read into tags, and its image built.") + "\n\n")
	b.WriteString(f.url.View() + "\n")
	b.WriteString(f.tags.View() + "\n\n")
	switch {
	case f.busy:
		b.WriteString(s.Subtle.Render("adding…"))
	case f.err != "":
		b.WriteString(s.Error.Render("✗ " + f.err))
	default:
		b.WriteString(s.Subtle.Render("Tags are key:value, separated by spaces or commas."))
	}
	return b.String()
}

// ShortHelp and FullHelp are the form's keys.
func (f *AddForm) ShortHelp() []key.Binding {
	return []key.Binding{f.keys.Submit, f.keys.Next, f.keys.Cancel, f.keys.Quit}
}

func (f *AddForm) FullHelp() [][]key.Binding {
	return [][]key.Binding{{f.keys.Submit, f.keys.Next, f.keys.Prev, f.keys.Cancel, f.keys.Quit}}
}
