package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// The detail view's variable box: e opens a line under the pager to set a
// variable of the app (NAME=value; it starts with the first required
// variable that is missing), x one to unset variables (NAME…), S one to
// set a secret: its name (the first required secret that is missing),
// then its value, which the line masks and nothing shows. The rules
// are the CLI's (`appstore env set|unset`): names and values are checked
// with catalog's rules before anything is sent, and the daemon's refusal
// (a viewer, an app of someone else) keeps the text in the box with the
// reason on the status line. A name the app declares as a secret is not
// set as a variable, whose value anyone can read: the box says to use S
// (or `appstore secret set`). Secrets' values are never shown.

// EnvBoxKeys drive the variable box.
type EnvBoxKeys struct {
	Send, Cancel key.Binding
}

func newEnvBoxKeys() EnvBoxKeys {
	return EnvBoxKeys{
		Send:   bind([]string{"enter"}, "enter", "apply"),
		Cancel: bind([]string{"esc"}, "esc", "cancel"),
	}
}

// envBox is the variable being set or unset.
type envBox struct {
	keys  EnvBoxKeys
	ti    textinput.Model
	open  bool
	unset bool // x: names to unset; else NAME=value to set
	// secret (S): the secret's name is asked first; once given it is
	// secretName and the line reads the value, masked.
	secret     bool
	secretName string
	busy       bool // sent, the answer not yet back
}

func newEnvBox() envBox {
	b := envBox{keys: newEnvBoxKeys(), ti: textinput.New()}
	b.ti.Prompt = "  "
	b.ti.CharLimit = catalog.MaxEnvNameLen + 1 + catalog.MaxEnvValueLen
	b.ti.Cursor.SetMode(cursor.CursorStatic)
	return b
}

// height is the rows the box takes under the pager: a rule and the line,
// none when closed.
func (b *envBox) height() int {
	if !b.open {
		return 0
	}
	return 2
}

// StartEnv opens the variable box on the app shown: to set a variable
// (prefilled with the first required, non-secret declared variable that
// nothing sets), or, with unset, to unset some.
func (d *Detail) StartEnv(unset bool) tea.Cmd {
	if d.compose.open {
		d.CloseComment()
	}
	b := &d.env
	b.open, b.busy, b.unset, b.secret, b.secretName = true, false, unset, false, ""
	b.ti.EchoMode = textinput.EchoNormal
	b.ti.Reset()
	if unset {
		b.ti.Placeholder = "NAME … (variables to unset)"
	} else {
		b.ti.Placeholder = "NAME=value"
		if name := d.firstMissingVariable(); name != "" {
			b.ti.SetValue(name + "=")
			b.ti.CursorEnd()
		}
	}
	d.SetSize(d.width, d.height)
	return b.ti.Focus()
}

// StartSecret opens the box to set a secret of the app shown: first its
// name, prefilled with the first required secret that nothing sets.
func (d *Detail) StartSecret() tea.Cmd {
	cmd := d.StartEnv(false)
	b := &d.env
	b.secret = true
	b.ti.Reset()
	b.ti.Placeholder = "NAME (of the secret)"
	if name := d.firstMissing(true); name != "" {
		b.ti.SetValue(name)
		b.ti.CursorEnd()
	}
	return cmd
}

// askSecretValue moves the secret box from the name to the value, which
// the line masks.
func (d *Detail) askSecretValue(name string) {
	b := &d.env
	b.secretName = name
	b.ti.Reset()
	b.ti.EchoMode = textinput.EchoPassword
	b.ti.EchoCharacter = '•'
	b.ti.Placeholder = "value of " + name + " (not shown)"
}

// firstMissingVariable is the first required declared variable, not a
// secret, that nothing sets.
func (d *Detail) firstMissingVariable() string { return d.firstMissing(false) }

// firstMissing is the first required declared name, a secret or not,
// that nothing sets.
func (d *Detail) firstMissing(secret bool) string {
	if d.config == nil {
		return ""
	}
	for _, dc := range d.config.Declared {
		if dc.Required && dc.Secret == secret && slices.Contains(d.config.Missing, dc.Name) {
			return dc.Name
		}
	}
	return ""
}

// EditingEnv reports whether the variable box has the keys.
func (d *Detail) EditingEnv() bool { return d.env.open }

// CloseEnv closes the box, dropping its text.
func (d *Detail) CloseEnv() {
	d.env.open, d.env.busy, d.env.secret, d.env.secretName = false, false, false, ""
	d.env.ti.Blur()
	d.env.ti.Reset()
	d.env.ti.EchoMode = textinput.EchoNormal
	d.SetSize(d.width, d.height)
}

// SetConfig shows the app's configuration as a change answered it.
func (d *Detail) SetConfig(slug string, c *client.AppConfig) {
	if slug != d.slug || c == nil {
		return
	}
	d.config = c
	d.render()
}

// envView is the box: a rule naming what it does and the keys, then the
// line.
func (d *Detail) envView() string {
	s := d.styles
	title := " set a variable of " + d.slug + " (from its next launch) · enter apply · esc cancel "
	switch {
	case d.env.unset:
		title = " unset variables of " + d.slug + " (from its next launch) · enter apply · esc cancel "
	case d.env.secret && d.env.secretName == "":
		title = " set a secret of " + d.slug + ": its name · enter next · esc cancel "
	case d.env.secret:
		title = " the value of " + d.env.secretName + " (not shown; from the next launch) · enter apply · esc cancel "
	}
	if d.env.busy {
		title = " applying… "
	}
	w := max(0, d.width)
	rule := "──" + title
	if n := w - len([]rune(rule)); n > 0 {
		rule += strings.Repeat("─", n)
	}
	d.env.ti.Width = max(10, w-3)
	return s.Subtle.Render(truncateRunes(rule, w)) + "\n" + d.env.ti.View()
}

// envHelp is the help bar while the box has the keys.
func (d *Detail) envHelp() []key.Binding {
	return []key.Binding{d.env.keys.Send, d.env.keys.Cancel}
}

// envMsg is the answer to a change sent from the box.
type envMsg struct {
	slug   string
	unset  bool
	secret bool
	names  []string
	config *client.AppConfig
	err    error
}

// parseEnvSet reads NAME=value with the CLI's rules (env set).
func parseEnvSet(text string, declared []client.DeclaredConfig, slug string) (string, string, error) {
	name, value, ok := strings.Cut(text, "=")
	name = strings.TrimSpace(name)
	if !ok {
		return "", "", fmt.Errorf("give NAME=value (an empty value is NAME=), or esc to cancel")
	}
	if err := catalog.ValidateEnvName(name); err != nil {
		return "", "", err
	}
	if err := catalog.ValidateEnvValue(name, value); err != nil {
		return "", "", err
	}
	for _, dc := range declared {
		if dc.Name == name && dc.Secret {
			return "", "", fmt.Errorf("%s is declared as a secret: a variable's value is shown to anyone who reads the catalog; set it with S (or `appstore secret set %s %s`), which does not show it", name, slug, name)
		}
	}
	return name, value, nil
}

// parseEnvUnset reads the names to unset (env unset).
func parseEnvUnset(text string) ([]string, error) {
	names := strings.Fields(text)
	if len(names) == 0 {
		return nil, fmt.Errorf("give the names of the variables to unset, or esc to cancel")
	}
	for _, n := range names {
		if err := catalog.ValidateEnvName(n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// envKey routes a key while the variable box is open: Enter checks and
// sends what is typed, Esc closes the box, the rest is typing.
func (m *Model) envKey(k tea.KeyMsg) tea.Cmd {
	d := &m.detail
	switch {
	case key.Matches(k, d.env.keys.Cancel):
		d.CloseEnv()
		m.layout()
		return nil
	case key.Matches(k, d.env.keys.Send):
		if d.env.busy {
			return nil
		}
		ctx, src, slug, text := m.ctx, m.src, d.Slug(), d.env.ti.Value()
		if d.env.secret {
			return m.secretSend(text)
		}
		if d.env.unset {
			names, err := parseEnvUnset(text)
			if err != nil {
				m.setStatus(statusErr, err.Error())
				return nil
			}
			d.env.busy = true
			return func() tea.Msg {
				c, err := src.UnsetEnv(ctx, slug, names)
				return envMsg{slug: slug, unset: true, names: names, config: c, err: err}
			}
		}
		var declared []client.DeclaredConfig
		if d.config != nil {
			declared = d.config.Declared
		}
		name, value, err := parseEnvSet(text, declared, slug)
		if err != nil {
			m.setStatus(statusErr, err.Error())
			return nil
		}
		d.env.busy = true
		return func() tea.Msg {
			c, err := src.SetEnv(ctx, slug, map[string]string{name: value})
			return envMsg{slug: slug, names: []string{name}, config: c, err: err}
		}
	}
	var cmd tea.Cmd
	d.env.ti, cmd = d.env.ti.Update(k)
	return cmd
}

// secretSend takes the secret's name, then its value, with the CLI's
// rules (secret set); the value is sent, then the configuration read
// again, and is never shown or quoted.
func (m *Model) secretSend(text string) tea.Cmd {
	d := &m.detail
	if d.env.secretName == "" {
		name := strings.TrimSpace(text)
		if err := catalog.ValidateEnvName(name); err != nil {
			m.setStatus(statusErr, err.Error())
			return nil
		}
		d.askSecretValue(name)
		m.setStatus(statusInfo, "type the value of "+name+": it is not shown")
		return nil
	}
	name, value := d.env.secretName, text
	if err := catalog.ValidateSecretValue(name, []byte(value)); err != nil {
		m.setStatus(statusErr, err.Error())
		return nil
	}
	d.env.busy = true
	ctx, src, slug := m.ctx, m.src, d.Slug()
	return func() tea.Msg {
		if _, err := src.SetSecret(ctx, slug, name, value); err != nil {
			return envMsg{slug: slug, secret: true, names: []string{name}, err: err}
		}
		// Set: a failed read of the configuration only leaves the page
		// as it was until the next read.
		c, _ := src.AppConfig(ctx, slug)
		return envMsg{slug: slug, secret: true, names: []string{name}, config: c}
	}
}

// onEnv applies the answer: the box closes and the configuration shows
// what changed, with what is still missing and what applies it to a
// running launch; or the box keeps the text and the status says why.
func (m *Model) onEnv(msg envMsg) tea.Cmd {
	d := &m.detail
	what := "set " + strings.Join(msg.names, ", ") + " on " + msg.slug
	switch {
	case msg.unset:
		what = "unset " + strings.Join(msg.names, ", ") + " of " + msg.slug
	case msg.secret:
		what = "set the secret " + strings.Join(msg.names, ", ") + " of " + msg.slug
	}
	if msg.err != nil {
		d.env.busy = false
		return m.failed(msg.err, what)
	}
	if d.EditingEnv() && d.Slug() == msg.slug {
		d.CloseEnv()
		m.layout()
	}
	d.SetConfig(msg.slug, msg.config)
	text := what + ": applies from its next launch"
	cfg := msg.config
	if cfg == nil {
		cfg = &client.AppConfig{}
	}
	if len(cfg.NotSet) > 0 {
		text = fmt.Sprintf("%s: %s was not set", what, strings.Join(cfg.NotSet, ", "))
	}
	if l := m.launches[msg.slug]; l != nil && !l.Status.Terminal() {
		text += "; the running launch keeps its configuration until `appstore launch " + msg.slug + " --restart`"
	}
	if len(cfg.Missing) > 0 {
		text += " — still missing for a launch: " + strings.Join(cfg.Missing, ", ")
	}
	m.setStatus(statusOK, text)
	return nil
}

// SetEnv and UnsetEnv change an app's variables (Source).
func (s ClientSource) SetEnv(ctx context.Context, slug string, vars map[string]string) (*client.AppConfig, error) {
	return s.C.SetEnv(ctx, slug, vars)
}

func (s ClientSource) SetSecret(ctx context.Context, slug, name, value string) (*client.SecretInfo, error) {
	return s.C.SetSecret(ctx, slug, name, value)
}

func (s ClientSource) UnsetEnv(ctx context.Context, slug string, names []string) (*client.AppConfig, error) {
	return s.C.UnsetEnv(ctx, slug, names)
}
