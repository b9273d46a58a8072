package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// configLines renders the app's configuration for the detail view: each
// declared variable with what sets it (a missing required one with the
// command that sets it), then the variables and secrets it does not
// declare. Nothing when the app declares and has none.
func (d *Detail) configLines(slug string) []string {
	c := d.config
	if c == nil || len(c.Declared)+len(c.Variables)+len(c.Secrets) == 0 {
		return nil
	}
	s := d.styles
	width := 0
	declared := map[string]bool{}
	for _, dc := range c.Declared {
		declared[dc.Name] = true
		width = max(width, len(dc.Name))
	}
	for _, v := range c.Variables {
		width = max(width, len(v.Name))
	}
	for _, v := range c.Secrets {
		width = max(width, len(v.Name))
	}
	out := []string{"", s.Heading.Render("Configuration")}
	row := func(name, kind, state string) {
		out = append(out, fmt.Sprintf("  %-*s  %-16s  %s", width, name, kind, state))
	}
	for _, dc := range c.Declared {
		kind := "optional"
		if dc.Required {
			kind = "required"
		}
		if dc.Secret {
			kind += " secret"
		}
		var state string
		switch {
		case dc.SetBy == "default":
			state = s.Subtle.Render("default")
		case dc.SetBy == "variable":
			state = "set (variable)" + valueOf(c, dc.Name)
		case dc.SetBy != "":
			state = "set (" + dc.SetBy + ")"
		case slices.Contains(c.Missing, dc.Name):
			how := "appstore env set " + slug + " " + dc.Name + "=… (e sets it)"
			if dc.Secret {
				how = "appstore secret set " + slug + " " + dc.Name + " (S sets it)"
			}
			state = s.Bad.Render("missing — " + how)
		default:
			state = s.Subtle.Render("not set")
		}
		row(dc.Name, kind, state)
	}
	for _, v := range c.Variables {
		if !declared[v.Name] {
			row(v.Name, "variable", "set"+valueOf(c, v.Name))
		}
	}
	for _, v := range c.Secrets {
		if !declared[v.Name] {
			row(v.Name, "secret", "set")
		}
	}
	for i, l := range out {
		out[i] = strings.TrimRight(l, " ")
	}
	return out
}

// maxShownValue is how much of a variable's value the detail view shows.
const maxShownValue = 40

// valueOf is " = value" for the variable name of c (variables are not
// secret: the CLI's env ls shows them too), on one line, made safe to
// print and cut to maxShownValue; "" when it is not a variable.
func valueOf(c *client.AppConfig, name string) string {
	for _, v := range c.Variables {
		if v.Name == name {
			return " = " + textutil.Truncate(textutil.CleanLine(v.Value), maxShownValue)
		}
	}
	return ""
}
