package tui

import (
	"context"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/client"
)

// SetEnv sets variables as the daemon does: what each declared variable is
// set by, and what is missing, follow.
func (f *fakeSource) SetEnv(ctx context.Context, slug string, vars map[string]string) (*client.AppConfig, error) {
	if err := f.called("SetEnv"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.envErr != nil {
		return nil, f.envErr
	}
	c := f.configFor(slug)
	for name, value := range vars {
		c.Variables = slices.DeleteFunc(c.Variables, func(v client.EnvVar) bool { return v.Name == name })
		c.Variables = append(c.Variables, client.EnvVar{Name: name, Value: value})
	}
	slices.SortFunc(c.Variables, func(a, b client.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	f.settle(c)
	cp := *c
	return &cp, nil
}

// UnsetEnv removes variables; the names that were not set are NotSet.
func (f *fakeSource) UnsetEnv(ctx context.Context, slug string, names []string) (*client.AppConfig, error) {
	if err := f.called("UnsetEnv"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.envErr != nil {
		return nil, f.envErr
	}
	c := f.configFor(slug)
	var notSet []string
	for _, name := range names {
		n := len(c.Variables)
		c.Variables = slices.DeleteFunc(c.Variables, func(v client.EnvVar) bool { return v.Name == name })
		if len(c.Variables) == n {
			notSet = append(notSet, name)
		}
	}
	f.settle(c)
	cp := *c
	cp.NotSet = notSet
	return &cp, nil
}

func (f *fakeSource) configFor(slug string) *client.AppConfig {
	if f.configs == nil {
		f.configs = map[string]*client.AppConfig{}
	}
	if f.configs[slug] == nil {
		f.configs[slug] = &client.AppConfig{Slug: slug}
	}
	return f.configs[slug]
}

// settle recomputes SetBy and Missing as the daemon does.
func (f *fakeSource) settle(c *client.AppConfig) {
	c.Missing = nil
	for i, dc := range c.Declared {
		switch {
		case slices.ContainsFunc(c.Variables, func(v client.EnvVar) bool { return v.Name == dc.Name }):
			c.Declared[i].SetBy = "variable"
		case slices.ContainsFunc(c.Secrets, func(v client.SecretInfo) bool { return v.Name == dc.Name }):
			c.Declared[i].SetBy = "secret"
		case dc.Default != "":
			c.Declared[i].SetBy = "default"
		default:
			c.Declared[i].SetBy = ""
			if dc.Required {
				c.Missing = append(c.Missing, dc.Name)
			}
		}
	}
	c.ConfigVersion++
}

// ragConfig is an app that needs a secret and a variable, has neither, and
// has one variable it does not declare.
func ragConfig() *client.AppConfig {
	c := &client.AppConfig{
		Slug: "dash",
		Declared: []client.DeclaredConfig{
			{DeclaredEnv: client.DeclaredEnv{Name: "OPENAI_API_KEY", Required: true, Secret: true, Source: "tags.yaml"}},
			{DeclaredEnv: client.DeclaredEnv{Name: "MODEL", Required: true, Source: "tags.yaml"}},
			{DeclaredEnv: client.DeclaredEnv{Name: "GREETING", Default: "hello", Source: "tags.yaml"}, SetBy: "default"},
		},
		Variables: []client.EnvVar{{Name: "EXTRA", Value: "1"}},
		Missing:   []string{"OPENAI_API_KEY", "MODEL"},
	}
	return c
}

// TestDetailSetsAndUnsetsVariables: on the app page, e opens a line
// prefilled with the first missing required variable; a bad name is
// refused before anything is sent, with the CLI's words, and the text
// stays; Enter sets it, the configuration shows it set and the status says
// what is still missing (the secret, whose value is never shown). x unsets
// a variable; a name that was not set is said so.
func TestDetailSetsAndUnsetsVariables(t *testing.T) {
	f := catalogSource()
	f.setConfig(ragConfig())
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 140, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("MODEL           required          missing — appstore env set dash MODEL=… (e sets it)",
		"OPENAI_API_KEY  required secret   missing — appstore secret set dash OPENAI_API_KEY")

	h.press("e")
	h.waitView("set a variable of dash", "MODEL=")
	// A bad name: refused here, with the rule, and nothing is sent.
	h.press("ctrl+a")
	h.typeText("2")
	h.press("enter")
	h.waitView("2MODEL=", `"2MODEL" is not a variable name`)
	if f.callCount("SetEnv") != 0 {
		t.Fatalf("a bad name was sent")
	}
	// Fixed: set.
	h.press("backspace", "end")
	h.typeText("gpt-4o-mini")
	h.press("enter")
	h.waitView("MODEL           required          set (variable) = gpt-4o-mini",
		"set MODEL on dash: applies from its next launch — still missing for a launch: OPENAI_API_KEY")
	if v := h.m.View(); strings.Contains(v, "set a variable of dash") {
		t.Errorf("the box is still open after the change:\n%s", v)
	}
	// A declared secret is not set as a variable.
	h.press("e")
	h.press("ctrl+u")
	h.typeText("OPENAI_API_KEY=sk-typed")
	h.press("enter")
	h.waitView("OPENAI_API_KEY is declared as a secret", "appstore secret set dash OPENAI_API_KEY")
	h.press("esc")

	// x unsets; a name that was not set is said so.
	h.press("x")
	h.waitView("unset variables of dash")
	h.typeText("EXTRA NOPE")
	h.press("enter")
	h.waitView("unset EXTRA, NOPE of dash: NOPE was not set")
	if v := h.m.View(); strings.Contains(v, "EXTRA           variable") {
		t.Errorf("EXTRA still listed after unset:\n%s", v)
	}
}

// TestDetailVariableRefusedKeepsTheText: the daemon refuses the change (a
// viewer): the status says why and the box keeps what was typed.
func TestDetailVariableRefusedKeepsTheText(t *testing.T) {
	f := catalogSource()
	f.setConfig(ragConfig())
	f.envErr = &client.APIError{StatusCode: 403, Code: "forbidden", Message: "viewers cannot change an app's variables: ask its owner or an admin"}
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 140, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("Configuration")
	h.press("e")
	h.typeText("x")
	h.press("enter")
	h.waitView("set MODEL on dash: viewers cannot change an app's variables", "MODEL=x")
}

// SetSecret stores a secret's name (the fake keeps no value: nothing could
// show it).
func (f *fakeSource) SetSecret(ctx context.Context, slug, name, value string) (*client.SecretInfo, error) {
	if err := f.called("SetSecret"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.envErr != nil {
		return nil, f.envErr
	}
	c := f.configFor(slug)
	if !slices.ContainsFunc(c.Secrets, func(s client.SecretInfo) bool { return s.Name == name }) {
		c.Secrets = append(c.Secrets, client.SecretInfo{Name: name})
	}
	f.secretValues = append(f.secretValues, value)
	f.settle(c)
	return &client.SecretInfo{Name: name}, nil
}

// TestDetailSetsASecretWithoutShowingIt: S asks for the secret's name
// (the missing required one), then its value, masked; a value too short
// to redact is refused with the CLI's rule before anything is sent; the
// value set reaches the source and appears nowhere on the screen.
func TestDetailSetsASecretWithoutShowingIt(t *testing.T) {
	f := catalogSource()
	f.setConfig(ragConfig())
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 140, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("OPENAI_API_KEY  required secret   missing — appstore secret set dash OPENAI_API_KEY (S sets it)")
	h.press("S")
	h.waitView("set a secret of dash: its name", "OPENAI_API_KEY")
	h.press("enter")
	h.waitView("the value of OPENAI_API_KEY (not shown", "type the value of OPENAI_API_KEY: it is not shown")
	const value = "sk-typed-in-the-tui-0123"
	h.typeText("abc")
	h.press("enter")
	h.waitView("shorter than 4 bytes")
	if f.callCount("SetSecret") != 0 {
		t.Fatal("a secret too short was sent")
	}
	h.press("ctrl+u")
	for i, r := range value {
		h.typeText(string(r))
		if v := h.m.View(); strings.Contains(v, value[:i+1]) && i >= 3 {
			t.Fatalf("the screen shows the secret being typed:\n%s", v)
		}
	}
	h.press("enter")
	h.waitView("OPENAI_API_KEY  required secret   set (secret)", "set the secret OPENAI_API_KEY of dash: applies from its next launch — still missing for a launch: MODEL")
	if v := h.m.View(); strings.Contains(v, value) || strings.Contains(v, "sk-typed") {
		t.Errorf("the screen shows the secret:\n%s", v)
	}
	f.mu.Lock()
	got := slices.Clone(f.secretValues)
	f.mu.Unlock()
	if len(got) != 1 || got[0] != value {
		t.Errorf("secrets sent: %d values, want the one typed", len(got))
	}
}
