package tui

import "github.com/charmbracelet/bubbles/key"

// Each component has its own key map; the help bar shows the focused
// component's. The bindings are documented in docs/cli.md (TUI).

func bind(keys []string, helpKey, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKey, desc))
}

// SearchKeys are the keys of the search line. Everything else is typed.
type SearchKeys struct {
	Prev, Next key.Binding // move in the suggestion list
	Accept     key.Binding
	Run        key.Binding
	Close      key.Binding
	Results    key.Binding // ↓ with the list closed: to the results
	Quit       key.Binding
}

func newSearchKeys() SearchKeys {
	return SearchKeys{
		Prev:    bind([]string{"up", "ctrl+p"}, "↑/ctrl+p", "previous"),
		Next:    bind([]string{"down", "ctrl+n"}, "↓/ctrl+n", "next"),
		Accept:  bind([]string{"tab"}, "tab", "accept"),
		Run:     bind([]string{"enter"}, "enter", "search"),
		Close:   bind([]string{"esc"}, "esc", "close list"),
		Results: bind([]string{"down"}, "↓", "results"),
		Quit:    bind([]string{"ctrl+c"}, "ctrl+c", "quit"),
	}
}

// ActionKeys act on the selected app, from the results and the detail view.
type ActionKeys struct {
	Logs         key.Binding
	Launch       key.Binding
	Stop         key.Binding
	Build        key.Binding
	BuildNoCache key.Binding
	Refresh      key.Binding
	Add          key.Binding
	Cancel       key.Binding
	Star         key.Binding
	Comment      key.Binding // the detail view only: write a comment
	Uncomment    key.Binding // the detail view only: choose a comment to remove (uncomment.go)
	SetEnv       key.Binding // the detail view only: set a variable (envbox.go)
	UnsetEnv     key.Binding // the detail view only: unset variables
	SetSecret    key.Binding // the detail view only: set a secret, its value masked
}

func newActionKeys() ActionKeys {
	return ActionKeys{
		Logs:         bind([]string{"l"}, "l", "build log"),
		Launch:       bind([]string{"o"}, "o", "launch & open"),
		Stop:         bind([]string{"s"}, "s", "stop"),
		Build:        bind([]string{"b"}, "b", "build"),
		BuildNoCache: bind([]string{"B"}, "B", "rebuild, no cache"),
		Refresh:      bind([]string{"r"}, "r", "refresh"),
		Add:          bind([]string{"a"}, "a", "add app"),
		Cancel:       bind([]string{"c"}, "c", "cancel build"),
		Star:         bind([]string{"*"}, "*", "star/unstar"),
		Comment:      bind([]string{"w"}, "w", "write a comment"),
		Uncomment:    bind([]string{"d"}, "d", "remove a comment"),
		SetEnv:       bind([]string{"e"}, "e", "set a variable"),
		UnsetEnv:     bind([]string{"x"}, "x", "unset variables"),
		SetSecret:    bind([]string{"S"}, "S", "set a secret"),
	}
}

// ListKeys move in the results. Printable characters are not among them:
// as in fzf, they go back to the query (the app actions are in the detail
// view).
type ListKeys struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Top, Bottom      key.Binding
	Open             key.Binding
	Search           key.Binding
	Help             key.Binding
	Quit             key.Binding
}

func newListKeys() ListKeys {
	return ListKeys{
		Up:       bind([]string{"up", "ctrl+p"}, "↑", "up"),
		Down:     bind([]string{"down", "ctrl+n"}, "↓", "down"),
		PageUp:   bind([]string{"pgup", "ctrl+u"}, "pgup", "page up"),
		PageDown: bind([]string{"pgdown", "ctrl+d"}, "pgdn", "page down"),
		Top:      bind([]string{"home"}, "home", "top"),
		Bottom:   bind([]string{"end"}, "end", "bottom"),
		Open:     bind([]string{"enter"}, "enter", "details & actions"),
		Search:   bind([]string{"esc"}, "type/esc", "edit the query"),
		Help:     bind([]string{"f1"}, "f1", "more keys"),
		Quit:     bind([]string{"ctrl+c"}, "ctrl+c", "quit"),
	}
}

// PagerKeys scroll the detail view and the build log.
type PagerKeys struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Top, Bottom      key.Binding
	Back             key.Binding
	Search           key.Binding
	Help             key.Binding
	Quit             key.Binding
}

func newPagerKeys() PagerKeys {
	return PagerKeys{
		Up:       bind([]string{"up", "k"}, "↑/k", "scroll up"),
		Down:     bind([]string{"down", "j"}, "↓/j", "scroll down"),
		PageUp:   bind([]string{"pgup", "ctrl+u"}, "pgup", "page up"),
		PageDown: bind([]string{"pgdown", "ctrl+d", " "}, "pgdn", "page down"),
		Top:      bind([]string{"home", "g"}, "g", "top"),
		Bottom:   bind([]string{"end", "G"}, "G", "bottom, follow"),
		Back:     bind([]string{"esc", "backspace", "h", "left"}, "esc", "back"),
		Search:   bind([]string{"/"}, "/", "search"),
		Help:     bind([]string{"?"}, "?", "more keys"),
		Quit:     bind([]string{"q", "ctrl+c"}, "q", "quit"),
	}
}

// FormKeys drive the add form.
type FormKeys struct {
	Next, Prev key.Binding
	Submit     key.Binding
	Cancel     key.Binding
	Quit       key.Binding
}

func newFormKeys() FormKeys {
	return FormKeys{
		Next:   bind([]string{"tab", "down"}, "tab", "next field"),
		Prev:   bind([]string{"shift+tab", "up"}, "shift+tab", "previous field"),
		Submit: bind([]string{"enter"}, "enter", "add"),
		Cancel: bind([]string{"esc"}, "esc", "cancel"),
		Quit:   bind([]string{"ctrl+c"}, "ctrl+c", "quit"),
	}
}

// OfflineKeys are the keys of the screen shown while the daemon is away.
type OfflineKeys struct {
	Retry key.Binding
	Quit  key.Binding
}

func newOfflineKeys() OfflineKeys {
	return OfflineKeys{
		Retry: bind([]string{"r", "enter"}, "r", "retry now"),
		// Not esc: it means "back" everywhere else, and a user who
		// presses it as the daemon goes away must not lose the TUI.
		Quit: bind([]string{"q", "ctrl+c"}, "q", "quit"),
	}
}

// keyMap adapts bindings to help.KeyMap.
type keyMap struct {
	short []key.Binding
	full  [][]key.Binding
}

func (k keyMap) ShortHelp() []key.Binding  { return k.short }
func (k keyMap) FullHelp() [][]key.Binding { return k.full }
